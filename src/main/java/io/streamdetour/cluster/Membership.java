package io.streamdetour.cluster;

import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * The nodes this node works with: itself alone, or the members of its Hazelcast cluster. Node
 * ids are Vert.x's cluster node ids; they prefix connection ids, so a pairing key is unique
 * across the cluster.
 */
public interface Membership {

  String nodeId();

  /** Every node now, this one included. */
  List<String> nodes();

  boolean clustered();

  /** Whether this node is (still) a member of its cluster; always true for a single node. */
  boolean joined();

  /**
   * Calls {@code listener} with the id of every node that leaves from now on, on the Vert.x
   * context of the caller (so a verticle's state stays on its event loop).
   *
   * @return stops the calls
   */
  AutoCloseable onNodeLeft(Consumer<String> listener);

  /** The membership of {@code vertx}: its cluster when it is clustered, else a node of its own. */
  static Membership of(Vertx vertx) {
    if (!vertx.isClustered()) {
      return single(UUID.randomUUID().toString());
    }
    ClusterManager manager = ((VertxInternal) vertx).clusterManager();
    if (!(manager instanceof HazelcastClusterManager hazelcast)) {
      throw new IllegalStateException("clustered mode needs the Hazelcast cluster manager, got "
          + manager.getClass().getName());
    }
    return new HazelcastMembership(vertx, hazelcast);
  }

  /** A node that is its own cluster. */
  static Membership single(String nodeId) {
    return new Membership() {
      @Override
      public String nodeId() {
        return nodeId;
      }

      @Override
      public List<String> nodes() {
        return List.of(nodeId);
      }

      @Override
      public boolean clustered() {
        return false;
      }

      @Override
      public boolean joined() {
        return true;
      }

      @Override
      public AutoCloseable onNodeLeft(Consumer<String> listener) {
        return () -> { };
      }
    };
  }
}
