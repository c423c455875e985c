package io.streamdetour.config;

import io.streamdetour.bus.SessionOptions;
import io.streamdetour.TestConfigs;
import io.streamdetour.codec.Action;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

class ServerConfigTest {

  private static Vertx vertx;

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stopVertx() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void embeddedDefaultsAreValidAndMatchTheDocumentedValues() throws Exception {
    ServerConfig config = ServerConfig.from(TestConfigs.defaultsJson(vertx));
    assertThat(config.quic().host()).isEqualTo("127.0.0.1");
    assertThat(config.quic().port()).isEqualTo(2888);
    assertThat(config.quic().idleTimeout()).isGreaterThan(Duration.ofSeconds(60));
    assertThat(config.quic().maxStreamsPerConnection()).isGreaterThanOrEqualTo(32);
    assertThat(config.tls().selfSigned()).isTrue();
    assertThat(config.policy().defaultAction()).isEqualTo(Action.CONTINUE);
    assertThat(config.relay().idleTimeout()).isGreaterThan(Duration.ofMinutes(5));
  }

  @Test
  void aYamlFileOverridesTheDefaultsAndKeepsTheRest(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("my.yaml");
    Files.writeString(file, """
        quic:
          port: 3999
        policy:
          default: block
          rules:
            - name: mail
              action: bypass
              match: { protocol: [smtp, imap], port: [25, "993"] }
        """);
    ServerConfig config = ConfigLoader.load(vertx, file).await(10, TimeUnit.SECONDS);
    assertThat(config.quic().port()).isEqualTo(3999);
    assertThat(config.quic().host()).isEqualTo("127.0.0.1");
    assertThat(config.policy().defaultAction()).isEqualTo(Action.BLOCK);
    assertThat(config.policy().rules()).singleElement().satisfies(rule -> {
      assertThat(rule.action()).isEqualTo(Action.BYPASS);
      assertThat(rule.match().protocols()).containsExactly("smtp", "imap");
      assertThat(rule.match().ports())
          .containsExactly(new ServerConfig.PortRange(25, 25), new ServerConfig.PortRange(993, 993));
    });
  }

  @Test
  void environmentAndSystemPropertiesOverrideTheFile() throws Exception {
    JsonObject file = TestConfigs.defaultsJson(vertx);
    Properties sys = new Properties();
    sys.setProperty("stream-detour.quic.port", "2999");
    sys.setProperty("stream-detour.relay.idle-timeout", "90s");
    sys.setProperty("unrelated.key", "x");
    Map<String, String> env = Map.of(
        "STREAM_DETOUR_QUIC__PORT", "3001",
        "STREAM_DETOUR_HEADER__MAX_PAYLOAD_BYTES", "1024",
        "STREAM_DETOUR_QUIC__ALPN", "g3-detour, other",
        // bin/stream-detour's JVM options, not a key: an unknown key would stop the start.
        "STREAM_DETOUR_JAVA_OPTS", "-Xmx1g",
        "PATH", "/usr/bin");
    ServerConfig config = ServerConfig.from(ConfigLoader.applyOverrides(file, sys, env));
    assertThat(config.quic().port()).isEqualTo(3001); // the environment wins over system properties
    assertThat(config.relay().idleTimeout()).isEqualTo(Duration.ofSeconds(90));
    assertThat(config.header().maxPayloadBytes()).isEqualTo(1024);
    assertThat(config.quic().alpn()).containsExactly("g3-detour", "other");
  }

  @Test
  void everyProblemIsReportedWithItsKey() throws Exception {
    JsonObject json = TestConfigs.defaultsJson(vertx);
    json.getJsonObject("quic").put("port", "not-a-port").put("prot", 1);
    json.getJsonObject("header").put("timeout", "soon");
    json.getJsonObject("decision").put("fallback", "allow");
    json.getJsonObject("policy").put("rules", new JsonArray().add(new JsonObject()
        .put("name", "r").put("action", "continue").put("match", new JsonObject().put("hots", "x"))));
    json.put("quik", new JsonObject());
    assertThat(problems(json)).containsExactlyInAnyOrder(
        "quic.port: must be a whole number, got 'not-a-port'",
        "quic.prot: unknown key",
        "header.timeout: must be a duration such as 500ms, 30s, 5m or 1h, got 'soon'",
        "decision.fallback: must be continue, bypass or block, got 'allow'",
        "policy.rules[0].match.hots: unknown key",
        "quik: unknown key");
  }

