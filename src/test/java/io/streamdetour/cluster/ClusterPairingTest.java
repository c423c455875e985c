package io.streamdetour.cluster;

import io.streamdetour.RunningServer;
import io.streamdetour.TestCluster;
import io.streamdetour.admin.AdminClient;
import io.streamdetour.admin.PrometheusText;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.codec.Action;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.testclient.DetourClient;
import io.streamdetour.testclient.QuinnClient;
import io.streamdetour.testclient.QuinnResult;
import io.streamdetour.testclient.RawSession;
import io.streamdetour.testclient.SessionResult;
import io.streamdetour.testclient.SessionSpec;
import io.streamdetour.testclient.StreamOutcome;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Two clustered nodes in this JVM (Hazelcast on 127.0.0.1, TCP-IP join): A runs no pairing
 * instance and pairs through B's; B pairs its own sessions locally. The admin API of either
 * lists and cuts the sessions of both.
 */
class ClusterPairingTest {

  private static final Duration WAIT = Duration.ofSeconds(15);

  private static TestCluster cluster;
  private static RunningServer a;
  private static RunningServer b;
  private static Map<String, SessionEnded> endedOnA;
  private static Map<String, SessionEnded> endedOnB;

  @BeforeAll
  static void start() throws Exception {
    cluster = new TestCluster();
    b = cluster.add(TestCluster.pairingNode(true, "3s"));
    a = cluster.add(TestCluster.pairingNode(false, "3s"));
    endedOnA = a.recordEndedSessions();
    endedOnB = b.recordEndedSessions();
    // A is ready once B's instance is in its directory.
    await().atMost(WAIT).until(() -> a.admin().get("/health/ready").statusCode() == 200);
  }

  @AfterAll
  static void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static PrometheusText metrics(RunningServer node) throws Exception {
    return PrometheusText.parse(node.admin().get("/metrics").body());
  }

  private static double pairingRequests(PrometheusText metrics, String instance) {
    return metrics.value("stream_detour_pairing_requests_total", "instance", instance);
  }

