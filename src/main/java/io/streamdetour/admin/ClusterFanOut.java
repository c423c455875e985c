package io.streamdetour.admin;

import io.streamdetour.bus.Addresses;
import io.streamdetour.cluster.Membership;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Asks every node of the cluster the same question on its own address and gathers the answers
 * that come within the timeout; the nodes that did not answer are named. This node answers
 * itself by a local delivery.
 */
final class ClusterFanOut {

  /** The answers by node, and the nodes that gave none in time. */
  record Gathered<T>(Map<String, T> answers, List<String> missing) {}

  private final Vertx vertx;
  private final Membership membership;
  private final Duration timeout;

  ClusterFanOut(Vertx vertx, Membership membership, Duration timeout) {
    this.vertx = vertx;
    this.membership = membership;
    this.timeout = timeout;
  }

  <T> Future<Gathered<T>> ask(String address, Object body) {
    List<String> nodes = membership.nodes();
    List<Future<T>> replies = new ArrayList<>();
    for (String node : nodes) {
      boolean self = node.equals(membership.nodeId());
      DeliveryOptions options = new DeliveryOptions().setSendTimeout(timeout.toMillis()).setLocalOnly(self);
      replies.add(vertx.eventBus().<T>request(Addresses.onNode(address, node), body, options).map(m -> m.body()));
    }
    return Future.join(replies).transform(done -> {
      Map<String, T> answers = new TreeMap<>();
      List<String> missing = new ArrayList<>();
      for (int i = 0; i < nodes.size(); i++) {
        if (replies.get(i).succeeded()) {
          answers.put(nodes.get(i), replies.get(i).result());
        } else {
          missing.add(nodes.get(i));
        }
      }
      return Future.succeededFuture(new Gathered<>(answers, missing));
    });
  }
}
