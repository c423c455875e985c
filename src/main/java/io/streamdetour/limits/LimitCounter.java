package io.streamdetour.limits;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/** Counts running sessions per key (a user, an upstream) against a cap. */
public interface LimitCounter {

  /** Adds one to {@code key} unless it is at {@code cap} already; true when added. Atomic per key. */
  CompletionStage<Boolean> tryAcquire(String key, int cap);

  /** Takes one away from {@code key}, which this node acquired before. */
  void release(String key);

  /** Counts of one node, in memory. */
  static LimitCounter local() {
    Map<String, Integer> counts = new ConcurrentHashMap<>();
    return new LimitCounter() {
      @Override
      public CompletionStage<Boolean> tryAcquire(String key, int cap) {
        boolean[] added = new boolean[1];
        counts.compute(key, (k, count) -> {
          int now = count == null ? 0 : count;
          added[0] = now < cap;
          return added[0] ? now + 1 : count;
        });
        return CompletableFuture.completedFuture(added[0]);
      }

      @Override
      public void release(String key) {
        counts.computeIfPresent(key, (k, count) -> count <= 1 ? null : count - 1);
      }
    };
  }
}
