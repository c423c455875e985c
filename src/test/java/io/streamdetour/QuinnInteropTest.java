package io.streamdetour;

import io.streamdetour.admin.AdminClient;
import io.streamdetour.admin.PrometheusText;
import io.streamdetour.testclient.QuinnClient;
import io.streamdetour.testclient.QuinnResult;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The server against the quinn + rustls client that reproduces g3proxy on the wire: no ALPN,
 * g3proxy's PPv2 bytes, pool and match-id counting, its way of ending a relay.
 */
class QuinnInteropTest {

  private static RunningServer server;

  @BeforeAll
  static void start() throws Exception {
    QuinnClient.assumeAvailable();
    server = RunningServer.start(new JsonObject()
        .put("header", new JsonObject().put("timeout", "2s"))
        .put("policy", new JsonObject().put("rules", new JsonArray()
            .add(rule("bypass-mail", "bypass", new JsonObject().put("protocol", new JsonArray().add("smtp"))))
            .add(rule("block-evil", "block", new JsonObject().put("host-suffix", new JsonArray().add("evil.test"))))
            .add(rule("block-mallory-ws", "block", new JsonObject()
                .put("protocol", new JsonArray().add("websocket")).put("user", new JsonArray().add("mallory"))))
            .add(rule("block-ws-admin", "block", new JsonObject().put("ws-resource", new JsonArray().add("/admin"))))
            .add(rule("capture-carol", "continue", new JsonObject().put("user", new JsonArray().add("carol")))
                .put("options", new JsonObject().put("capture", true))))));
  }

