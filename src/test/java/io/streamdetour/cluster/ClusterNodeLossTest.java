package io.streamdetour.cluster;

import io.streamdetour.RunningServer;
import io.streamdetour.TestCluster;
import io.streamdetour.admin.AdminClient;
import io.streamdetour.admin.PrometheusText;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.codec.Action;
import io.streamdetour.testclient.DetourClient;
import io.streamdetour.testclient.RawSession;
import io.streamdetour.testclient.SessionSpec;
import io.streamdetour.testclient.StreamOutcome;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Nodes that leave the cluster take what depended on them along: P runs the only pairing
 * instance; Q and R take QUIC sessions and pair through P. pairing.timeout is a minute, so
 * anything that ends within the waits below ended because a node left, not by the timer.
 */
class ClusterNodeLossTest {

  private static final Duration WAIT = Duration.ofSeconds(20);

  private static TestCluster cluster;
  private static RunningServer p;
  private static RunningServer q;
  private static RunningServer r;

  @BeforeAll
  static void start() throws Exception {
    cluster = new TestCluster();
    p = cluster.add(TestCluster.pairingNode(true, "60s"));
    q = cluster.add(TestCluster.pairingNode(false, "60s"));
    r = cluster.add(TestCluster.pairingNode(false, "60s"));
    for (RunningServer node : new RunningServer[] {q, r}) {
      await().atMost(WAIT).until(() -> node.admin().get("/health/ready").statusCode() == 200);
    }
  }

  @AfterAll
  static void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static double waitingOnP() throws Exception {
    return PrometheusText.parse(p.admin().get("/metrics").body()).value("stream_detour_pairing_waiting");
  }

  /** A continued north whose south never comes: it waits in P's instance. */
  private static RawSession waitingNorth(DetourClient client, UUID task) throws Exception {
    RawSession session = client.openRaw();
    session.writeNorthHeader(SessionSpec.continueWith(0).withTaskId(task));
    assertThat(session.readReply(WAIT).action()).isEqualTo(Action.CONTINUE);
    return session;
  }

  @Test
  void aLeavingNodesPendingHalvesGoAndWaitsOnALeavingInstanceFailAtOnce() throws Exception {
    Map<String, SessionEnded> endedOnR = r.recordEndedSessions();
    UUID fromR = UUID.randomUUID();
    try (DetourClient clientQ = q.client(WAIT); DetourClient clientR = r.client(WAIT);
        RawSession northQ = waitingNorth(clientQ, UUID.randomUUID());
        RawSession northR = waitingNorth(clientR, fromR)) {
      await().atMost(WAIT).until(() -> waitingOnP() == 2);

      // Q goes: P drops Q's half, keeps R's.
      cluster.crash(q);
      await().atMost(WAIT).until(() -> waitingOnP() == 1);
      assertThat(endedOnR).doesNotContainKey(fromR.toString());

      // P goes: R's session stops waiting for it at once and ends.
      cluster.crash(p);
      assertThat(northR.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      await().atMost(WAIT).until(() -> endedOnR.containsKey(fromR.toString()));
      assertThat(endedOnR.get(fromR.toString()).end()).isEqualTo("pairing_lost");
    }

    // R is left without any pairing instance: not ready, and new sessions are refused.
    await().atMost(WAIT).until(() -> r.admin().get("/health/ready").statusCode() == 503);
    JsonObject ready = new JsonObject(r.admin().get("/health/ready").body());
    assertThat(AdminClient.check(ready, "pairing").getString("status")).isEqualTo("DOWN");
    assertThat(AdminClient.check(ready, "cluster").getJsonObject("data").getInteger("members")).isEqualTo(1);
    UUID late = UUID.randomUUID();
    try (DetourClient client = r.client(WAIT); RawSession session = client.openRaw()) {
      session.writeNorthHeader(SessionSpec.continueWith(0).withTaskId(late));
      assertThat(session.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
    }
    await().atMost(WAIT).until(() -> endedOnR.containsKey(late.toString()));
    assertThat(endedOnR.get(late.toString()).end()).isEqualTo("pairing_unavailable");
  }
}
