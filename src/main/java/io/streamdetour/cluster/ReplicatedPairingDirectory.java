package io.streamdetour.cluster;

import com.hazelcast.replicatedmap.ReplicatedMap;
import io.streamdetour.pairing.PairingDirectory;
import io.vertx.core.Vertx;

import java.util.List;

/**
 * The pairing instances of the cluster in a Hazelcast replicated map (node id to the time it
 * announced): every member holds a copy, so routing reads it without a round trip. An instance
 * announces itself once its consumers are registered cluster-wide; the entry of a node that
 * leaves is removed by the members that see it go. Writes reach the key's partition owner, so
 * they run off the event loop.
 */
final class ReplicatedPairingDirectory implements PairingDirectory, AutoCloseable {

  static final String MAP = "stream-detour.pairing.instances";

  private final ReplicatedMap<String, Long> instances;
  private final AutoCloseable departures;

  ReplicatedPairingDirectory(Vertx vertx, HazelcastMembership membership) {
    this.instances = membership.hazelcast().getReplicatedMap(MAP);
    this.departures = membership.onNodeLeft(node -> vertx.executeBlocking(() -> instances.remove(node), false));
  }

  @Override
  public List<String> instances() {
    return instances.keySet().stream().sorted().toList();
  }

  @Override
  public void announce(String node) {
    instances.put(node, System.currentTimeMillis());
  }

  @Override
  public void withdraw(String node) {
    instances.remove(node);
  }

  @Override
  public void close() throws Exception {
    departures.close();
  }
}
