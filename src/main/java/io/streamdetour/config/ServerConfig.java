package io.streamdetour.config;

import io.streamdetour.codec.Action;
import io.vertx.core.json.JsonObject;

import java.time.Duration;
import java.util.List;

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
    Reload reload) {

  /** The QUIC listener and the transport limits a peer gets. */
  public record Quic(
      String host,
      int port,
      List<String> alpn,
      Duration idleTimeout,
      int maxConnections,
      int maxStreamsPerConnection,
      long streamWindow,
      long connectionWindow) {}

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

  /** Ordered rules, first match wins. Matchers left empty match anything. */
  public record Policy(Action defaultAction, List<Rule> rules) {}

  public record Rule(
      String name,
      Action action,
      List<String> protocols,
      List<String> hosts,
      List<String> hostSuffixes,
      List<Integer> ports,
      List<String> users,
      List<String> webSocketResources) {}

  public record Pairing(Duration timeout) {}

  public record Relay(int bufferBytes, Duration idleTimeout, List<String> inspectors) {}

  public record Shutdown(Duration grace) {}

  /** How often the configuration file is checked for changes; 0 turns live reload off. */
  public record Reload(Duration scanPeriod) {}

  private static final Duration MAX = Duration.ofDays(1);

  /** Validates the whole tree and reports every problem at once, each with its key. */
  public static ServerConfig from(JsonObject json) {
    ConfigReader root = new ConfigReader(json);
    ServerConfig config = new ServerConfig(
        quic(root.section("quic")),
        tls(root.section("tls")),
        header(root.section("header")),
        decision(root.section("decision")),
        policy(root.section("policy")),
        new Pairing(section(root, "pairing", r -> r.duration("timeout", Duration.ofMillis(10), MAX))),
        relay(root.section("relay")),
        new Shutdown(section(root, "shutdown", r -> r.duration("grace", Duration.ZERO, MAX))),
        new Reload(section(root, "reload", r -> r.duration("scan-period", Duration.ZERO, Duration.ofHours(1)))));
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

  private static Quic quic(ConfigReader r) {
    Quic quic = new Quic(
        r.string("host"),
        r.intValue("port", 0, 65535),
        r.stringList("alpn"),
        r.duration("idle-timeout", Duration.ofSeconds(1), MAX),
        r.intValue("max-connections", 1, 1_000_000),
        // g3proxy needs twice its reuse limit (16) of concurrent bidirectional streams.
        r.intValue("max-streams-per-connection", 32, 65_535),
        r.longValue("stream-window", 16 * 1024, 1L << 30),
        r.longValue("connection-window", 64 * 1024, 1L << 32));
    for (String id : quic.alpn()) {
      if (id.isEmpty() || id.length() > 255) {
        r.problem("alpn", "protocol ids must be 1 to 255 characters, got '" + id + "'");
      }
    }
    r.rejectUnknownKeys();
    return quic;
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
    List<Rule> rules = r.objectList("rules", ServerConfig::rule);
    r.rejectUnknownKeys();
    return new Policy(defaultAction, rules);
  }

  private static Rule rule(ConfigReader r) {
    String name = r.string("name");
    Action action = action(r, "action");
    ConfigReader match = r.section("match");
    List<Integer> ports = match.stringList("port").stream().map(p -> port(match, p)).toList();
    Rule rule = new Rule(name, action,
        match.stringList("protocol"),
        match.stringList("host").stream().map(String::toLowerCase).toList(),
        match.stringList("host-suffix").stream().map(String::toLowerCase).toList(),
        ports,
        match.stringList("user"),
        match.stringList("ws-resource"));
    match.rejectUnknownKeys();
    return rule;
  }

  private static Integer port(ConfigReader r, String text) {
    try {
      int port = Integer.parseInt(text.trim());
      if (port >= 0 && port <= 65535) {
        return port;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    r.problem("port", "ports must be numbers from 0 to 65535, got '" + text + "'");
    return -1;
  }

  private static Relay relay(ConfigReader r) {
    Relay relay = new Relay(
        r.intValue("buffer-bytes", 1024, 16 * 1024 * 1024),
        r.duration("idle-timeout", Duration.ofMillis(100), MAX),
        r.stringList("inspectors"));
    r.rejectUnknownKeys();
    return relay;
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
