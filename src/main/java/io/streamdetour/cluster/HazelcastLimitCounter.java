package io.streamdetour.cluster;

import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import io.streamdetour.limits.LimitCounter;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * Cluster-wide session counts in a Hazelcast map: per key, how many sessions each node holds.
 * Entry processors run on the key's partition one at a time, so a cap is never exceeded by
 * concurrent starts anywhere in the cluster; keeping the counts per node lets the share of a
 * node that leaves be taken away at once (by the oldest member left).
 */
final class HazelcastLimitCounter implements LimitCounter, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(HazelcastLimitCounter.class);
  static final String MAP = "stream-detour.limits";

  private final HazelcastMembership membership;
  private final IMap<String, HashMap<String, Integer>> counts;
  private final String node;
  private final AutoCloseable departures;

  HazelcastLimitCounter(Vertx vertx, HazelcastMembership membership) {
    this.membership = membership;
    this.counts = membership.hazelcast().getMap(MAP);
    this.node = membership.nodeId();
    this.departures = membership.onNodeLeft(left -> {
      if (membership.hazelcast().getCluster().getMembers().iterator().next().localMember()) {
        vertx.executeBlocking(() -> counts.executeOnEntries(new DropNode(left)), false)
            .onSuccess(keys -> LOG.info("limits: node {} left; its share of {} counted key(s) released", left,
                keys.values().stream().filter(Boolean::booleanValue).count()))
            .onFailure(e -> LOG.warn("limits: could not release the counts of node {}: {}", left, e.toString()));
      }
    });
  }

  @Override
  public CompletionStage<Boolean> tryAcquire(String key, int cap) {
    return counts.submitToKey(key, new Acquire(node, cap));
  }

  @Override
  public void release(String key) {
    try {
      counts.submitToKey(key, new Release(node)).exceptionally(e -> {
        LOG.warn("limits: could not release one count of {}: {}", key, e.toString());
        return null;
      });
    } catch (RuntimeException e) {
      // This member is no longer running: the others drop its whole share when they see it go.
      LOG.warn("limits: could not release one count of {}: {}", key, e.toString());
    }
  }

  @Override
  public void close() throws Exception {
    departures.close();
  }

  private static int total(Map<String, Integer> perNode) {
    return perNode.values().stream().mapToInt(Integer::intValue).sum();
  }

  /** One more for {@code node} unless the key's total is at {@code cap}. */
  record Acquire(String node, int cap) implements EntryProcessor<String, HashMap<String, Integer>, Boolean> {

    @Override
    public Boolean process(Map.Entry<String, HashMap<String, Integer>> entry) {
      HashMap<String, Integer> perNode = entry.getValue() == null ? new HashMap<>() : entry.getValue();
      if (total(perNode) >= cap) {
        return false;
      }
      perNode.merge(node, 1, Integer::sum);
      entry.setValue(perNode);
      return true;
    }
  }

  /** One less for {@code node}; an empty key goes. */
  record Release(String node) implements EntryProcessor<String, HashMap<String, Integer>, Boolean> {

    @Override
    public Boolean process(Map.Entry<String, HashMap<String, Integer>> entry) {
      HashMap<String, Integer> perNode = entry.getValue();
      if (perNode == null || !perNode.containsKey(node)) {
        return false;
      }
      perNode.computeIfPresent(node, (n, c) -> c <= 1 ? null : c - 1);
      entry.setValue(perNode.isEmpty() ? null : perNode);
      return true;
    }
  }

  /** Whatever {@code node} held, for a node that left. */
  record DropNode(String node) implements EntryProcessor<String, HashMap<String, Integer>, Boolean> {

    @Override
    public Boolean process(Map.Entry<String, HashMap<String, Integer>> entry) {
      HashMap<String, Integer> perNode = entry.getValue();
      if (perNode == null || perNode.remove(node) == null) {
        return false;
      }
      entry.setValue(perNode.isEmpty() ? null : perNode);
      return true;
    }
  }
}
