package io.streamdetour.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.metrics.DetourMetrics;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.FileNotFoundException;

/**
 * Starts a clustered Vert.x on Hazelcast (vertx-hazelcast) as {@code cluster} says, and makes
 * sure it really joined: a node that sees fewer than {@code cluster.min-size} members within
 * {@code cluster.join-timeout} leaves again and fails with a {@link ClusterJoinException}
 * saying why, instead of serving as a cluster of its own.
 */
public final class ClusterJoin {

  private static final Logger LOG = LoggerFactory.getLogger(ClusterJoin.class);
  /** The embedded copy of {@code cluster/hazelcast.yaml}. */
  public static final String DEFAULT_HAZELCAST_CONFIG = "io/streamdetour/defaults/hazelcast.yaml";
  private static final long MEMBER_POLL_MILLIS = 100;

  private ClusterJoin() {}

  /** Joins with Vert.x's own meters in {@code registry}, as {@link DetourMetrics#vertxBuilder} does. */
  public static Future<Vertx> start(ServerConfig.Cluster cluster, PrometheusMeterRegistry registry) {
    Config hazelcast;
    try {
      hazelcast = hazelcastConfig(cluster);
    } catch (RuntimeException | FileNotFoundException e) {
      return Future.failedFuture(new ClusterJoinException("cluster.hazelcast-config: cannot be read: " + e.getMessage(), e));
    }
    HazelcastClusterManager manager = new HazelcastClusterManager(hazelcast);
    VertxOptions options = new VertxOptions();
    options.getEventBusOptions().setPort(cluster.eventBusPort());
    if (!cluster.host().isEmpty()) {
      options.getEventBusOptions().setHost(cluster.host());
    }
    String where = describe(hazelcast);
    LOG.info("joining the cluster '{}' as {}", hazelcast.getClusterName(), where);
    return DetourMetrics.vertxBuilder(options, registry).withClusterManager(manager).buildClustered()
        .recover(e -> Future.failedFuture(new ClusterJoinException(
            "cannot join the cluster as " + where + ": " + rootMessage(e), e)))
        .compose(vertx -> awaitMembers(vertx, manager, cluster, where));
  }

  /**
   * The Hazelcast file (or the embedded one) with {@code cluster.host}, {@code port} and
   * {@code members} put in, join by TCP-IP only.
   */
  static Config hazelcastConfig(ServerConfig.Cluster cluster) throws FileNotFoundException {
    Config config = cluster.hazelcastConfig().isEmpty()
        ? Config.loadFromClasspath(ClusterJoin.class.getClassLoader(), DEFAULT_HAZELCAST_CONFIG)
        : Config.loadFromFile(new File(cluster.hazelcastConfig()));
    NetworkConfig network = config.getNetworkConfig();
    if (!cluster.host().isEmpty()) {
      network.getInterfaces().setEnabled(true).clear().addInterface(cluster.host());
      config.setProperty("hazelcast.socket.bind.any", "false");
    }
    if (cluster.port() > 0) {
      network.setPort(cluster.port()).setPortAutoIncrement(false);
    }
    JoinConfig join = network.getJoin();
    if (!cluster.members().isEmpty()) {
      join.getMulticastConfig().setEnabled(false);
      join.getAutoDetectionConfig().setEnabled(false);
      join.getTcpIpConfig().setEnabled(true).setMembers(cluster.members());
    }
    if (join.getMulticastConfig().isEnabled()) {
      LOG.warn("cluster: the Hazelcast configuration joins by multicast; members are then found by whoever"
          + " answers on the network. Prefer a TCP-IP member list (cluster.members)");
    }
    // Hazelcast otherwise reports usage to its vendor at start.
    config.setProperty("hazelcast.phone.home.enabled", "false");
    return config;
  }

  private static Future<Vertx> awaitMembers(Vertx vertx, HazelcastClusterManager manager,
      ServerConfig.Cluster cluster, String where) {
    Promise<Vertx> joined = Promise.promise();
    long deadline = System.nanoTime() + cluster.joinTimeout().toNanos();
    vertx.setPeriodic(0, MEMBER_POLL_MILLIS, id -> {
      int members = manager.getNodes().size();
      if (members >= cluster.minSize()) {
        vertx.cancelTimer(id);
        LOG.info("joined the cluster as node {} ({}): {} member(s)", manager.getNodeId(), where, members);
        joined.complete(vertx);
      } else if (System.nanoTime() >= deadline) {
        vertx.cancelTimer(id);
        String why = "joined no cluster of cluster.min-size " + cluster.minSize() + " within "
            + cluster.joinTimeout().toMillis() + " ms: this node (" + where + ") sees " + members
            + " member(s); is any member of " + manager.getConfig().getNetworkConfig().getJoin().getTcpIpConfig()
            .getMembers() + " running, reachable and of cluster name '" + manager.getConfig().getClusterName() + "'?";
        vertx.close().onComplete(closed -> joined.fail(new ClusterJoinException(why, null)));
      }
    });
    return joined.future();
  }

  private static String describe(Config config) {
    NetworkConfig network = config.getNetworkConfig();
    String host = network.getInterfaces().isEnabled() ? String.join(",", network.getInterfaces().getInterfaces()) : "*";
    return host + ":" + network.getPort() + ", members " + network.getJoin().getTcpIpConfig().getMembers();
  }

  private static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + root.getMessage() + ")";
  }

  /** Why a node could not join its cluster. */
  public static final class ClusterJoinException extends RuntimeException {

    ClusterJoinException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