  @Test
  void theDefaultIsOneKwikListenerAndListenersAddOthersWithTheSharedLimits(@TempDir Path dir) throws Exception {
    ServerConfig defaults = ServerConfig.from(TestConfigs.defaultsJson(vertx));
    assertThat(defaults.quic().all()).containsExactly(defaults.quic());
    assertThat(defaults.quic().edge()).isEqualTo(ServerConfig.Edge.KWIK);
    assertThat(defaults.quic().sockets()).isEqualTo(1);

    Path file = dir.resolve("listeners.yaml");
    Files.writeString(file, """
        quic:
          port: 2888
          max-connections: 77
          listeners:
            - { edge: netty, port: 2890, alpn: [g3-detour], sockets: 2 }
            - { edge: kwik, host: 127.0.0.2, port: 2888 }
        """);
    List<ServerConfig.Quic> all = ConfigLoader.load(vertx, file).await(10, TimeUnit.SECONDS).quic().all();
    assertThat(all).extracting(ServerConfig.Quic::edge)
        .containsExactly(ServerConfig.Edge.KWIK, ServerConfig.Edge.NETTY, ServerConfig.Edge.KWIK);
    assertThat(all).extracting(ServerConfig.Quic::host).containsExactly("127.0.0.1", "127.0.0.1", "127.0.0.2");
    assertThat(all).extracting(ServerConfig.Quic::port).containsExactly(2888, 2890, 2888);
    assertThat(all).extracting(ServerConfig.Quic::sockets).containsExactly(1, 2, 1);
    assertThat(all.get(1).alpn()).containsExactly("g3-detour");
    assertThat(all).allSatisfy(q -> {
      assertThat(q.maxConnections()).isEqualTo(77);
      assertThat(q.listeners()).isEmpty();
    });
  }

  @Test
  void listenerProblemsAreReportedWithTheirKeys() throws Exception {
    JsonObject json = TestConfigs.defaultsJson(vertx);
    json.getJsonObject("quic").put("edge", "quiche").put("sockets", 2).put("listeners", new JsonArray()
        .add(new JsonObject().put("edge", "netty").put("port", 2888))
        .add(new JsonObject().put("edge", "netty").put("host", "0.0.0.0").put("port", 2890)
            .put("alpn", "g3-detour").put("sockets", 0).put("socket", 2))
        .add(new JsonObject().put("edge", "kwik").put("port", 2890)));
    assertThat(problems(json)).containsExactlyInAnyOrder(
        "quic.edge: must be kwik or netty, got 'quiche'",
        "quic.sockets: the kwik edge has one socket; more sockets need edge: netty",
        "quic.listeners[0].alpn: the netty edge needs at least one ALPN id: BoringSSL refuses QUIC clients"
            + " that offer none (g3proxy offers none: serve it on a kwik listener)",
        "quic.listeners[1].sockets: must be between 1 and 256, got 0",
        "quic.listeners[1].socket: unknown key",
        "quic.listeners[0].port: udp 127.0.0.1:2888 is taken by quic.host/quic.port",
        "quic.listeners[2].port: udp 127.0.0.1:2890 is taken by quic.listeners[1]");
  }

  @Test
  void aQlogDirectoryNeedsANettyListener() throws Exception {
    JsonObject json = TestConfigs.defaultsJson(vertx);
    json.getJsonObject("quic").put("qlog-dir", "/tmp/qlog");
    assertThat(problems(json)).containsExactly(
        "quic.qlog-dir: only a netty listener writes qlog, and there is none");

    json.getJsonObject("quic").put("listeners", oneNettyListener());
    assertThat(ServerConfig.from(json).quic().all()).extracting(ServerConfig.Quic::qlogDir)
        .containsExactly("/tmp/qlog", "/tmp/qlog");
  }

