package io.streamdetour.cluster;

import io.streamdetour.testclient.QuinnResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Connection-id routing behind one VIP (QUIC-LB): three nodes on the Netty edge, each issuing
 * connection ids that carry its {@code quic.server-id} in octet 1, behind the lab's balancer in
 * its {@code cid} mode (short-header packets of a new flow go to the node their destination
 * connection id names). The client's NAT then rebinds (every flow to the VIP gets a new source
 * port): to the balancer each connection is a new flow, which only its connection id can take to
 * the node that holds it. The same nodes then relay through a link that loses packets. Needs
 * root, like {@link ClusterVipTest}; skips itself, saying why, elsewhere.
 *
 * <p>The rebinding happens while the connections are idle: quiche (cloudflare/quiche#2452, open)
 * never sends again what was in flight on the old path when a peer's address changes, so a
 * rebinding in the middle of a transfer can leave a stream with a hole that no retransmission
 * fills (README, "Connection-id routing").
 */
class ConnectionIdRoutingTest {

  private static final String ALPN = "g3-detour";
  private static final int CONNECTIONS = 9;
  private static VipLab lab;
  private static String unavailable;

  @BeforeAll
  static void start() {
    unavailable = VipLab.unavailableReason();
    if (unavailable == null && !VipLab.succeeds("conntrack", "--version")) {
      unavailable = "rebinding the client needs conntrack (Debian: conntrack; .ci/run installs it)";
    }
    if (unavailable != null) {
      return;
    }
    lab = VipLab.up("sdcid", Map.of(
        "SDLAB_ROUTING", "cid",
        // Routing is the subject here, not pairing across nodes: each node pairs its own halves.
        "SDLAB_CLUSTER", "no",
        "STREAM_DETOUR_QUIC__EDGE", "netty",
        "STREAM_DETOUR_QUIC__ALPN", ALPN,
        "SDLAB_NODE_ENV_1", "STREAM_DETOUR_QUIC__SERVER_ID=1",
        "SDLAB_NODE_ENV_2", "STREAM_DETOUR_QUIC__SERVER_ID=2",
        "SDLAB_NODE_ENV_3", "STREAM_DETOUR_QUIC__SERVER_ID=3"));
    lab.startNodes();
  }

  @AfterAll
  static void stop() {
    if (lab != null) {
      lab.close();
    }
  }

  /**
   * Nine idle connections, keep-alive every second, idle timeout 5 s; the client rebinds once all
   * are up. With {@code cid} routing every keep-alive from a new port reaches the node that holds
   * its connection and all nine live to the end; with {@code 4tuple} routing the same rebinding
   * sends each to a node picked by the hash (the right one for a third of them), and the others
   * time out. Both runs, so the test shows the rebinding does move the flows.
   */
  @Test
  void idleConnectionsKeepTheirNodeAfterTheClientsAddressChanges() throws Exception {
    assumeTrue(unavailable == null, unavailable);
    RebindRun byId = rebindIdleConnections();
    assertThat(byId.result.passed()).as(byId.result.toString()).isTrue();
    assertThat(byId.result.getLong("alive_at_end")).isEqualTo(CONNECTIONS);
    // Each connection's keep-alives from its new port: a new flow the cid rule took to its node.
    // (A connection whose node answered between the rebinding and its next keep-alive keeps its
    // old port: the answer made the client's conntrack entry anew, without the new mapping.)
    assertThat(byId.flowsAfter - byId.flowsAtRebind).as("new flows after the rebinding")
        .isGreaterThanOrEqualTo(CONNECTIONS - 2);

    lab.routing("4tuple");
    try {
      RebindRun byHash = rebindIdleConnections();
      assertThat(byHash.result.getLong("closed_early")).as("connections lost with 4-tuple routing; "
          + byHash.result).isPositive();
    } finally {
      lab.routing("cid");
    }
  }

  /**
   * 2 % of the datagrams lost each way, 2 000 short sessions: every FIN that is lost must be sent
   * again. quiche forgets a lost FIN that travelled alone once the bytes before it are
   * acknowledged; before the relay sent its FIN with its last bytes, about 5 % of these FINs went
   * alone and a run left about four sessions that never ended.
   */
  @Test
  void everySessionEndsWhenTheLinkLosesPackets() {
    assumeTrue(unavailable == null, unavailable);
    lab.loss(20);
    try {
      QuinnResult result = lab.client(Duration.ofSeconds(150), "--alpn", ALPN, "--sessions", "2000",
          "--concurrency", "32", "--bytes", "64K", "--relay-timeout", "30");
      assertThat(result.passed()).as(result.toString()).isTrue();
      assertThat(result.getLong("bytes_verified")).isEqualTo(2000L * 2 * 64 * 1024);
    } finally {
      lab.loss(0);
    }
  }

  private record RebindRun(QuinnResult result, long flowsAtRebind, long flowsAfter) {}

  /** {@link #CONNECTIONS} connections held idle 15 s, the client rebound once all are up. */
  private static RebindRun rebindIdleConnections() throws Exception {
    double openBefore = lab.metricOnAllNodes("stream_detour_connections");
    CompletableFuture<QuinnResult> run = CompletableFuture.supplyAsync(() -> lab.client(Duration.ofSeconds(60),
        "--alpn", ALPN, "--connections", String.valueOf(CONNECTIONS), "--hold-idle", "15",
        "--keep-alive", "1", "--quic-idle-timeout", "5"));
    await().atMost(Duration.ofSeconds(30))
        .until(() -> lab.metricOnAllNodes("stream_detour_connections") - openBefore >= CONNECTIONS || run.isDone());
    long flowsAtRebind = totalFlows();
    lab.rebind();
    QuinnResult result = run.get(90, TimeUnit.SECONDS);
    return new RebindRun(result, flowsAtRebind, totalFlows());
  }

  private static long totalFlows() {
    return lab.flows().values().stream().mapToLong(Long::longValue).sum();
  }
}