  private static JsonObject rule(String name, String action, JsonObject match) {
    return new JsonObject().put("name", name).put("action", action).put("match", match);
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  private static QuinnResult run(String... args) {
    QuinnResult result = QuinnClient.run(server.quinnArgs(args), Duration.ofSeconds(180));
    assertThat(result.passed()).as(result.toString()).isTrue();
    return result;
  }

  @Test
  void continueEchoes200SessionsOf1MiBEachWayOver4Connections() {
    QuinnResult result = run("--connections", "4", "--sessions", "200", "--concurrency", "32", "--bytes", "1M");
    assertThat(result.getLong("ok")).isEqualTo(200);
    assertThat(result.getLong("continue")).isEqualTo(200);
    assertThat(result.getLong("bytes_verified")).isEqualTo(200L * 2 * 1024 * 1024);
    assertThat(result.getLong("errors")).isZero();
  }

  @Test
  void zeroBytesAndSeveralMebibytesAreEchoedExactly() {
    assertThat(run("--sessions", "16", "--bytes", "0").getLong("ok")).isEqualTo(16);
    assertThat(run("--sessions", "4", "--concurrency", "4", "--bytes", "8M").getLong("bytes_verified"))
        .isEqualTo(4L * 2 * 8 * 1024 * 1024);
  }

  @Test
  void websocketSessionsReachTheDecisionWithTheirPayload() {
    assertThat(run("--protocol", "websocket", "--sessions", "32", "--bytes", "64K").getLong("continue"))
        .isEqualTo(32);
    assertThat(run("--protocol", "websocket", "--username", "mallory", "--sessions", "8",
        "--expect-action", "block").getLong("block")).isEqualTo(8);
    // The rule that reads the upgrade's resource out of the payload.
    assertThat(run("--protocol", "websocket", "--ws-resource", "/admin/panel", "--sessions", "8",
        "--expect-action", "block").getLong("block")).isEqualTo(8);
  }

  @Test
  void bypassAndBlockFromPolicy() {
    assertThat(run("--protocol", "smtp", "--sessions", "20", "--expect-action", "bypass").getLong("bypass"))
        .isEqualTo(20);
    assertThat(run("--upstream", "www.evil.test:443", "--sessions", "20", "--expect-action", "block")
        .getLong("block")).isEqualTo(20);
  }

  @Test
  void endingTheWayG3proxyDoes() {
    QuinnResult result = run("--sessions", "100", "--concurrency", "16", "--bytes", "1M", "--end", "g3");
    assertThat(result.getLong("ok")).isEqualTo(100);
  }

  @Test
  void manyConnectionsAtOnce() {
    QuinnResult result = run("--connections", "24", "--reuse-limit", "4", "--sessions", "240",
        "--concurrency", "64", "--bytes", "32K");
    assertThat(result.getLong("ok")).isEqualTo(240);
    assertThat(result.getLong("connections")).isGreaterThanOrEqualTo(24);
  }

  @Test
  void faultySessionsAreCutAloneAndCleanOnesPassByteExact() {
    QuinnResult result = run("--sessions", "200", "--concurrency", "32", "--bytes", "256K", "--fault-wait", "4",
        "--faults", "bad-signature=0.05,truncated=0.05,reset-north-mid=0.05,reset-south-mid=0.05,"
            + "slow-reader=0.02,south-unknown=0.03,abort-connection=0.02,stall-header=0.02,length-overrun=0.03,"
            + "tlv-overrun=0.03,missing-tlv=0.03,bad-version=0.03");
    assertThat(result.getLong("fault_wrongly_answered")).isZero();
    // Every broken header is reset, the stalled ones by the 2 s header timeout.
    assertThat(result.getLong("fault_outcome_silent")).isZero();
    assertThat(result.getLong("failed")).isZero();
  }

  @Test
  void aPayloadFileIsCarriedToTheDecision() throws Exception {
    Path payload = Files.createTempFile(server.dir, "ws", ".txt");
    Files.writeString(payload, "/admin\r\nhost: www.example.com\r\norigin: https://www.example.com\r\n");
    assertThat(run("--protocol", "websocket", "--payload-file", payload.toString(), "--sessions", "4",
        "--expect-action", "block").getLong("block")).isEqualTo(4);
  }

  @Test
  void capturedSessionsAndMetricsAccountForEveryByte() throws Exception {
    PrometheusText before = PrometheusText.parse(new AdminClient(server.server.adminAddress()).get("/metrics").body());
    assertThat(run("--username", "carol", "--sessions", "6", "--concurrency", "3", "--bytes", "64K").getLong("ok"))
        .isEqualTo(6);
    Path capture = Path.of(server.server.config().capture().dir());
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(capture.resolve("index.jsonl"))
        && Files.readAllLines(capture.resolve("index.jsonl")).size() == 6);
    for (String line : Files.readAllLines(capture.resolve("index.jsonl"))) {
      JsonObject entry = new JsonObject(line);
      assertThat(entry.getString("rule")).isEqualTo("capture-carol");
      assertThat(entry.getString("user")).isEqualTo("carol");
      assertThat(Files.size(capture.resolve(entry.getString("north_file")))).isEqualTo(64 * 1024);
      assertThat(Files.size(capture.resolve(entry.getString("south_file")))).isEqualTo(64 * 1024);
    }
    PrometheusText after = PrometheusText.parse(new AdminClient(server.server.adminAddress()).get("/metrics").body());
    String[] labels = {"protocol", "http_2", "action", "continue"};
    assertThat(after.value("stream_detour_sessions_total", labels) - before.value("stream_detour_sessions_total", labels))
        .isEqualTo(6);
    assertThat(after.value("stream_detour_relay_bytes_total", "direction", "north")
        - before.value("stream_detour_relay_bytes_total", "direction", "north")).isEqualTo(6 * 64 * 1024);
  }

  @Test
  void theServerStillServesAfterAllThat() {
    assertThat(run("--sessions", "16", "--bytes", "16K").getLong("ok")).isEqualTo(16);
    // The client may see its last FIN and exit before the server has let its session go.
    await().atMost(Duration.ofSeconds(10)).until(() -> server.server.activeSessions() == 0);
  }

}
