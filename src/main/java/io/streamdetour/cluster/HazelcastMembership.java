package io.streamdetour.cluster;

import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * The members of this node's Hazelcast cluster. Departures come from Hazelcast's own
 * membership listener: Vert.x's node listener slot belongs to Vert.x (its HA manager).
 */
public final class HazelcastMembership implements Membership {

  /** The member attribute where vertx-hazelcast keeps each member's Vert.x node id. */
  private static final String NODE_ID_ATTRIBUTE = "__vertx.nodeId";

  private final Vertx vertx;
  private final HazelcastClusterManager manager;

  HazelcastMembership(Vertx vertx, HazelcastClusterManager manager) {
    this.vertx = vertx;
    this.manager = manager;
  }

  public HazelcastInstance hazelcast() {
    return manager.getHazelcastInstance();
  }

  @Override
  public String nodeId() {
    return manager.getNodeId();
  }

  @Override
  public List<String> nodes() {
    return manager.getNodes();
  }

  @Override
  public boolean clustered() {
    return true;
  }

  @Override
  public boolean joined() {
    return manager.isActive() && hazelcast().getLifecycleService().isRunning();
  }

  @Override
  public AutoCloseable onNodeLeft(Consumer<String> listener) {
    Context context = vertx.getOrCreateContext();
    UUID id = hazelcast().getCluster().addMembershipListener(new MembershipListener() {
      @Override
      public void memberAdded(MembershipEvent event) {
        // joining nodes announce themselves (pairing directory); nothing to do here
      }

      @Override
      public void memberRemoved(MembershipEvent event) {
        String node = event.getMember().getAttribute(NODE_ID_ATTRIBUTE);
        if (node != null) {
          context.runOnContext(v -> listener.accept(node));
        }
      }
    });
    return () -> {
      if (hazelcast().getLifecycleService().isRunning()) {
        hazelcast().getCluster().removeMembershipListener(id);
      }
    };
  }
}