  @Test
  void sessionsOnANodeWithoutPairingArePairedByAnotherNodesInstance() throws Exception {
    PrometheusText beforeA = metrics(a);
    PrometheusText beforeB = metrics(b);
    List<SessionSpec> specs = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      specs.add(SessionSpec.continueWith(64 * 1024 + i));
    }
    try (DetourClient client = a.client(WAIT)) {
      List<SessionResult> results = client.runSessions(specs, 6);
      assertThat(results).allSatisfy(r -> assertThat(r.ok()).as(r.toString()).isTrue());
    }
    PrometheusText afterA = metrics(a);
    assertThat(pairingRequests(afterA, "remote") - pairingRequests(beforeA, "remote")).isEqualTo(24);
    assertThat(pairingRequests(afterA, "local") - pairingRequests(beforeA, "local")).isZero();
    // Each south half found its north waiting on B: one cluster round trip each.
    assertThat(afterA.value("stream_detour_pairing_remote_duration_seconds_count")
        - beforeA.value("stream_detour_pairing_remote_duration_seconds_count")).isEqualTo(12);
    // B handled them, but sent nothing itself.
    PrometheusText afterB = metrics(b);
    assertThat(pairingRequests(afterB, "local") - pairingRequests(beforeB, "local")).isZero();
    assertThat(pairingRequests(afterB, "remote") - pairingRequests(beforeB, "remote")).isZero();
  }

  @Test
  void theQuinnClientIsPairedAcrossNodesByteExact() {
    QuinnClient.assumeAvailable();
    QuinnResult result = QuinnClient.run(a.quinnArgs("--connections", "4", "--sessions", "40", "--concurrency", "8",
        "--bytes", "256K"), Duration.ofSeconds(120));
    assertThat(result.passed()).as(result.toString()).isTrue();
    assertThat(result.getLong("ok")).isEqualTo(40);
    assertThat(result.getLong("bytes_verified")).isEqualTo(40L * 2 * 256 * 1024);
    QuinnResult ended = QuinnClient.run(a.quinnArgs("--sessions", "20", "--bytes", "64K", "--end", "g3"),
        Duration.ofSeconds(120));
    assertThat(ended.passed()).as(ended.toString()).isTrue();
  }

  @Test
  void pairingOnTheNodesOwnInstanceTakesNoClusterRoundTrip() throws Exception {
    PrometheusText before = metrics(b);
    try (DetourClient client = b.client(WAIT)) {
      for (int i = 0; i < 5; i++) {
        assertThat(client.runSession(SessionSpec.continueWith(10_000)).ok()).isTrue();
      }
    }
    PrometheusText after = metrics(b);
    assertThat(pairingRequests(after, "local") - pairingRequests(before, "local")).isEqualTo(10);
    assertThat(pairingRequests(after, "remote") - pairingRequests(before, "remote")).isZero();
    assertThat(after.value("stream_detour_pairing_remote_duration_seconds_count"))
        .isEqualTo(before.value("stream_detour_pairing_remote_duration_seconds_count"));
  }

  @Test
  void aHalfWithoutPartnerTimesOutAtTheInstanceOnTheOtherNode() throws Exception {
    UUID task = UUID.randomUUID();
    try (DetourClient client = a.client(WAIT); RawSession session = client.openRaw()) {
      session.writeNorthHeader(SessionSpec.continueWith(0).withTaskId(task));
      assertThat(session.readReply(WAIT).action()).isEqualTo(Action.CONTINUE);
      await().atMost(WAIT).until(() -> metrics(b).value("stream_detour_pairing_waiting") == 1
          || endedOnA.containsKey(task.toString()));
      // B's timer (pairing.timeout 3 s) answers TIMED_OUT; A cuts the north.
      assertThat(session.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      await().atMost(WAIT).until(() -> endedOnA.containsKey(task.toString()));
      assertThat(endedOnA.get(task.toString()).end()).isEqualTo("south_missing");
      assertThat(metrics(b).value("stream_detour_pairing_waiting")).isZero();
    }
  }

  @Test
  void everyNodesAdminApiListsAndCutsTheSessionsOfTheWholeCluster() throws Exception {
    UUID onB = UUID.randomUUID();
    UUID onA = UUID.randomUUID();
    try (DetourClient clientB = b.client(WAIT); DetourClient clientA = a.client(WAIT);
        RawSession sessionB = clientB.openContinued(SessionSpec.continueWith(0).withTaskId(onB).withUsername("alice"), WAIT);
        RawSession sessionA = clientA.openContinued(SessionSpec.continueWith(0).withTaskId(onA).withUsername("bob"), WAIT)) {
      byte[] data = "across the cluster".getBytes(StandardCharsets.US_ASCII);
      sessionB.north().write(data);
      assertThat(sessionB.north().read(data.length, WAIT)).isEqualTo(data);

      await().atMost(WAIT).untilAsserted(() -> {
        JsonObject all = new JsonObject(a.admin().get("/sessions").body());
        assertThat(all.getJsonObject("nodes").getJsonArray("missing")).isEmpty();
        assertThat(all.getJsonObject("nodes").getJsonArray("answered")).containsExactlyInAnyOrder(a.server.nodeId(),
            b.server.nodeId());
        assertThat(sessionsByTask(all)).containsEntry(onB.toString(), b.server.nodeId())
            .containsEntry(onA.toString(), a.server.nodeId());
        JsonObject alice = new JsonObject(a.admin().get("/sessions?user=alice").body());
        assertThat(alice.getInteger("count")).isEqualTo(1);
        assertThat(alice.getJsonArray("sessions").getJsonObject(0).getLong("bytes_north")).isEqualTo(data.length);
        assertThat(alice.getJsonArray("sessions").getJsonObject(0).getBoolean("paired")).isTrue();
      });

      HttpResponse<String> cut = a.admin().send("DELETE", "/sessions/" + onB, null);
      assertThat(cut.statusCode()).isEqualTo(200);
      JsonObject body = new JsonObject(cut.body());
      assertThat(body.getInteger("cut")).isEqualTo(1);
      assertThat(body.getJsonObject("by_node").getInteger(b.server.nodeId())).isEqualTo(1);
      assertThat(sessionB.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      await().atMost(WAIT).until(() -> endedOnB.containsKey(onB.toString()));
      assertThat(endedOnB.get(onB.toString()).end()).isEqualTo("admin_cut");
      // Gone from every node's list; a second cut finds nothing.
      assertThat(sessionsByTask(new JsonObject(b.admin().get("/sessions").body()))).doesNotContainKey(onB.toString())
          .containsKey(onA.toString());
      assertThat(a.admin().send("DELETE", "/sessions/" + onB, null).statusCode()).isEqualTo(404);

      // A's own session is untouched.
      sessionA.north().write(data);
      assertThat(sessionA.north().read(data.length, WAIT)).isEqualTo(data);
    }
  }

  @Test
  void aCutFromOneNodeResetsTheQuinnClientsSessionOnAnotherWith0x208() throws Exception {
    QuinnClient.assumeAvailable();
    java.util.concurrent.CompletableFuture<QuinnResult> run = java.util.concurrent.CompletableFuture.supplyAsync(
        () -> QuinnClient.run(b.quinnArgs("-v", "--sessions", "1", "--bytes", "1G", "--relay-timeout", "60"),
            Duration.ofSeconds(90)));
    String task = await().atMost(WAIT).until(() -> new JsonObject(a.admin().get("/sessions").body())
        .getJsonArray("sessions").stream().map(JsonObject.class::cast)
        .filter(s -> s.getString("node").equals(b.server.nodeId())).map(s -> s.getString("task_id"))
        .findFirst().orElse(null), java.util.Objects::nonNull);
    assertThat(a.admin().send("DELETE", "/sessions/" + task, null).statusCode()).isEqualTo(200);
    QuinnResult result = run.get(90, java.util.concurrent.TimeUnit.SECONDS);
    // The server reset north and stopped the client's sending with 0x208 (520).
    assertThat(result.passed()).isFalse();
    assertThat(result.stderr()).as(result.toString()).contains("error 520");
  }

  private static Map<String, String> sessionsByTask(JsonObject list) {
    Map<String, String> byTask = new java.util.HashMap<>();
    list.getJsonArray("sessions").forEach(s -> byTask.put(((JsonObject) s).getString("task_id"),
        ((JsonObject) s).getString("node")));
    return byTask;
  }

  @Test
  void everyNodesConfigVersionIsVisibleFromOneNode() throws Exception {
    // The nodes differ only in addresses and pairing.local, which are per node by design.
    assertThat(new JsonObject(b.admin().get("/cluster").body()).getBoolean("config_drift")).isFalse();
    ServerConfig changed = ServerConfig.from(a.server.config().source().copy()
        .put("limits", new JsonObject().put("per-user", 50).put("per-upstream", 0).put("action", "block")));
    a.server.apply(2, changed);
    JsonObject view = new JsonObject(b.admin().get("/cluster").body());
    assertThat(view.getBoolean("clustered")).isTrue();
    assertThat(view.getInteger("members")).isEqualTo(2);
    assertThat(view.getJsonArray("missing")).isEmpty();
    Map<String, JsonObject> nodes = new java.util.HashMap<>();
    view.getJsonArray("nodes").forEach(n -> nodes.put(((JsonObject) n).getString("node"), (JsonObject) n));
    assertThat(nodes.get(a.server.nodeId()).getInteger("config_version")).isEqualTo(2);
    assertThat(nodes.get(a.server.nodeId()).getBoolean("pairing")).isFalse();
    assertThat(nodes.get(a.server.nodeId()).getString("quic")).isEqualTo("127.0.0.1:" + a.port());
    assertThat(nodes.get(b.server.nodeId()).getInteger("config_version")).isEqualTo(1);
    assertThat(nodes.get(b.server.nodeId()).getBoolean("pairing")).isTrue();
    assertThat(nodes.get(b.server.nodeId()).getBoolean("self")).isTrue();
    // Different limits: the digests say so.
    assertThat(view.getBoolean("config_drift")).isTrue();
  }

  @Test
  void readinessSaysTheNodeJoinedAndKnowsAPairingInstance() throws Exception {
    JsonObject ready = new JsonObject(a.admin().get("/health/ready").body());
    JsonObject clusterCheck = AdminClient.check(ready, "cluster");
    assertThat(clusterCheck.getString("status")).isEqualTo("UP");
    assertThat(clusterCheck.getJsonObject("data").getInteger("members")).isEqualTo(2);
    assertThat(clusterCheck.getJsonObject("data").getString("node")).isEqualTo(a.server.nodeId());
    JsonObject pairing = AdminClient.check(ready, "pairing");
    assertThat(pairing.getJsonObject("data").getBoolean("local")).isFalse();
    assertThat(pairing.getJsonObject("data").getInteger("instances")).isEqualTo(1);
    assertThat(metrics(a).value("stream_detour_cluster_members")).isEqualTo(2);
  }

  @Test
  void connectionIdsCarryTheNodeId() throws Exception {
    UUID task = UUID.randomUUID();
    try (DetourClient client = a.client(WAIT)) {
      assertThat(client.runSession(SessionSpec.continueWith(100).withTaskId(task)).ok()).isTrue();
    }
    await().atMost(WAIT).until(() -> endedOnA.containsKey(task.toString()));
    assertThat(endedOnA.get(task.toString()).connection()).startsWith(a.server.nodeId() + "-");
  }

}