  /** The problems of a configuration {@link ServerConfig#from} refuses. */
  private static List<String> problems(JsonObject json) {
    ConfigException refused = catchThrowableOfType(ConfigException.class, () -> ServerConfig.from(json));
    assertThat(refused).as("the configuration is refused").isNotNull();
    return refused.problems();
  }

  /** {@code quic.listeners} with one netty listener on 2890. */
  private static JsonArray oneNettyListener() {
    return new JsonArray().add(new JsonObject().put("edge", "netty").put("port", 2890).put("alpn", "g3-detour"));
  }

  @Test
  void theUdpBuffersAreFourMebibytesByDefaultAndEveryListenerSharesThem() throws Exception {
    JsonObject json = TestConfigs.defaultsJson(vertx);
    assertThat(ServerConfig.from(json).quic().udpBufferBytes()).isEqualTo(4 << 20);
    json.getJsonObject("quic").put("udp-buffer-bytes", 1 << 20).put("listeners", oneNettyListener());
    assertThat(ServerConfig.from(json).quic().all()).extracting(ServerConfig.Quic::udpBufferBytes)
        .containsExactly(1 << 20, 1 << 20);
    json.getJsonObject("quic").put("udp-buffer-bytes", 1000);
    assertThat(problems(json)).singleElement().asString().startsWith("quic.udp-buffer-bytes:");
  }

  @Test
  void everyListenerTakesTwoThousandHandshakesASecondByDefault() throws Exception {
    JsonObject json = TestConfigs.defaultsJson(vertx);
    json.getJsonObject("quic").put("listeners", oneNettyListener());
    assertThat(ServerConfig.from(json).quic().all()).extracting(ServerConfig.Quic::maxHandshakeRate)
        .containsExactly(2000, 2000);
    // No budget at all is not a choice: a flood of fake Initials would run the server out of memory.
    json.getJsonObject("quic").put("max-handshake-rate", 0);
    assertThat(problems(json)).singleElement().asString().startsWith("quic.max-handshake-rate:");
  }

  @Test
  void theEnvironmentPutsTheOneListenerOnNetty() throws Exception {
    JsonObject merged = ConfigLoader.applyOverrides(TestConfigs.defaultsJson(vertx), new Properties(), Map.of(
        "STREAM_DETOUR_QUIC__EDGE", "netty", "STREAM_DETOUR_QUIC__ALPN", "g3-detour", "STREAM_DETOUR_QUIC__SOCKETS", "2"));
    ServerConfig.Quic quic = ServerConfig.from(merged).quic();
    assertThat(quic.edge()).isEqualTo(ServerConfig.Edge.NETTY);
    assertThat(quic.alpn()).containsExactly("g3-detour");
    assertThat(quic.sockets()).isEqualTo(2);
  }

  @Test
  void policyReadsEveryMatcherAndTheOptionsOfAContinueRule(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("policy.yaml");
    Files.writeString(file, """
        policy:
          user-groups: { staff: [alice, bob], robots: [svc-1] }
          rules:
            - name: watch
              action: continue
              match:
                protocol: [http_2, websocket]
                host: [Api.Example.com]
                host-suffix: [.Example.org]
                host-glob: ["*.CDN.example.com"]
                host-regex: ['node\\d+\\.example\\.net']
                port: [443, "8000-8999"]
                upstream-cidr: [10.0.0.0/8, "2001:db8::/32"]
                client-cidr: [192.0.2.0/24]
                user: [carol]
                user-regex: ['svc-\\d+']
                user-group: [staff]
                user-absent: false
                ws-resource: [/chat]
                ws-origin: [https://Example.com]
                ws-host: [Example.com]
                ws-subprotocol: [Chat]
              options: { inspectors: [log, dlp], capture: true, byte-cap: 10485760 }
            - name: anonymous
              action: block
              match: { user-absent: true }
        """);
    ServerConfig.Policy policy = ConfigLoader.load(vertx, file).await(10, TimeUnit.SECONDS).policy();
    assertThat(policy.userGroups()).isEqualTo(Map.of("staff", List.of("alice", "bob")));
    ServerConfig.Rule watch = policy.rules().get(0);
    assertThat(watch.match()).isEqualTo(new ServerConfig.Match(
        List.of("http_2", "websocket"),
        List.of("api.example.com"),
        List.of("example.org"),
        List.of("*.cdn.example.com"),
        List.of("node\\d+\\.example\\.net"),
        List.of(new ServerConfig.PortRange(443, 443), new ServerConfig.PortRange(8000, 8999)),
        List.of(cidr("10.0.0.0", 8), cidr("2001:db8::", 32)),
        List.of(cidr("192.0.2.0", 24)),
        List.of("carol"),
        List.of("svc-\\d+"),
        List.of("staff"),
        false,
        List.of("/chat"),
        List.of("https://example.com"),
        List.of("example.com"),
        List.of("chat")));
    assertThat(watch.options()).isEqualTo(new SessionOptions(List.of("log", "dlp"), true, 10_485_760));
    ServerConfig.Rule anonymous = policy.rules().get(1);
    assertThat(anonymous.match().userAbsent()).isTrue();
    assertThat(anonymous.options()).isEqualTo(SessionOptions.NONE);
  }

