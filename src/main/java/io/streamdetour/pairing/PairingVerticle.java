package io.streamdetour.pairing;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.PairingKey;
import io.streamdetour.bus.PairingRequest;
import io.streamdetour.bus.PairingResult;
import io.streamdetour.cluster.Membership;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Joins the north and south halves of each session by (connection, match id). The first half
 * to arrive waits, its request unanswered, until the other half comes (both are answered
 * {@code PAIRED}), its timer fires ({@code TIMED_OUT}) or its stream goes away
 * ({@code CANCELLED}). All state is touched on this verticle's event loop only.
 *
 * <p>This node's sessions reach it locally; in a cluster it also takes the halves of nodes
 * without an instance of their own, on its node's address, and announces itself in the
 * {@link PairingDirectory} once that address is registered cluster-wide. When a node leaves,
 * the halves that came from it are dropped: nobody is left to answer.
 */
public final class PairingVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(PairingVerticle.class);

  private final Duration timeout;
  private final Membership membership;
  private final PairingDirectory directory;
  private final Map<PairingKey, Waiting> waiting = new HashMap<>();
  private List<MessageConsumer<PairingRequest>> consumers = List.of();
  private AutoCloseable departures;

  private record Waiting(Message<PairingRequest> request, long timerId) {}

  public PairingVerticle(Duration timeout, Membership membership, PairingDirectory directory) {
    this.timeout = timeout;
    this.membership = membership;
    this.directory = directory;
  }

  @Override
  public Future<?> start() {
    String node = membership.nodeId();
    consumers = List.of(
        vertx.eventBus().localConsumer(Addresses.PAIR, this::join),
        vertx.eventBus().localConsumer(Addresses.PAIR_CANCEL, message -> cancel(message.body())),
        vertx.eventBus().consumer(Addresses.onNode(Addresses.PAIR, node), this::join),
        vertx.eventBus().consumer(Addresses.onNode(Addresses.PAIR_CANCEL, node), message -> cancel(message.body())));
    departures = membership.onNodeLeft(this::dropHalvesOf);
    return Future.all(consumers.stream().map(MessageConsumer::completion).toList())
        .compose(registered -> vertx.executeBlocking(() -> {
          directory.announce(node);
          return null;
        }));
  }

  /** Out of the directory first, so that no new halves are sent here, then the waiting ones are answered. */
  @Override
  public Future<?> stop() throws Exception {
    departures.close();
    return vertx.executeBlocking(() -> {
      directory.withdraw(membership.nodeId());
      return null;
    }).eventually(() -> {
      waiting.values().forEach(w -> {
        vertx.cancelTimer(w.timerId());
        w.request().reply(new PairingResult(PairingResult.Outcome.CANCELLED, "pairing service stopped"));
      });
      waiting.clear();
      return Future.all(consumers.stream().map(MessageConsumer::unregister).toList());
    });
  }

  /** The halves that came from {@code node}, which left the cluster, wait for nothing now. */
  private void dropHalvesOf(String node) {
    int before = waiting.size();
    waiting.values().removeIf(w -> {
      if (node.equals(w.request().body().node())) {
        vertx.cancelTimer(w.timerId());
        return true;
      }
      return false;
    });
    if (waiting.size() < before) {
      LOG.info("pairing: node {} left the cluster; its {} waiting half(s) dropped", node, before - waiting.size());
    }
  }

  /** Halves waiting right now (read from any thread: a recent value, for a gauge). */
  public int waitingCount() {
    return waiting.size();
  }

  private void join(Message<PairingRequest> message) {
    PairingRequest request = message.body();
    PairingKey key = request.key();
    Waiting other = waiting.get(key);
    if (other == null) {
      long timerId = vertx.setTimer(timeout.toMillis(), id -> expire(key, id));
      waiting.put(key, new Waiting(message, timerId));
      return;
    }
    if (other.request().body().half() == request.half()) {
      LOG.warn("pairing {}: a second {} stream arrived while the first still waits; refused", key, request.half());
      message.reply(new PairingResult(PairingResult.Outcome.DUPLICATE,
          "a " + request.half() + " stream with this match id is already waiting"));
      return;
    }
    waiting.remove(key);
    vertx.cancelTimer(other.timerId());
    PairingResult paired = new PairingResult(PairingResult.Outcome.PAIRED, null);
    other.request().reply(paired);
    message.reply(paired);
  }

  private void expire(PairingKey key, long timerId) {
    Waiting w = waiting.get(key);
    if (w != null && w.timerId() == timerId) {
      waiting.remove(key);
      PairingRequest.Half half = w.request().body().half();
      LOG.warn("pairing {}: the {} stream got no {} stream within {} ms", key, half,
          half == PairingRequest.Half.NORTH ? "south" : "north", timeout.toMillis());
      w.request().reply(new PairingResult(PairingResult.Outcome.TIMED_OUT,
          "no partner within " + timeout.toMillis() + " ms"));
    }
  }

  /** Only the half that asked may be cancelled: the key may since belong to a newer session. */
  private void cancel(PairingRequest request) {
    Waiting w = waiting.get(request.key());
    if (w != null && w.request().body().half() == request.half()) {
      waiting.remove(request.key());
      vertx.cancelTimer(w.timerId());
      w.request().reply(new PairingResult(PairingResult.Outcome.CANCELLED, "the waiting stream ended"));
    }
  }
}
