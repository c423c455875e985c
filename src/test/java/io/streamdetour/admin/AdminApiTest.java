package io.streamdetour.admin;

import io.streamdetour.RunningServer;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.codec.Action;
import io.streamdetour.testclient.DetourClient;
import io.streamdetour.testclient.RawSession;
import io.streamdetour.testclient.SessionSpec;
import io.streamdetour.testclient.StreamOutcome;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The admin API over real HTTP against a running node, with a bearer token. */
class AdminApiTest {

  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final String TOKEN = "test-token-0123456789";

  private static RunningServer server;
  private static Map<String, SessionEnded> ended;

  @BeforeAll
  static void start() throws Exception {
    server = RunningServer.start(RunningServer.acceptingTestAlpn()
        .put("admin", new JsonObject().put("token", TOKEN))
        .put("policy", new JsonObject().put("rules", new JsonArray().add(new JsonObject()
            .put("name", "no-example-org").put("action", "block")
            .put("match", new JsonObject().put("host", new JsonArray().add("example.org")))))));
    ended = server.recordEndedSessions();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  private static DetourClient client() throws Exception {
    return DetourClient.builder("127.0.0.1", server.port()).caCertificate(server.caCertificate())
        .serverName("localhost").requestTimeout(WAIT).relayTimeout(Duration.ofSeconds(60)).build();
  }

  private static HttpResponse<String> send(String method, String path, String token) throws Exception {
    return new AdminClient(server.server.adminAddress()).send(method, path, token);
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return send("GET", path, TOKEN);
  }

  @Test
  void everyEndpointNeedsTheToken() throws Exception {
    for (String path : List.of("/health/live", "/health/ready", "/metrics", "/sessions", "/config")) {
      assertThat(send("GET", path, null).statusCode()).as(path).isEqualTo(401);
      assertThat(send("GET", path, "wrong-token-0123456789").statusCode()).as(path).isEqualTo(401);
      assertThat(get(path).statusCode()).as(path).isEqualTo(200);
    }
    assertThat(send("DELETE", "/sessions/" + UUID.randomUUID(), null).statusCode()).isEqualTo(401);
  }

  @Test
  void healthSaysLiveAndReadyWithTheEdgeAddressAndConfigVersion() throws Exception {
    JsonObject live = new JsonObject(get("/health/live").body());
    assertThat(live.getString("status")).isEqualTo("UP");

    HttpResponse<String> ready = get("/health/ready");
    assertThat(ready.statusCode()).isEqualTo(200);
    JsonObject body = new JsonObject(ready.body());
    assertThat(body.getString("status")).isEqualTo("UP");
    JsonObject edge = AdminClient.check(body, "quic-edge");
    assertThat(edge.getString("status")).isEqualTo("UP");
    assertThat(edge.getJsonObject("data").getString("address")).isEqualTo("127.0.0.1:" + server.port());
    JsonObject config = AdminClient.check(body, "config");
    assertThat(config.getJsonObject("data").getInteger("version")).isEqualTo(1);
  }


  @Test
  void metricsCountDecisionsBytesAndHeaderErrors() throws Exception {
    PrometheusText before = PrometheusText.parse(get("/metrics").body());
    try (DetourClient client = client()) {
      for (int i = 0; i < 2; i++) {
        assertThat(client.runSession(SessionSpec.continueWith(10_000).withProtocol("smtp")).ok()).isTrue();
      }
      assertThat(client.runSession(SessionSpec.continueWith(0).withProtocol("smtp").withUpstream("example.org:25")
          .withExpectedAction(Action.BLOCK)).ok()).isTrue();
      assertThat(client.runSession(SessionSpec.continueWith(0).withProtocol("gopher")).ok()).isTrue();
      try (RawSession bad = client.openRaw()) {
        bad.north().write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(bad.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      }
      await().atMost(WAIT).untilAsserted(() -> {
        PrometheusText after = PrometheusText.parse(get("/metrics").body());
        assertThat(delta(before, after, "stream_detour_sessions_total", "protocol", "smtp", "action", "continue"))
            .isEqualTo(2);
        assertThat(delta(before, after, "stream_detour_sessions_total", "protocol", "smtp", "action", "block"))
            .isEqualTo(1);
        assertThat(delta(before, after, "stream_detour_relay_bytes_total", "direction", "north")).isEqualTo(20_000);
        assertThat(delta(before, after, "stream_detour_relay_bytes_total", "direction", "south")).isEqualTo(20_000);
        assertThat(delta(before, after, "stream_detour_sessions_total", "protocol", "other", "action", "continue"))
            .isEqualTo(1);
        assertThat(after.samples()).noneMatch(sample -> "gopher".equals(sample.labels().get("protocol")));
        assertThat(delta(before, after, "stream_detour_decision_duration_seconds_count")).isEqualTo(4);
        assertThat(delta(before, after, "stream_detour_header_errors_total", "kind", "bad_signature")).isEqualTo(1);
        assertThat(delta(before, after, "stream_detour_sessions_ended_total", "end", "blocked")).isEqualTo(1);
        assertThat(after.value("stream_detour_connections")).isGreaterThanOrEqualTo(1);
        assertThat(after.value("stream_detour_config_version")).isEqualTo(1);
        assertThat(after.value("stream_detour_config_valid")).isEqualTo(1);
        // The histogram has its buckets; Vert.x's own meters share the registry.
        assertThat(after.value("stream_detour_decision_duration_seconds_bucket", "le", "+Inf"))
            .isEqualTo(after.value("stream_detour_decision_duration_seconds_count"));
        assertThat(after.samples()).anyMatch(s -> s.name().startsWith("vertx_"));
      });
    }
  }

  private static double delta(PrometheusText before, PrometheusText after, String name, String... labels) {
    return after.value(name, labels) - (before.has(name, labels) ? before.value(name, labels) : 0);
  }

  @Test
  void sessionsAreListedFilteredAndCut() throws Exception {
    UUID aliceTask = UUID.randomUUID();
    UUID bobTask = UUID.randomUUID();
    try (DetourClient client = client();
        RawSession alice = continued(client, SessionSpec.continueWith(0).withTaskId(aliceTask).withUsername("alice")
            .withUpstream("files.example.net:443"));
        RawSession bob = continued(client, SessionSpec.continueWith(0).withTaskId(bobTask).withUsername("bob")
            .withProtocol("imap").withUpstream("mail.example.net:993"))) {
      byte[] data = "twelve bytes".getBytes(StandardCharsets.US_ASCII);
      alice.north().write(data);
      assertThat(alice.north().read(data.length, WAIT)).isEqualTo(data);

      await().atMost(WAIT).untilAsserted(() -> {
        JsonObject byAlice = new JsonObject(get("/sessions?user=alice").body());
        assertThat(byAlice.getInteger("count")).isEqualTo(1);
        JsonObject session = byAlice.getJsonArray("sessions").getJsonObject(0);
        assertThat(session.getString("task_id")).isEqualTo(aliceTask.toString());
        assertThat(session.getString("upstream")).isEqualTo("files.example.net:443");
        assertThat(session.getBoolean("paired")).isTrue();
        assertThat(session.getLong("bytes_north")).isEqualTo(data.length);
        assertThat(session.getInteger("config_version")).isEqualTo(1);
      });
      assertThat(taskIds("/sessions")).contains(aliceTask.toString(), bobTask.toString());
      await().atMost(WAIT).until(() -> metrics().value("stream_detour_sessions_active") == 2);
      assertThat(taskIds("/sessions?protocol=imap")).containsExactly(bobTask.toString());
      assertThat(taskIds("/sessions?upstream=mail.example.net")).containsExactly(bobTask.toString());
      assertThat(taskIds("/sessions?upstream=mail.example.net:993&user=bob")).containsExactly(bobTask.toString());
      assertThat(taskIds("/sessions?upstream=mail.example.net:25")).isEmpty();

      HttpResponse<String> cut = send("DELETE", "/sessions/" + aliceTask, TOKEN);
      assertThat(cut.statusCode()).isEqualTo(200);
      assertThat(new JsonObject(cut.body()).getInteger("cut")).isEqualTo(1);
      assertThat(alice.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      await().atMost(WAIT).until(() -> ended.containsKey(aliceTask.toString()));
      assertThat(ended.get(aliceTask.toString()).end()).isEqualTo("admin_cut");
      assertThat(send("DELETE", "/sessions/" + aliceTask, TOKEN).statusCode()).isEqualTo(404);

      // The other session is untouched.
      bob.north().write(data);
      assertThat(bob.north().read(data.length, WAIT)).isEqualTo(data);
      assertThat(taskIds("/sessions")).contains(bobTask.toString()).doesNotContain(aliceTask.toString());
      assertThat(metrics().value("stream_detour_sessions_active")).isEqualTo(1);
    }
    // Ended sessions leave the gauge.
    await().atMost(WAIT).until(() -> metrics().value("stream_detour_sessions_active") == 0);
  }

  private static PrometheusText metrics() throws Exception {
    return PrometheusText.parse(get("/metrics").body());
  }

  private static RawSession continued(DetourClient client, SessionSpec spec) throws Exception {
    return client.openContinued(spec, WAIT);
  }

  private static List<String> taskIds(String path) throws Exception {
    return new JsonObject(get(path).body()).getJsonArray("sessions").stream()
        .map(s -> ((JsonObject) s).getString("task_id")).toList();
  }

  @Test
  void configIsShownWithTheTokenRedacted() throws Exception {
    String body = get("/config").body();
    assertThat(body).doesNotContain(TOKEN);
    JsonObject config = new JsonObject(body);
    assertThat(config.getInteger("version")).isEqualTo(1);
    assertThat(config.getString("last_error")).isNull();
    assertThat(config.getJsonArray("restart_pending")).isEmpty();
    assertThat(config.getJsonObject("config").getJsonObject("admin").getString("token")).isEqualTo("<redacted>");
    assertThat(config.getJsonObject("config").getJsonObject("policy").getJsonArray("rules").getJsonObject(0)
        .getString("name")).isEqualTo("no-example-org");
  }
}