  @Test
  void optionsLeftOutOfAnOptionsBlockTakeTheirDefaults() throws Exception {
    JsonObject json = TestConfigs.defaultsJson(vertx);
    json.getJsonObject("policy").put("rules", new JsonArray()
        .add(rule("capture-only", "continue", new JsonObject()).put("options", new JsonObject().put("capture", true))));
    assertThat(ServerConfig.from(json).policy().rules().get(0).options())
        .isEqualTo(new SessionOptions(List.of(), true, Long.MAX_VALUE));
  }

  @Test
  void everyPolicyProblemIsNamedWithItsKey() throws Exception {
    JsonObject json = TestConfigs.defaultsJson(vertx);
    json.getJsonObject("policy").put("user-groups", new JsonObject().put("staff", new JsonArray().add("alice")));
    json.getJsonObject("policy").put("rules", new JsonArray()
        .add(rule("ports", "block", new JsonObject().put("port", new JsonArray().add("9-1").add(70000).add("80"))))
        .add(rule("group", "block", new JsonObject().put("user-group", new JsonArray().add("staff").add("x"))))
        .add(rule("regex", "block", new JsonObject().put("host-regex", new JsonArray().add("("))
            .put("user-regex", new JsonArray().add("[a-"))))
        .add(rule("cidr", "block", new JsonObject()
            .put("upstream-cidr", new JsonArray().add("10.0.0.0/33").add("10.1.0.0/8").add("example.com/8"))
            .put("client-cidr", new JsonArray().add("::ffff:10.0.0.0/104").add("2001:db8::/129"))))
        .add(rule("glob", "bypass", new JsonObject().put("host-glob", new JsonArray().add("a..b").add("***.com"))
            .put("user-absent", "maybe"))
            .put("options", new JsonObject().put("capture", true)))
        .add(rule("absent", "continue",
            new JsonObject().put("user-absent", true).put("user", new JsonArray().add("bob")))
            .put("options", new JsonObject().put("byte-cap", -1).put("capture", "yes").put("inspector", "x"))));
    assertThat(problems(json)).containsExactlyInAnyOrder(
        "policy.rules[0].match.port: '9-1' is not a port or range",
        "policy.rules[0].match.port: '70000' is not a port or range",
        "policy.rules[1].match.user-group: no group 'x' in policy.user-groups",
        "policy.rules[2].match.host-regex: invalid regex '(': Unclosed group",
        "policy.rules[2].match.user-regex: invalid regex '[a-': Illegal character range",
        "policy.rules[3].match.upstream-cidr: '10.0.0.0/33' is not a CIDR block: the prefix length must be 0 to 32",
        "policy.rules[3].match.upstream-cidr: '10.1.0.0/8' is not a CIDR block: address bits are set after the"
            + " first 8",
        "policy.rules[3].match.upstream-cidr: 'example.com/8' is not a CIDR block: no IPv4 or IPv6 address before"
            + " the '/'",
        "policy.rules[3].match.client-cidr: '::ffff:10.0.0.0/104' is not a CIDR block: an IPv4-mapped block is"
            + " written as IPv4, such as 10.0.0.0/8",
        "policy.rules[3].match.client-cidr: '2001:db8::/129' is not a CIDR block: the prefix length must be 0"
            + " to 128",
        "policy.rules[4].match.host-glob: 'a..b' is not a host glob: labels of letters, digits, '-', '_' and '*'"
            + " (within a label) or '**' (across labels), such as *.cdn.example.com",
        "policy.rules[4].match.host-glob: '***.com' is not a host glob: labels of letters, digits, '-', '_' and"
            + " '*' (within a label) or '**' (across labels), such as *.cdn.example.com",
        "policy.rules[4].match.user-absent: must be true or false, got 'maybe'",
        "policy.rules[4].options: only a continue rule takes options, this rule's action is bypass",
        "policy.rules[5].match.user-absent: true never matches together with user, user-regex or user-group",
        "policy.rules[5].options.byte-cap: must be between 0 and 9223372036854775807, got -1",
        "policy.rules[5].options.capture: must be true or false, got 'yes'",
        "policy.rules[5].options.inspector: unknown key");
  }

