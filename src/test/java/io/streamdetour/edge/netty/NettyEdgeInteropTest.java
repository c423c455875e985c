package io.streamdetour.edge.netty;

import io.streamdetour.LogRecorder;
import io.streamdetour.RunningServer;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.HeaderReader;
import io.streamdetour.testclient.QuinnClient;
import io.streamdetour.testclient.QuinnResult;
import io.streamdetour.tls.TlsIdentity;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * One server with both edges: g3proxy's ALPN-less handshake on the Kwik listener
 * ({@code quic.*}) and, on a second port, the Netty listener for clients that offer ALPN, driven
 * by the quinn client with {@code --alpn g3-detour}.
 */
class NettyEdgeInteropTest {

  private static final String ALPN = "g3-detour";
  private static final Duration WAIT = Duration.ofSeconds(15);
  private static RunningServer server;

  @BeforeAll
  static void start() throws Exception {
    QuinnClient.assumeAvailable();
    server = RunningServer.start(new JsonObject()
        .put("quic", new JsonObject().put("listeners", new JsonArray().add(new JsonObject()
            .put("edge", "netty").put("port", 0).put("alpn", new JsonArray().add(ALPN)).put("sockets", 2))))
        .put("header", new JsonObject().put("timeout", "2s").put("max-payload-bytes", 1024))
        .put("policy", new JsonObject().put("rules", new JsonArray()
            .add(new JsonObject().put("name", "block-evil").put("action", "block")
                .put("match", new JsonObject().put("host-suffix", new JsonArray().add("evil.test"))))
            .add(new JsonObject().put("name", "watched").put("action", "continue")
                .put("match", new JsonObject().put("host-suffix", new JsonArray().add("watched.test")))
                .put("options", new JsonObject().put("capture", true))))));
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  private static InetSocketAddress nettyAddress() {
    return server.server.quicAddresses().get(1);
  }

  /** The quinn client against the Netty listener, offering ALPN and verifying the certificate. */
  private static List<String> nettyArgs(String... more) {
    return nettyArgs(server.caCertificate(), more);
  }

  private static List<String> nettyArgs(Path caCertificate, String... more) {
    List<String> args = new ArrayList<>(List.of("--server", "127.0.0.1:" + nettyAddress().getPort(),
        "--ca-cert", caCertificate.toString(), "--server-name", "localhost", "--alpn", ALPN));
    args.addAll(List.of(more));
    return args;
  }

  /**
   * A run of the quinn client that must pass; a session whose echo never ends fails it after the
   * relay timeout, not at the test's end.
   */
  private static QuinnResult passing(List<String> args) {
    List<String> bounded = new ArrayList<>(args);
    if (!args.contains("--relay-timeout") && !args.contains("--faults")) {
      bounded.addAll(List.of("--relay-timeout", "60"));
    }
    QuinnResult result = QuinnClient.run(bounded, Duration.ofSeconds(180));
    assertThat(result.passed()).as(result.toString()).isTrue();
    return result;
  }

  @Test
  void bothListenersAreUpOnTheirOwnEdges() {
    List<ServerConfig.Quic> listeners = server.server.config().quic().all();
    assertThat(listeners).extracting(ServerConfig.Quic::edge)
        .containsExactly(ServerConfig.Edge.KWIK, ServerConfig.Edge.NETTY);
    assertThat(server.server.quicAddresses()).hasSize(2).doesNotContainNull();
    assertThat(nettyAddress().getPort()).isNotEqualTo(server.port());
  }

  @Test
  void twoHundredSessionsOf1MiBEachWayOver4ConnectionsAreEchoedExactly() {
    QuinnResult result = passing(nettyArgs("--connections", "4", "--sessions", "200", "--concurrency", "32",
        "--bytes", "1M"));
    assertThat(result.getLong("ok")).isEqualTo(200);
    assertThat(result.getLong("continue")).isEqualTo(200);
    assertThat(result.getLong("bytes_verified")).isEqualTo(200L * 2 * 1024 * 1024);
    assertThat(result.getLong("errors")).isZero();
  }

  /**
   * The client's FIN comes with its last bytes, so the relay sends those bytes, what the capture
   * inspector holds and its own FIN as one write: the capture still holds every byte relayed.
   */
  @Test
  void capturedSessionsEndWithTheirLastBytesAndHoldEveryByte() throws Exception {
    Path capture = Path.of(server.server.config().capture().dir());
    Path indexFile = capture.resolve("index.jsonl");
    long before = Files.exists(indexFile) ? Files.readAllLines(indexFile).size() : 0;
    QuinnResult result = passing(nettyArgs("--upstream", "watched.test:443", "--sessions", "8", "--bytes", "300K"));
    assertThat(result.getLong("ok")).isEqualTo(8);
    await().atMost(WAIT).until(() -> Files.exists(indexFile) && Files.readAllLines(indexFile).size() - before >= 8);
    List<JsonObject> index = Files.readAllLines(indexFile).stream().skip(before).map(JsonObject::new).toList();
    assertThat(index).hasSize(8).allSatisfy(line -> {
      assertThat(line.getString("rule")).isEqualTo("watched");
      assertThat(line.getBoolean("truncated")).isFalse();
      assertThat(capture.resolve(line.getString("north_file"))).hasSize(300 * 1024);
      assertThat(capture.resolve(line.getString("south_file"))).hasSize(300 * 1024);
    });
  }

  @Test
  void zeroBytesSeveralMebibytesAndBlockedSessions() {
    assertThat(passing(nettyArgs("--sessions", "16", "--bytes", "0")).getLong("ok")).isEqualTo(16);
    assertThat(passing(nettyArgs("--sessions", "4", "--concurrency", "4", "--bytes", "8M")).getLong("bytes_verified"))
        .isEqualTo(4L * 2 * 8 * 1024 * 1024);
    assertThat(passing(nettyArgs("--upstream", "www.evil.test:443", "--sessions", "20", "--expect-action", "block"))
        .getLong("block")).isEqualTo(20);
  }

  @Test
  void endingTheWayG3proxyDoes() {
    assertThat(passing(nettyArgs("--sessions", "100", "--concurrency", "16", "--bytes", "1M", "--end", "g3"))
        .getLong("ok")).isEqualTo(100);
  }

  @Test
  void faultySessionsAreCutAloneAndCleanOnesPassByteExact() {
    QuinnResult result = passing(nettyArgs("--sessions", "200", "--concurrency", "32", "--bytes", "256K",
        "--fault-wait", "4", "--faults", "bad-signature=0.05,truncated=0.05,reset-north-mid=0.05,"
            + "reset-south-mid=0.05,slow-reader=0.02,south-unknown=0.03,abort-connection=0.02,stall-header=0.02,"
            + "length-overrun=0.03,tlv-overrun=0.03,missing-tlv=0.03,bad-version=0.03"));
    assertThat(result.getLong("fault_wrongly_answered")).isZero();
    // Every broken header is reset, the stalled ones by the 2 s header timeout.
    assertThat(result.getLong("fault_outcome_silent")).isZero();
    assertThat(result.getLong("failed")).isZero();
  }

  @Test
  void aPayloadOverTheLimitIsRefusedWithALogLine() throws Exception {
    Path payload = Files.createTempFile(server.dir, "ws", ".txt");
    Files.writeString(payload, "/chat\r\nhost: www.example.com\r\n" + "x-filler: " + "y".repeat(2000) + "\r\n");
    try (LogRecorder log = LogRecorder.of(HeaderReader.class)) {
      QuinnResult result = QuinnClient.run(nettyArgs("--protocol", "websocket", "--payload-file", payload.toString(),
          "--sessions", "2", "--concurrency", "1"), Duration.ofSeconds(60));
      assertThat(result.passed()).as(result.toString()).isFalse();
      assertThat(result.getLong("ok")).isZero();
      await().atMost(WAIT).untilAsserted(() -> assertThat(log.messages())
          .anyMatch(m -> m.contains("bad header (PAYLOAD_TOO_LARGE)")));
    }
    // The listener still serves.
    assertThat(passing(nettyArgs("--sessions", "4", "--bytes", "16K")).getLong("ok")).isEqualTo(4);
  }

  @Test
  void aClientWithoutAlpnIsRefusedWithAClearLogLine() {
    try (LogRecorder log = LogRecorder.of(NettyListener.class)) {
      List<String> args = new ArrayList<>(nettyArgs("--sessions", "1", "--bytes", "0", "--handshake-timeout", "5"));
      int alpn = args.indexOf("--alpn");
      args.remove(alpn + 1);
      args.remove(alpn);
      QuinnResult result = QuinnClient.run(args, Duration.ofSeconds(60));
      assertThat(result.passed()).as(result.toString()).isFalse();
      await().atMost(WAIT).untilAsserted(() -> assertThat(log.lines()).anyMatch(line -> line.startsWith("WARN")
          && line.contains("offered no ALPN id this listener accepts ([g3-detour])")
          && line.contains("needs a kwik listener")));
    }
  }

  @Test
  void g3proxyOnKwikAndAnAlpnClientOnNettyAtOnce() throws Exception {
    CompletableFuture<QuinnResult> kwik = CompletableFuture.supplyAsync(() -> QuinnClient.run(
        server.quinnArgs("--connections", "2", "--sessions", "40", "--concurrency", "8", "--bytes", "256K"),
        Duration.ofSeconds(180)));
    QuinnResult netty = passing(nettyArgs("--connections", "2", "--sessions", "40", "--concurrency", "8",
        "--bytes", "256K"));
    QuinnResult g3 = kwik.get(180, TimeUnit.SECONDS);
    assertThat(g3.passed()).as(g3.toString()).isTrue();
    assertThat(g3.getLong("ok")).isEqualTo(40);
    assertThat(netty.getLong("ok")).isEqualTo(40);
    // Both clients number their sessions from match id 0: the connection ids keep them apart.
    // A client may see its last FIN and exit before the server has let its session go.
    await().atMost(WAIT).until(() -> server.server.activeSessions() == 0);
  }

  @Test
  void anAdminCutResetsANettySessionWith0x208() throws Exception {
    Map<String, SessionEnded> ended = server.recordEndedSessions();
    CompletableFuture<QuinnResult> run = CompletableFuture.supplyAsync(() -> QuinnClient.run(
        nettyArgs("-v", "--sessions", "1", "--bytes", "1G", "--relay-timeout", "60"), Duration.ofSeconds(90)));
    String task = await().atMost(WAIT).until(() -> new JsonObject(server.admin().get("/sessions").body())
        .getJsonArray("sessions").stream().map(JsonObject.class::cast)
        .map(s -> s.getString("task_id")).findFirst().orElse(null), Objects::nonNull);
    assertThat(server.admin().send("DELETE", "/sessions/" + task, null).statusCode()).isEqualTo(200);
    QuinnResult result = run.get(90, TimeUnit.SECONDS);
    assertThat(result.passed()).isFalse();
    // The server reset north and stopped the client's sending with 0x208 (520).
    assertThat(result.stderr()).as(result.toString()).contains("error 520");
    await().atMost(WAIT).until(() -> ended.containsKey(task));
    assertThat(ended.get(task).end()).isEqualTo("admin_cut");
  }

  @Test
  void aNewCertificateIsWhatNewHandshakesGet(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    TlsIdentity original = server.server.tlsIdentity();
    Path before = original.generatedCertificate();
    TlsIdentity next = TlsIdentity.selfSigned(List.of("localhost", "127.0.0.1"), dir);
    server.server.replaceIdentity(next);
    try {
      assertThat(passing(nettyArgs(next.generatedCertificate(), "--sessions", "2", "--bytes", "4K")).getLong("ok"))
          .isEqualTo(2);
      QuinnResult old = QuinnClient.run(nettyArgs(before, "--sessions", "1", "--bytes", "0", "--handshake-timeout",
          "5"), Duration.ofSeconds(60));
      assertThat(old.passed()).as(old.toString()).isFalse();
      assertThat(old.getLong("ok")).isZero();
    } finally {
      server.server.replaceIdentity(original);
    }
  }
}
