package io.streamdetour.cluster;

import io.streamdetour.limits.LimitCounter;
import io.streamdetour.pairing.PairingDirectory;
import io.vertx.core.Vertx;

import java.util.List;

/**
 * What a node shares with the others, on Hazelcast when its Vert.x is clustered and in memory
 * when it is a node of its own: who is a member, which nodes run pairing, the session counts of
 * {@code limits}.
 */
public record ClusterServices(Membership membership, PairingDirectory pairingDirectory, LimitCounter limitCounter,
    List<AutoCloseable> closeables) implements AutoCloseable {

  public static ClusterServices of(Vertx vertx) {
    Membership membership = Membership.of(vertx);
    if (membership instanceof HazelcastMembership hazelcast) {
      ReplicatedPairingDirectory directory = new ReplicatedPairingDirectory(vertx, hazelcast);
      HazelcastLimitCounter counter = new HazelcastLimitCounter(vertx, hazelcast);
      return new ClusterServices(membership, directory, counter, List.of(directory, counter));
    }
    return new ClusterServices(membership, PairingDirectory.local(), LimitCounter.local(), List.of());
  }

  @Override
  public void close() {
    for (AutoCloseable closeable : closeables) {
      try {
        closeable.close();
      } catch (Exception ignored) {
        // the cluster is going away with this node
      }
    }
  }
}