  private static JsonObject rule(String name, String action, JsonObject match) {
    return new JsonObject().put("name", name).put("action", action).put("match", match);
  }

  private static ServerConfig.Cidr cidr(String network, int prefixLength) throws Exception {
    return new ServerConfig.Cidr(InetAddress.getByName(network), prefixLength);
  }

  @Test
  void aFileThatIsNotYamlFailsToLoad(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("broken.yaml");
    Files.writeString(file, "quic: [unclosed\n");
    assertThatThrownBy(() -> ConfigLoader.load(vertx, file).await(10, TimeUnit.SECONDS)).isNotNull();
  }

  @Test
  void aMissingExplicitFileFailsToLoad(@TempDir Path dir) {
    assertThatThrownBy(() -> ConfigLoader.load(vertx, dir.resolve("absent.yaml")).await(10, TimeUnit.SECONDS))
        .isNotNull();
  }

  @Test
  void clusterAndLimitsDefaultsAreOffAndOnLoopback() throws Exception {
    ServerConfig config = ServerConfig.from(TestConfigs.defaultsJson(vertx));
    assertThat(config.cluster().enabled()).isFalse();
    assertThat(config.cluster().host()).isEqualTo("127.0.0.1");
    assertThat(config.cluster().members()).containsExactly("127.0.0.1:5701");
    assertThat(config.cluster().minSize()).isEqualTo(1);
    assertThat(config.pairing().local()).isTrue();
    assertThat(config.limits().any()).isFalse();
  }

  @Test
  void clusterAndLimitsKeysAreCheckedWithTheirNames() throws Exception {
    JsonObject json = TestConfigs.defaultsJson(vertx);
    json.getJsonObject("cluster").put("host", "node-1.example").put("members", "a:5701, b c").put("min-size", 0);
    json.getJsonObject("limits").put("per-user", -1).put("action", "continue");
    json.getJsonObject("pairing").put("local", false);
    assertThat(problems(json)).contains(
        "cluster.host: must be an IP address (the interface Hazelcast and the event bus bind), got 'node-1.example'",
        "cluster.members: 'b c' is not host, host:port or [ipv6]:port",
        "cluster.min-size: must be between 1 and 1000, got 0",
        "limits.per-user: must be between 0 and 100000000, got -1",
        "limits.action: must be block or bypass",
        "pairing.local: false needs cluster.enabled: a single node must run its own pairing");
  }

  @Test
  void membersComeFromTheEnvironmentAsAList() throws Exception {
    JsonObject merged = ConfigLoader.applyOverrides(TestConfigs.defaultsJson(vertx), new Properties(),
        Map.of("STREAM_DETOUR_CLUSTER__MEMBERS", "10.0.0.1:5701,10.0.0.2:5701", "STREAM_DETOUR_CLUSTER__ENABLED", "true",
            "STREAM_DETOUR_PAIRING__LOCAL", "false"));
    ServerConfig config = ServerConfig.from(merged);
    assertThat(config.cluster().enabled()).isTrue();
    assertThat(config.cluster().members()).containsExactly("10.0.0.1:5701", "10.0.0.2:5701");
    assertThat(config.pairing().local()).isFalse();
  }
}
