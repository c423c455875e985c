package io.streamdetour.cluster;

import io.streamdetour.RunningServer;
import io.streamdetour.TestCluster;
import io.streamdetour.admin.PrometheusText;
import io.streamdetour.codec.Action;
import io.streamdetour.testclient.DetourClient;
import io.streamdetour.testclient.RawSession;
import io.streamdetour.testclient.SessionSpec;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * limits.per-user (3) and limits.per-upstream (4) counted across two clustered nodes: sessions
 * started at the same time on both never exceed a cap, ended sessions give their count back,
 * and so does a node that leaves.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterLimitsTest {

  private static final Duration WAIT = Duration.ofSeconds(20);

  private static TestCluster cluster;
  private static RunningServer a;
  private static RunningServer b;

  @BeforeAll
  static void start() throws Exception {
    cluster = new TestCluster();
    JsonObject overrides = RunningServer.acceptingTestAlpn()
        .put("limits", new JsonObject().put("per-user", 3).put("per-upstream", 4).put("action", "block"))
        // A count that misses the decision timeout lets its session through uncounted (the
        // fallback): give a loaded machine's Hazelcast all the time these counts need.
        .put("decision", new JsonObject().put("timeout", "10s"));
    a = cluster.add(overrides);
    b = cluster.add(overrides);
    // Counted only once the partitions have settled on both members, not while they move to b.
    await().atMost(Duration.ofSeconds(60)).until(() ->
        TestCluster.hazelcast(a).getPartitionService().isClusterSafe()
            && TestCluster.hazelcast(b).getPartitionService().isClusterSafe());
  }

  @AfterAll
  static void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** A session started up to its reply; continued ones stay open until closed. */
  private record Started(RawSession session, Action action) {}

  private static Started start(DetourClient client, SessionSpec spec) throws Exception {
    RawSession session = client.openRaw();
    session.writeNorthHeader(spec);
    Action action = session.readReply(WAIT).action();
    if (action == Action.CONTINUE) {
      session.south().write(session.southHeader());
    } else {
      session.close();
    }
    return new Started(session, action);
  }

  private static List<Started> startAtOnce(List<Callable<Started>> starts) throws Exception {
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<Started>> futures = threads.invokeAll(starts);
      List<Started> started = new ArrayList<>();
      for (Future<Started> future : futures) {
        started.add(future.get());
      }
      return started;
    }
  }

  private static long count(List<Started> started, Action action) {
    return started.stream().filter(s -> s.action() == action).count();
  }

  private static void closeAll(List<Started> started) {
    started.forEach(s -> s.session().close());
  }

  private static double rejections(RunningServer node, String limit) throws Exception {
    return PrometheusText.parse(node.admin().get("/metrics").body())
        .value("stream_detour_limit_rejections_total", "limit", limit);
  }

  private static SessionSpec alice(int n) {
    return SessionSpec.continueWith(0).withUsername("alice").withUpstream("host" + n + ".example:443");
  }

  private static int running(RunningServer node) {
    return node.server.activeSessions();
  }

  /** No session runs on either node and every count it held has been given back. */
  private static void allEndedAndReleased() {
    await().atMost(WAIT).until(() -> running(a) + running(b) == 0
        && TestCluster.hazelcast(a).getMap(HazelcastLimitCounter.MAP).isEmpty());
  }

  @Test
  @Order(1)
  void concurrentStartsOnTwoNodesNeverExceedThePerUserCap() throws Exception {
    double before = rejections(a, "per-user") + rejections(b, "per-user");
    try (DetourClient clientA = a.client(WAIT); DetourClient clientB = b.client(WAIT)) {
      List<Callable<Started>> starts = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        int n = i;
        starts.add(() -> start(clientA, alice(n)));
        starts.add(() -> start(clientB, alice(10 + n)));
      }
      List<Started> started = startAtOnce(starts);
      try {
        assertThat(count(started, Action.CONTINUE)).isEqualTo(3);
        assertThat(count(started, Action.BLOCK)).isEqualTo(5);
        assertThat(rejections(a, "per-user") + rejections(b, "per-user") - before).isEqualTo(5);
        // Another user is not held back by alice's cap.
        Started bob = start(clientA, SessionSpec.continueWith(0).withUsername("bob"));
        assertThat(bob.action()).isEqualTo(Action.CONTINUE);
        bob.session().close();
      } finally {
        closeAll(started);
      }
      // Ended sessions give their counts back: alice may run three again.
      allEndedAndReleased();
      List<Started> again = startAtOnce(List.of(() -> start(clientB, alice(1)), () -> start(clientA, alice(2)),
          () -> start(clientB, alice(3)), () -> start(clientA, alice(4))));
      try {
        assertThat(count(again, Action.CONTINUE)).isEqualTo(3);
        assertThat(count(again, Action.BLOCK)).isEqualTo(1);
      } finally {
        closeAll(again);
      }
      allEndedAndReleased();
    }
  }

  @Test
  @Order(2)
  void thePerUpstreamCapCountsEveryUserOfThatUpstream() throws Exception {
    try (DetourClient clientA = a.client(WAIT); DetourClient clientB = b.client(WAIT)) {
      List<Callable<Started>> starts = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        int n = i;
        starts.add(() -> start(clientA, SessionSpec.continueWith(0).withUsername("a" + n).withUpstream("busy.example:443")));
        starts.add(() -> start(clientB, SessionSpec.continueWith(0).withUsername("b" + n).withUpstream("BUSY.example:443")));
      }
      List<Started> started = startAtOnce(starts);
      try {
        assertThat(count(started, Action.CONTINUE)).isEqualTo(4);
        assertThat(count(started, Action.BLOCK)).isEqualTo(2);
      } finally {
        closeAll(started);
      }
      allEndedAndReleased();
    }
  }

  @Test
  @Order(3)
  void aNodeThatLeavesGivesItsShareBack() throws Exception {
    try (DetourClient clientA = a.client(WAIT); DetourClient clientB = b.client(WAIT)) {
      List<Started> held = new ArrayList<>();
      held.add(start(clientB, alice(1)));
      held.add(start(clientB, alice(2)));
      held.add(start(clientA, alice(3)));
      assertThat(held).allMatch(s -> s.action() == Action.CONTINUE);
      assertThat(start(clientA, alice(4)).action()).isEqualTo(Action.BLOCK);

      // B crashes: its two sessions can no longer give their counts back; A takes them away.
      cluster.crash(b);
      await().atMost(WAIT).until(() -> {
        Started next = start(clientA, alice(5));
        held.add(next);
        return next.action() == Action.CONTINUE;
      });
      closeAll(held);
    }
  }
}
