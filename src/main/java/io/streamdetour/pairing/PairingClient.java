package io.streamdetour.pairing;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.PairingKey;
import io.streamdetour.bus.PairingRequest;
import io.streamdetour.bus.PairingResult;
import io.streamdetour.cluster.Membership;
import io.streamdetour.metrics.DetourMetrics;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The session side of pairing: which instance joins a session's halves, and the requests to it.
 * This node's own instance when it runs one (a local delivery, no cluster round trip), else the
 * instance that a stable hash of the connection id picks among those in the directory. A session
 * keeps its {@link Route}, so both halves reach the same instance whatever joins or leaves in
 * between. Requests to an instance whose node leaves fail at once with {@code LOST}.
 */
public final class PairingClient implements AutoCloseable {

  /** The pairing instance of one session. */
  public record Route(String node, boolean local) {

    String joinAddress() {
      return local ? Addresses.PAIR : Addresses.onNode(Addresses.PAIR, node);
    }

    String cancelAddress() {
      return local ? Addresses.PAIR_CANCEL : Addresses.onNode(Addresses.PAIR_CANCEL, node);
    }

    DeliveryOptions delivery() {
      return new DeliveryOptions().setLocalOnly(local);
    }
  }

  private final Vertx vertx;
  private final Membership membership;
  private final PairingDirectory directory;
  private final boolean localInstance;
  private final DetourMetrics metrics;
  /** Requests waiting on another node's instance, by that node. */
  private final Map<String, Set<Promise<PairingResult>>> remote = new ConcurrentHashMap<>();
  private final AutoCloseable departures;

  public PairingClient(Vertx vertx, Membership membership, PairingDirectory directory, boolean localInstance,
      DetourMetrics metrics) {
    this.vertx = vertx;
    this.membership = membership;
    this.directory = directory;
    this.localInstance = localInstance;
    this.metrics = metrics;
    this.departures = membership.onNodeLeft(this::nodeLeft);
  }

  /** The instance for the session on {@code key}, or null when the cluster has none. */
  public Route route(PairingKey key) {
    if (localInstance) {
      return new Route(membership.nodeId(), true);
    }
    List<String> instances = directory.instances();
    String best = null;
    long bestScore = Long.MIN_VALUE;
    // Rendezvous hashing: an instance joining or leaving moves only the connections it wins or held.
    for (String node : instances) {
      long score = score(key.connectionId(), node);
      if (best == null || score > bestScore) {
        best = node;
        bestScore = score;
      }
    }
    return best == null ? null : new Route(best, best.equals(membership.nodeId()));
  }

  /** Instances known now: this node's, or the cluster's. */
  public int instancesKnown() {
    return localInstance ? 1 : directory.instances().size();
  }

  /**
   * Sends one half to its instance. The instance answers on its own timer; {@code backstop} only
   * guards against an answer that never comes.
   */
  public Future<PairingResult> join(Route route, PairingKey key, PairingRequest.Half half, Duration backstop) {
    PairingRequest request = new PairingRequest(key, half, membership.nodeId());
    metrics.pairingRequest(route.local());
    Future<PairingResult> reply = vertx.eventBus().<PairingResult>request(route.joinAddress(), request,
        route.delivery().setSendTimeout(backstop.toMillis())).map(Message::body);
    if (route.local()) {
      return reply;
    }
    Promise<PairingResult> answer = Promise.promise();
    Set<Promise<PairingResult>> waiting = remote.computeIfAbsent(route.node(), n -> ConcurrentHashMap.newKeySet());
    waiting.add(answer);
    long sent = System.nanoTime();
    reply.onComplete(result -> {
      waiting.remove(answer);
      if (result.succeeded() && half == PairingRequest.Half.SOUTH) {
        // The north already waits there, so this is one cluster round trip.
        metrics.pairingRemoteRoundTrip(Duration.ofNanos(System.nanoTime() - sent));
      }
      if (result.succeeded()) {
        answer.tryComplete(result.result());
      } else {
        answer.tryFail(result.cause());
      }
    });
    if (!membership.nodes().contains(route.node())) {
      answer.tryComplete(lost(route.node()));
    }
    return answer.future();
  }

  /** Forgets {@code half} of {@code key} at its instance if it still waits there. */
  public void cancel(Route route, PairingKey key, PairingRequest.Half half) {
    vertx.eventBus().send(route.cancelAddress(), new PairingRequest(key, half, membership.nodeId()), route.delivery());
  }

  private void nodeLeft(String node) {
    Set<Promise<PairingResult>> waiting = remote.remove(node);
    if (waiting != null) {
      waiting.forEach(p -> p.tryComplete(lost(node)));
    }
  }

  private static PairingResult lost(String node) {
    return new PairingResult(PairingResult.Outcome.LOST, "the pairing instance's node " + node + " left the cluster");
  }

  private static long score(String connectionId, String node) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256")
          .digest((connectionId + "|" + node).getBytes(StandardCharsets.UTF_8));
      long score = 0;
      for (int i = 0; i < 8; i++) {
        score = score << 8 | (digest[i] & 0xFF);
      }
      return score;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  @Override
  public void close() throws Exception {
    departures.close();
  }
}
