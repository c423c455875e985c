package io.streamdetour.config;

import io.netty.util.NetUtil;
import io.streamdetour.bus.SessionOptions;
import io.streamdetour.codec.Action;
import io.vertx.core.json.JsonObject;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The whole server configuration, validated and typed. Defaults live in one place only, the
 * embedded {@code conf/stream-detour.yaml}; this class states the ranges each key may take.
 */
public record ServerConfig(
    Quic quic,
    Tls tls,
    Header header,
    Decision decision,
    Policy policy,
    Pairing pairing,
    Relay relay,
    Shutdown shutdown,
    Reload reload,
    Admin admin,
    Audit audit,
    Capture capture,
    Cluster cluster,
    Limits limits,
    Plugins plugins,
    JsonObject source) {

  /**
   * The QUIC listener, the transport limits a peer gets, and further listeners ({@code listeners})
   * that share those limits, each on an edge of its own choice.
   *
   * @param sockets UDP sockets on the port ({@code SO_REUSEPORT}), each with an event-loop thread:
   *     the Netty edge only; the Kwik edge has one
   * @param serverId the node's id (1 to 255) in octet 1 of every connection id the Netty edge
   *     issues, for a balancer that routes by connection id (QUIC-LB); 0 for none
   * @param qlogDir where the Netty edge writes a qlog trace of each connection; empty for none
   * @param udpBufferBytes the receive and send buffer asked for each UDP socket (the kernel caps
   *     it at {@code net.core.rmem_max} / {@code wmem_max})
   * @param maxHandshakeRate datagrams that would start a connection each listener takes in per
   *     second (a burst of as many); the rest are dropped before the QUIC library keeps anything
   */
  public record Quic(
      Edge edge,
      String host,
      int port,
      List<String> alpn,
      int sockets,
      Duration idleTimeout,
      int maxConnections,
      int maxStreamsPerConnection,
      long streamWindow,
      long connectionWindow,
      int serverId,
      String qlogDir,
      int udpBufferBytes,
      int maxHandshakeRate,
      List<Listener> listeners) {

    public Quic {
      alpn = List.copyOf(alpn);
      listeners = List.copyOf(listeners);
    }

    /** Every listener, this section's own first, each with the shared limits and no further listeners. */
    public List<Quic> all() {
      List<Quic> all = new ArrayList<>();
      all.add(listeners.isEmpty() ? this : with(new Listener(edge, host, port, alpn, sockets)));
      listeners.forEach(l -> all.add(with(l)));
      return all;
    }

    private Quic with(Listener l) {
      return new Quic(l.edge(), l.host(), l.port(), l.alpn(), l.sockets(), idleTimeout, maxConnections,
          maxStreamsPerConnection, streamWindow, connectionWindow, serverId, qlogDir, udpBufferBytes, maxHandshakeRate,
          List.of());
    }
  }

  /**
   * Which QUIC stack carries a listener: Kwik accepts g3proxy's ALPN-less handshake; Netty's QUIC
   * codec (quiche and BoringSSL) is faster but serves only clients that offer ALPN.
   */
  public enum Edge {
    KWIK, NETTY;

    public String configName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** One more QUIC listener beside {@code quic.host}:{@code quic.port}. */
  public record Listener(Edge edge, String host, int port, List<String> alpn, int sockets) {

    public Listener {
      alpn = List.copyOf(alpn);
    }
  }

  /** Empty certificate and key files mean: generate a self-signed certificate at start. */
  public record Tls(
      String certificate,
      String privateKey,
      String generatedDir,
      List<String> serverNames) {

    public boolean selfSigned() {
      return certificate.isEmpty();
    }
  }

  /** Limits on what a peer may send before the server has decided anything. */
  public record Header(int maxBytes, int maxPayloadBytes, Duration timeout) {}

  public record Decision(Duration timeout, Action fallback, int instances) {}

  /**
   * Ordered rules, first match wins, else {@code defaultAction}.
   *
   * @param userGroups the members of each group the rules name ({@code policy.user-groups} is
   *     read by the names the rules use, so a group no rule names is not kept)
   */
  public record Policy(Action defaultAction, Map<String, List<String>> userGroups, List<Rule> rules) {

    public Policy {
      userGroups = Map.copyOf(userGroups);
      rules = List.copyOf(rules);
    }
  }

  /** {@code options} is {@link SessionOptions#NONE} unless the rule, a continue rule, sets some. */
  public record Rule(String name, Action action, Match match, SessionOptions options) {}

  /**
   * What a rule compares. Each non-empty list is one matcher, which matches when any of its values
   * does; a rule matches when all its matchers do. Host names, websocket origins, hosts and
   * subprotocols are compared case-insensitively, so they are held lower-cased.
   *
   * @param userAbsent null when left out; true: only sessions without a username; false: only
   *     sessions with one
   */
  public record Match(
      List<String> protocols,
      List<String> hosts,
      List<String> hostSuffixes,
      List<String> hostGlobs,
      List<String> hostRegexes,
      List<PortRange> ports,
      List<Cidr> upstreamCidrs,
      List<Cidr> clientCidrs,
      List<String> users,
      List<String> userRegexes,
      List<String> userGroups,
      Boolean userAbsent,
      List<String> webSocketResources,
      List<String> webSocketOrigins,
      List<String> webSocketHosts,
      List<String> webSocketSubprotocols) {

    public Match {
      protocols = List.copyOf(protocols);
      hosts = hosts.stream().map(Match::hostName).toList();
      // ".example.com" says the same as "example.com": the suffix is matched on a label boundary.
      hostSuffixes = hostSuffixes.stream().map(Match::hostName)
          .map(s -> s.startsWith(".") ? s.substring(1) : s).toList();
      hostGlobs = lowerCase(hostGlobs);
      hostRegexes = List.copyOf(hostRegexes);
      ports = List.copyOf(ports);
      upstreamCidrs = List.copyOf(upstreamCidrs);
      clientCidrs = List.copyOf(clientCidrs);
      users = List.copyOf(users);
      userRegexes = List.copyOf(userRegexes);
      userGroups = List.copyOf(userGroups);
      webSocketResources = List.copyOf(webSocketResources);
      webSocketOrigins = lowerCase(webSocketOrigins);
      webSocketHosts = lowerCase(webSocketHosts);
      webSocketSubprotocols = lowerCase(webSocketSubprotocols);
    }

    /** Lower-cased, without the trailing dot of a fully qualified name ("example.com."). */
    public static String hostName(String host) {
      String lower = host.toLowerCase(Locale.ROOT);
      return lower.endsWith(".") ? lower.substring(0, lower.length() - 1) : lower;
    }

    private static List<String> lowerCase(List<String> values) {
      return values.stream().map(v -> v.toLowerCase(Locale.ROOT)).toList();
    }
  }

  /** Upstream ports {@code first} to {@code last}, both included. */
  public record PortRange(int first, int last) {}

  /** An address block; host bits after {@code prefixLength} are zero. */
  public record Cidr(InetAddress network, int prefixLength) {

    @Override
    public String toString() {
      return network.getHostAddress() + "/" + prefixLength;
    }
  }

  /**
   * @param local whether this node runs a pairing instance; a node without one pairs through
   *     another node's (clustered only)
   */
  public record Pairing(Duration timeout, boolean local) {}

  public record Relay(int bufferBytes, Duration idleTimeout, List<String> inspectors) {}

  public record Shutdown(Duration grace) {}

  /** How often the configuration file is checked for changes; 0 turns live reload off. */
  public record Reload(Duration scanPeriod) {}

  /**
   * The admin HTTP server (health, metrics, sessions, config).
   *
   * @param token when not empty, every request needs {@code Authorization: Bearer <token>}
   */
  public record Admin(boolean enabled, String host, int port, String token) {

    @Override
    public String toString() {
      return "Admin[enabled=" + enabled + ", host=" + host + ", port=" + port + ", token=" + (token.isEmpty() ? "" : "***") + "]";
    }
  }

  /**
   * The per-session JSON lines: to a rolling file, or with an empty {@code file} to the logger
   * {@code stream-detour.sessions}.
   */
  public record Audit(String file, long maxFileBytes, int maxHistory, long totalBytesCap) {}

  /** Where captured content goes, and how much of it may pile up. */
  public record Capture(String dir, long maxSessionBytes, long maxTotalBytes) {}

  /**
   * Clustered mode (Hazelcast through vertx-hazelcast). {@code host}, {@code port} and
   * {@code members}, when set, replace the Hazelcast file's interface, port and TCP-IP member
   * list, so that nodes can share one file.
   *
   * @param hazelcastConfig the Hazelcast member configuration (YAML or XML); empty: the embedded
   *     copy of {@code cluster/hazelcast.yaml}
   * @param minSize members this node must see once joined, else it gives up after
   *     {@code joinTimeout}
   * @param eventBusPort TCP port of the clustered event bus (0: any free port)
   * @param requestTimeout how long a cluster-wide admin request waits for each node
   */
  public record Cluster(boolean enabled, String hazelcastConfig, String host, int port, List<String> members,
      int minSize, Duration joinTimeout, int eventBusPort, Duration requestTimeout) {

    public Cluster {
      members = List.copyOf(members);
    }
  }

  /**
   * Caps on concurrent continued sessions, counted across the cluster (0: no cap). A session
   * over a cap gets {@code action} instead of continue.
   */
  public record Limits(int perUser, int perUpstream, Action action) {

    public boolean any() {
      return perUser > 0 || perUpstream > 0;
    }
  }

  /**
   * Jars that extend the server without rebuilding it ({@code io.streamdetour.plugins}).
   *
   * @param dir every {@code *.jar} in it is loaded, each in a class loader of its own; empty: none
   * @param required true: a plugin that fails to load or deploy stops the start; false: it is
   *     logged and the server runs without it
   */
  public record Plugins(String dir, boolean required, List<PluginVerticle> verticles) {

    public Plugins {
      verticles = List.copyOf(verticles);
    }
  }

  /**
   * A verticle class of a plugin jar, deployed like any Vert.x verticle.
   *
   * @param threading {@code event-loop}, {@code worker} or {@code virtual-thread} (Vert.x's
   *     {@code ThreadingModel})
   * @param config what the verticle's {@code config()} returns
   */
  public record PluginVerticle(String className, int instances, String threading, JsonObject config) {}

  private static final Duration MAX = Duration.ofDays(1);
  private static final long TIB = 1L << 40;

  /** Validates the whole tree and reports every problem at once, each with its key. */
  public static ServerConfig from(JsonObject json) {
    ConfigReader root = new ConfigReader(json);
    ServerConfig config = new ServerConfig(
        quic(root.section("quic")),
        tls(root.section("tls")),
        header(root.section("header")),
        decision(root.section("decision")),
        policy(root.section("policy")),
        section(root, "pairing", r -> new Pairing(r.duration("timeout", Duration.ofMillis(10), MAX), r.bool("local"))),
        relay(root.section("relay")),
        new Shutdown(section(root, "shutdown", r -> r.duration("grace", Duration.ZERO, MAX))),
        new Reload(section(root, "reload", r -> r.duration("scan-period", Duration.ZERO, Duration.ofHours(1)))),
        admin(root.section("admin")),
        section(root, "audit", r -> new Audit(r.optionalString("file"), r.byteSize("max-file-size", 1024, TIB),
            r.intValue("max-history", 1, 10_000), r.byteSize("total-size-cap", 1024, 1024 * TIB))),
        section(root, "capture", r -> new Capture(r.string("dir"), r.byteSize("max-session-bytes", 0, TIB),
            r.byteSize("max-total-bytes", 0, 1024 * TIB))),
        cluster(root.section("cluster")),
        section(root, "limits", r -> new Limits(r.intValue("per-user", 0, 100_000_000),
            r.intValue("per-upstream", 0, 100_000_000), limitAction(r))),
        plugins(root.section("plugins")),
        json.copy());
    if (!config.cluster().enabled() && !config.pairing().local()) {
      root.problem("pairing.local", "false needs cluster.enabled: a single node must run its own pairing");
    }
    root.rejectUnknownKeys();
    if (!root.problems().isEmpty()) {
      throw new ConfigException(root.problems());
    }
    return config;
  }

  private static <T> T section(ConfigReader root, String name, java.util.function.Function<ConfigReader, T> reader) {
    ConfigReader section = root.section(name);
    T value = reader.apply(section);
    section.rejectUnknownKeys();
    return value;
  }

  private static final int MAX_SOCKETS = 256;

  private static Quic quic(ConfigReader r) {
    Listener main = listener(r, null);
    Quic quic = new Quic(
        main.edge(),
        main.host(),
        main.port(),
        main.alpn(),
        main.sockets(),
        r.duration("idle-timeout", Duration.ofSeconds(1), MAX),
        r.intValue("max-connections", 1, 1_000_000),
        // g3proxy needs twice its reuse limit (16) of concurrent bidirectional streams.
        r.intValue("max-streams-per-connection", 32, 65_535),
        r.longValue("stream-window", 16 * 1024, 1L << 30),
        r.longValue("connection-window", 64 * 1024, 1L << 32),
        r.intValue("server-id", 0, 255),
        r.string("qlog-dir"),
        (int) r.byteSize("udp-buffer-bytes", 64 * 1024, 1 << 30),
        r.intValue("max-handshake-rate", 1, 1_000_000),
        r.objectList("listeners", item -> listener(item, main.host())));
    List<Listener> all = new ArrayList<>(List.of(main));
    all.addAll(quic.listeners());
    for (int i = 1; i < all.size(); i++) {
      for (int j = 0; j < i; j++) {
        if (sameAddress(all.get(i), all.get(j))) {
          r.problem("listeners[" + (i - 1) + "].port", "udp " + all.get(i).host() + ":" + all.get(i).port()
              + " is taken by " + (j == 0 ? "quic.host/quic.port" : "quic.listeners[" + (j - 1) + "]"));
        }
      }
    }
    if (!quic.qlogDir().isEmpty() && all.stream().noneMatch(l -> l.edge() == Edge.NETTY)) {
      r.problem("qlog-dir", "only a netty listener writes qlog, and there is none");
    }
    r.rejectUnknownKeys();
    return quic;
  }

  /**
   * A listener's own keys: {@code edge}, {@code host}, {@code port}, {@code alpn}, {@code sockets}.
   *
   * @param defaultHost null for {@code quic} itself, where every key is required; an item of
   *     {@code quic.listeners} needs only {@code edge} and {@code port}
   */
  private static Listener listener(ConfigReader r, String defaultHost) {
    boolean item = defaultHost != null;
    String edgeName = r.string("edge");
    Edge edge = switch (edgeName) {
      case "kwik" -> Edge.KWIK;
      case "netty" -> Edge.NETTY;
      default -> {
        if (!edgeName.isEmpty()) {
          r.problem("edge", "must be kwik or netty, got '" + edgeName + "'");
        }
        yield Edge.KWIK;
      }
    };
    String host = item && !isSet(r, "host") ? defaultHost : r.string("host");
    int port = r.intValue("port", 0, 65535);
    List<String> alpn = r.stringList("alpn");
    int sockets = item && !isSet(r, "sockets") ? 1 : r.intValue("sockets", 1, MAX_SOCKETS);
    for (String id : alpn) {
      if (id.isEmpty() || id.length() > 255) {
        r.problem("alpn", "protocol ids must be 1 to 255 characters, got '" + id + "'");
      }
    }
    if (edge == Edge.NETTY && alpn.isEmpty()) {
      r.problem("alpn", "the netty edge needs at least one ALPN id: BoringSSL refuses QUIC clients that offer"
          + " none (g3proxy offers none: serve it on a kwik listener)");
    }
    if (edge == Edge.KWIK && sockets != 1) {
      r.problem("sockets", "the kwik edge has one socket; more sockets need edge: netty");
    }
    return new Listener(edge, host, port, alpn, sockets);
  }

  /** Same port (not 0: any free one) on the same address, or on any address and a wildcard. */
  private static boolean sameAddress(Listener a, Listener b) {
    return a.port() != 0 && a.port() == b.port()
        && (a.host().equals(b.host()) || isWildcard(a.host()) || isWildcard(b.host()));
  }

  private static boolean isWildcard(String host) {
    return host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]");
  }

  private static Cluster cluster(ConfigReader r) {
    Cluster cluster = new Cluster(
        r.bool("enabled"),
        r.optionalString("hazelcast-config"),
        r.optionalString("host"),
        r.intValue("port", 0, 65535),
        r.stringList("members"),
        r.intValue("min-size", 1, 1000),
        r.duration("join-timeout", Duration.ofMillis(100), Duration.ofHours(1)),
        r.intValue("event-bus-port", 0, 65535),
        r.duration("request-timeout", Duration.ofMillis(10), Duration.ofMinutes(1)));
    for (String member : cluster.members()) {
      if (!member.matches("[A-Za-z0-9.:\\[\\]_-]+")) {
        r.problem("members", "'" + member + "' is not host, host:port or [ipv6]:port");
      }
    }
    if (!cluster.host().isEmpty() && NetUtil.createByteArrayFromIpAddressString(cluster.host()) == null) {
      r.problem("host", "must be an IP address (the interface Hazelcast and the event bus bind), got '"
          + cluster.host() + "'");
    }
    r.rejectUnknownKeys();
    return cluster;
  }

  /** Over a cap a session is blocked or bypassed; continue would be no cap at all. */
  private static Action limitAction(ConfigReader r) {
    Action action = action(r, "action");
    if (action == Action.CONTINUE) {
      r.problem("action", "must be block or bypass");
    }
    return action;
  }

  private static Admin admin(ConfigReader r) {
    Admin admin = new Admin(r.bool("enabled"), r.string("host"), r.intValue("port", 0, 65535),
        r.optionalString("token"));
    if (!admin.token().isEmpty() && admin.token().length() < 16) {
      r.problem("token", "must be at least 16 characters (or empty for no token)");
    }
    r.rejectUnknownKeys();
    return admin;
  }

  private static Tls tls(ConfigReader r) {
    Tls tls = new Tls(
        r.optionalString("certificate"),
        r.optionalString("private-key"),
        r.string("generated-dir"),
        r.stringList("server-names"));
    if (tls.certificate().isEmpty() != tls.privateKey().isEmpty()) {
      r.problem("private-key", "certificate and private-key must be set together");
    }
    r.rejectUnknownKeys();
    return tls;
  }

  private static Header header(ConfigReader r) {
    Header header = new Header(
        r.intValue("max-bytes", 16 + 12, 65_535 + 16),
        r.intValue("max-payload-bytes", 0, 16 * 1024 * 1024),
        r.duration("timeout", Duration.ofMillis(10), MAX));
    r.rejectUnknownKeys();
    return header;
  }

  private static Decision decision(ConfigReader r) {
    Decision decision = new Decision(
        r.duration("timeout", Duration.ofMillis(1), Duration.ofSeconds(59)),
        action(r, "fallback"),
        r.intValue("instances", 1, 64));
    r.rejectUnknownKeys();
    return decision;
  }

  private static Policy policy(ConfigReader r) {
    Action defaultAction = action(r, "default");
    ConfigReader groups = r.section("user-groups");
    Map<String, List<String>> groupsNamed = new LinkedHashMap<>();
    List<Rule> rules = r.objectList("rules", rule -> rule(rule, groups, groupsNamed));
    r.rejectUnknownKeys();
    return new Policy(defaultAction, groupsNamed, rules);
  }

  private static Rule rule(ConfigReader r, ConfigReader groups, Map<String, List<String>> groupsNamed) {
    String name = r.string("name");
    Action action = action(r, "action");
    Match match = match(r.section("match"), groups, groupsNamed);
    SessionOptions options = SessionOptions.NONE;
    if (isSet(r, "options")) {
      if (action == Action.CONTINUE) {
        options = options(r.section("options"));
      } else {
        r.problem("options", "only a continue rule takes options, this rule's action is "
            + action.name().toLowerCase(Locale.ROOT));
      }
    }
    return new Rule(name, action, match, options);
  }

  private static Match match(ConfigReader r, ConfigReader groups, Map<String, List<String>> groupsNamed) {
    Match match = new Match(
        r.stringList("protocol"),
        r.stringList("host"),
        r.stringList("host-suffix"),
        each(r, "host-glob", ServerConfig::hostGlob),
        each(r, "host-regex", ServerConfig::regex),
        each(r, "port", ServerConfig::portRange),
        each(r, "upstream-cidr", ServerConfig::cidr),
        each(r, "client-cidr", ServerConfig::cidr),
        r.stringList("user"),
        each(r, "user-regex", ServerConfig::regex),
        r.stringList("user-group"),
        isSet(r, "user-absent") ? r.bool("user-absent") : null,
        r.stringList("ws-resource"),
        r.stringList("ws-origin"),
        r.stringList("ws-host"),
        r.stringList("ws-subprotocol"));
    for (String group : match.userGroups()) {
      if (isSet(groups, group)) {
        groupsNamed.computeIfAbsent(group, groups::stringList);
      } else {
        r.problem("user-group", "no group '" + group + "' in policy.user-groups");
      }
    }
    boolean namesUsers = !match.users().isEmpty() || !match.userRegexes().isEmpty() || !match.userGroups().isEmpty();
    if (Boolean.TRUE.equals(match.userAbsent()) && namesUsers) {
      r.problem("user-absent", "true never matches together with user, user-regex or user-group");
    }
    r.rejectUnknownKeys();
    return match;
  }

  private static SessionOptions options(ConfigReader r) {
    SessionOptions options = new SessionOptions(
        r.stringList("inspectors"),
        isSet(r, "capture") && r.bool("capture"),
        isSet(r, "byte-cap") ? r.byteSize("byte-cap", 0, Long.MAX_VALUE) : SessionOptions.NONE.byteCap());
    r.rejectUnknownKeys();
    return options;
  }

  /** Whether an optional key is there: ConfigReader reads the value as text, empty when absent. */
  private static boolean isSet(ConfigReader r, String name) {
    return !r.optionalString(name).isEmpty();
  }

  /** Each value of a list through {@code parse}; each value it rejects is a problem under the key. */
  private static <T> List<T> each(ConfigReader r, String name, Function<String, T> parse) {
    List<T> values = new ArrayList<>();
    for (String text : r.stringList(name)) {
      try {
        values.add(parse.apply(text));
      } catch (IllegalArgumentException e) {
        r.problem(name, e.getMessage());
      }
    }
    return values;
  }

  private static final Pattern HOST_GLOB = Pattern.compile("(?!.*\\*\\*\\*)[a-z0-9_*-]+(\\.[a-z0-9_*-]+)*");

  private static String hostGlob(String text) {
    if (!HOST_GLOB.matcher(text.toLowerCase(Locale.ROOT)).matches()) {
      throw new IllegalArgumentException("'" + text + "' is not a host glob: labels of letters, digits, '-', '_'"
          + " and '*' (within a label) or '**' (across labels), such as *.cdn.example.com");
    }
    return text;
  }

  private static String regex(String text) {
    try {
      Pattern.compile(text);
      return text;
    } catch (PatternSyntaxException e) {
      throw new IllegalArgumentException("invalid regex '" + text + "': " + e.getDescription());
    }
  }

  private static final Pattern PORT_RANGE = Pattern.compile("(\\d{1,5})(?:\\s*-\\s*(\\d{1,5}))?");

  private static PortRange portRange(String text) {
    Matcher m = PORT_RANGE.matcher(text.trim());
    if (m.matches()) {
      int first = Integer.parseInt(m.group(1));
      int last = m.group(2) == null ? first : Integer.parseInt(m.group(2));
      if (first <= last && last <= 65535) {
        return new PortRange(first, last);
      }
    }
    throw new IllegalArgumentException("'" + text + "' is not a port or range");
  }

  /** An IPv4 or IPv6 block such as 10.0.0.0/8 or 2001:db8::/32; a bare address is a block of one. */
  private static Cidr cidr(String text) {
    String trimmed = text.trim();
    int slash = trimmed.indexOf('/');
    // Netty parses literals only; InetAddress.getByName would resolve anything else through DNS.
    byte[] address = NetUtil.createByteArrayFromIpAddressString(slash < 0 ? trimmed : trimmed.substring(0, slash));
    if (address == null) {
      throw notCidr(text, "no IPv4 or IPv6 address before the '/'");
    }
    int bits = address.length * 8;
    String prefix = slash < 0 ? String.valueOf(bits) : trimmed.substring(slash + 1);
    if (!prefix.matches("\\d{1,3}") || Integer.parseInt(prefix) > bits) {
      throw notCidr(text, "the prefix length must be 0 to " + bits);
    }
    int prefixLength = Integer.parseInt(prefix);
    for (int bit = prefixLength; bit < bits; bit++) {
      if ((address[bit / 8] & (0x80 >>> (bit % 8))) != 0) {
        throw notCidr(text, "address bits are set after the first " + prefixLength);
      }
    }
    try {
      InetAddress network = InetAddress.getByAddress(address);
      if (network.getAddress().length != address.length) {
        throw notCidr(text, "an IPv4-mapped block is written as IPv4, such as 10.0.0.0/8");
      }
      return new Cidr(network, prefixLength);
    } catch (UnknownHostException e) {
      throw new IllegalStateException("a 4 or 16 byte address was refused", e);
    }
  }

  private static IllegalArgumentException notCidr(String text, String why) {
    return new IllegalArgumentException("'" + text + "' is not a CIDR block: " + why);
  }

  private static Relay relay(ConfigReader r) {
    Relay relay = new Relay(
        r.intValue("buffer-bytes", 1024, 16 * 1024 * 1024),
        r.duration("idle-timeout", Duration.ofMillis(100), MAX),
        r.stringList("inspectors"));
    r.rejectUnknownKeys();
    return relay;
  }

  private static final Pattern CLASS_NAME =
      Pattern.compile("\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*(\\.\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*)*");
  private static final List<String> THREADING = List.of("event-loop", "worker", "virtual-thread");

  private static Plugins plugins(ConfigReader r) {
    Plugins plugins = new Plugins(
        r.optionalString("dir"),
        r.bool("required"),
        r.objectList("verticles", v -> {
          PluginVerticle verticle = new PluginVerticle(
              v.string("class"),
              isSet(v, "instances") ? v.intValue("instances", 1, 1024) : 1,
              isSet(v, "threading") ? v.string("threading") : "event-loop",
              v.object("config"));
          if (!verticle.className().isEmpty() && !CLASS_NAME.matcher(verticle.className()).matches()) {
            v.problem("class", "must be a fully qualified class name, got '" + verticle.className() + "'");
          }
          if (!THREADING.contains(verticle.threading())) {
            v.problem("threading", "must be event-loop, worker or virtual-thread, got '" + verticle.threading() + "'");
          }
          return verticle;
        }));
    if (plugins.dir().isEmpty() && !plugins.verticles().isEmpty()) {
      r.problem("verticles", "name classes of plugin jars: set plugins.dir too");
    }
    r.rejectUnknownKeys();
    return plugins;
  }

  private static Action action(ConfigReader r, String name) {
    String text = r.string(name);
    try {
      return Action.parse(text);
    } catch (IllegalArgumentException e) {
      if (!text.isEmpty()) {
        r.problem(name, "must be continue, bypass or block, got '" + text + "'");
      }
      return Action.BLOCK;
    }
  }
}
