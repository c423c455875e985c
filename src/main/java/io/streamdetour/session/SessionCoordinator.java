package io.streamdetour.session;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.Decision;
import io.streamdetour.bus.DecisionRequest;
import io.streamdetour.bus.PairingKey;
import io.streamdetour.bus.PairingRequest;
import io.streamdetour.bus.PairingResult;
import io.streamdetour.bus.RunningSession;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.codec.Action;
import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.codec.DetourReply;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.SouthHeader;
import io.streamdetour.codec.HeaderException;
import io.streamdetour.codec.StreamHeader;
import io.streamdetour.config.AppliedConfig;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.DecodedStreamHandler;
import io.streamdetour.edge.EdgeStream;
import io.streamdetour.limits.SessionLimits;
import io.streamdetour.metrics.DetourMetrics;
import io.streamdetour.pairing.PairingClient;
import io.streamdetour.relay.Direction;
import io.streamdetour.relay.Inspector;
import io.streamdetour.relay.InspectorChain;
import io.streamdetour.relay.InspectorRegistry;
import io.streamdetour.relay.StreamRelay;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * What happens to each decoded stream: a north header is put to the policy over the event bus
 * and answered; a continued north is registered for pairing and relayed; a south stream is
 * paired with its north and relayed. Runs on the stream's own virtual thread, so waiting for
 * the bus blocks nothing else. Decisions and session records stay on this node; pairing may
 * cross the cluster ({@link PairingClient}), and so may the counts of {@code limits}.
 */
public final class SessionCoordinator implements DecodedStreamHandler {

  private static final Logger LOG = LoggerFactory.getLogger(SessionCoordinator.class);
  private static final long IDLE_SWEEP_MILLIS = 250;

  private final Vertx vertx;
  /** The configuration new sessions start with; a running session keeps its own snapshot. */
  private final Supplier<AppliedConfig> config;
  private final InspectorRegistry inspectors;
  /** Makes the capture inspector of a session whose rule asks for capture. */
  private final CaptureOpener capture;
  private final DetourMetrics metrics;
  private final PairingClient pairing;
  private final SessionLimits limits;
  private final String nodeId;
  private final Map<PairingKey, Session> sessions = new ConcurrentHashMap<>();
  /** Ended sessions out of the map whose record is not published yet. */
  private final AtomicInteger recording = new AtomicInteger();
  private final long idleSweepTimer;
  private volatile boolean draining;

  /** Opens the capture of one session; it must never throw, whatever the disk does. */
  @FunctionalInterface
  public interface CaptureOpener {
    Inspector open(NorthHeader header, String connectionId, String rule);
  }

  public SessionCoordinator(Vertx vertx, Supplier<AppliedConfig> config, InspectorRegistry inspectors,
      CaptureOpener capture, DetourMetrics metrics, PairingClient pairing, SessionLimits limits, String nodeId) {
    this.vertx = vertx;
    this.config = config;
    this.inspectors = inspectors;
    this.capture = capture;
    this.metrics = metrics;
    this.pairing = pairing;
    this.limits = limits;
    this.nodeId = nodeId;
    this.idleSweepTimer = vertx.setPeriodic(IDLE_SWEEP_MILLIS, id -> endIdleSessions());
  }

  /** Continued sessions relaying right now. */
  public int activeSessions() {
    return sessions.size();
  }

  /**
   * No continued session runs and every ended one's record is published: what a stop waits
   * for before the session log goes. The map is read first: a session leaves it only after
   * it is counted in {@code recording}.
   */
  public boolean idle() {
    return sessions.isEmpty() && recording.get() == 0;
  }

  /** The continued sessions running now. */
  public List<RunningSession> sessions() {
    return sessions.values().stream().map(s -> s.view(nodeId)).toList();
  }

  /**
   * Cuts every running session of task {@code taskId} (g3proxy's task id; normally one).
   *
   * @return how many were cut
   */
  public int cut(String taskId, String reason) {
    int cut = 0;
    for (Session session : sessions.values()) {
      // An ended session waits in the map only while its record is written: nothing to cut.
      if (!session.ended() && session.header().taskId().toString().equalsIgnoreCase(taskId)) {
        LOG.info("session {} (task {}): cut: {}", session.key(), taskId, reason);
        session.abort(reason, DetourErrorCodes.CUT_BY_OPERATOR);
        cut++;
      }
    }
    return cut;
  }

  @Override
  public void onHeaderError(HeaderException.Kind kind) {
    metrics.headerError(kind);
  }

  @Override
  public void onStream(StreamHeader header, EdgeStream stream) {
    DirectReplies.run(() -> {
      switch (header) {
        case NorthHeader north -> north(north, stream);
        case SouthHeader south -> south(south, stream);
      }
    });
  }

  private void north(NorthHeader header, EdgeStream stream) {
    if (draining) {
      LOG.info("north {} ({}) refused: server is shutting down", stream, header.taskId());
      stream.reset(DetourErrorCodes.SERVER_SHUTDOWN);
      return;
    }
    AppliedConfig applied = config.get();
    ServerConfig snapshot = applied.config();
    PairingKey key = new PairingKey(stream.connectionId(), header.matchId());
    long asked = System.nanoTime();
    Decision decision = decide(stream, header, snapshot.decision());
    SessionLimits.Admission admission = SessionLimits.Admission.UNCOUNTED;
    if (decision.action() == Action.CONTINUE) {
      admission = limits.admit(header, snapshot.limits(), snapshot.decision().timeout(), snapshot.decision().fallback());
      if (!admission.admitted()) {
        metrics.limitRejected(admission.refusedBy());
        LOG.info("north {} ({}): over limits.{} (user {}, upstream {}); {}", stream, header.taskId(),
            admission.refusedBy(), header.username(), header.upstream(), admission.action());
        decision = new Decision(admission.action(), "limit-" + admission.refusedBy());
      }
    }
    metrics.decided(header.protocol(), decision.action(), Duration.ofNanos(System.nanoTime() - asked));
    if (decision.action() != Action.CONTINUE) {
      if (reply(stream, header, decision)) {
        endUndetoured(stream, header, key, decision, applied.version(), snapshot.header().timeout());
      } else {
        publish(SessionEnded.of(header, decision, applied.version(), key, 0, 0, millisSince(asked), "reply_failed"));
      }
      return;
    }
    // Checked before the inspectors are made: a capture opened here would index a session
    // that never ran. putIfAbsent below still decides a race.
    if (sessions.containsKey(key)) {
      admission.release().run();
      refuseDuplicate(stream, header, key, decision, applied.version(), asked);
      return;
    }
    PairingClient.Route route = pairing.route(key);
    if (route == null) {
      LOG.error("north {} ({}): no pairing instance in the cluster (pairing.local is false here and no other"
          + " node announced one); stream reset", stream, header.taskId());
      admission.release().run();
      stream.reset(DetourErrorCodes.PAIRING_FAILED);
      publish(SessionEnded.of(header, decision, applied.version(), key, 0, 0, 0, "pairing_unavailable"));
      return;
    }
    InspectorChain chain;
    try {
      chain = inspectorsFor(header, stream.connectionId(), decision, snapshot.relay());
    } catch (RuntimeException e) {
      LOG.error("north {} ({}): {}; stream reset", stream, header.taskId(), e.getMessage(), e);
      admission.release().run();
      stream.reset(DetourErrorCodes.INTERNAL_ERROR);
      publish(SessionEnded.of(header, decision, applied.version(), key, 0, 0, millisSince(asked), "inspector_failed"));
      return;
    }
    Session session = new Session(key, header, decision, applied, stream, chain, metrics, this::ended, route,
        admission.release());
    if (sessions.putIfAbsent(key, session) != null) {
      session.inspectors().close();
      admission.release().run();
      refuseDuplicate(stream, header, key, decision, applied.version(), asked);
      return;
    }
    // Registered before the reply goes out: g3proxy opens south only after reading it.
    awaitSouth(session);
    if (!reply(stream, header, decision)) {
      session.abort("reply_failed", DetourErrorCodes.SESSION_ABORTED);
      session.directionEnded(Direction.NORTH, StreamRelay.Outcome.RESET);
      return;
    }
    session.directionEnded(Direction.NORTH,
        StreamRelay.pump(stream, Direction.NORTH, session.inspectors(), session.relay().bufferBytes(), session));
  }

  /** A second continued north with the match id of a running session: g3proxy never does that. */
  private void refuseDuplicate(EdgeStream stream, NorthHeader header, PairingKey key, Decision decision,
      int configVersion, long asked) {
    LOG.warn("north {} ({}): match id {} is still in use on this connection; stream reset",
        stream, header.taskId(), header.matchId());
    stream.reset(DetourErrorCodes.PAIRING_FAILED);
    publish(SessionEnded.of(header, decision, configVersion, key, 0, 0, millisSince(asked), "duplicate_match_id"));
  }

  private static long millisSince(long nanoTime) {
    return (System.nanoTime() - nanoTime) / 1_000_000;
  }

  private void south(SouthHeader header, EdgeStream stream) {
    PairingKey key = new PairingKey(stream.connectionId(), header.matchId());
    Session session = sessions.get(key);
    if (session == null) {
      LOG.warn("south {}: no continued north stream with match id {} on this connection; stream reset",
          stream, header.matchId());
      stream.reset(DetourErrorCodes.PAIRING_FAILED);
      return;
    }
    PairingResult result = pairSouth(session);
    if (result.outcome() == PairingResult.Outcome.TIMED_OUT) {
      metrics.pairingTimeout();
    }
    if (result.outcome() != PairingResult.Outcome.PAIRED || !session.attachSouth(stream)) {
      LOG.warn("south {}: pairing {} failed: {} {}", stream, key, result.outcome(),
          result.detail() == null ? "" : result.detail());
      stream.reset(DetourErrorCodes.PAIRING_FAILED);
      return;
    }
    session.directionEnded(Direction.SOUTH,
        StreamRelay.pump(stream, Direction.SOUTH, session.inspectors(), session.relay().bufferBytes(), session));
  }

  private Decision decide(EdgeStream stream, NorthHeader header, ServerConfig.Decision settings) {
    Duration timeout = settings.timeout();
    try {
      return awaitReply(Addresses.DECIDE, new DecisionRequest(stream.connectionId(), stream.streamId(), header),
          timeout.toMillis());
    } catch (ExecutionException | TimeoutException e) {
      Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
      boolean late = cause instanceof TimeoutException
          || cause instanceof ReplyException reply && reply.failureType() == ReplyFailure.TIMEOUT;
      Action fallback = settings.fallback();
      metrics.fallback(late ? "timeout" : "error");
      if (late) {
        LOG.warn("north {} ({}): no decision within {} ms; fallback {}", stream, header.taskId(),
            timeout.toMillis(), fallback);
      } else {
        LOG.warn("north {} ({}): the policy failed ({}); fallback {}", stream, header.taskId(),
            cause.getMessage(), fallback);
      }
      return new Decision(fallback, "fallback");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Decision(settings.fallback(), "fallback");
    }
  }

  /** {@code relay.inspectors}, then the rule's own, then capture when the rule asks for it. */
  private InspectorChain inspectorsFor(NorthHeader header, String connectionId, Decision decision,
      ServerConfig.Relay relay) {
    List<String> names = new ArrayList<>(relay.inspectors());
    decision.options().inspectors().stream().filter(n -> !names.contains(n)).forEach(names::add);
    List<Inspector> chain = new ArrayList<>(inspectors.create(names, header));
    if (decision.options().capture()) {
      // Last, so the capture holds exactly what was relayed.
      try {
        chain.add(capture.open(header, connectionId, decision.rule()));
      } catch (RuntimeException e) {
        new InspectorChain(chain).close();
        throw new IllegalStateException("capture could not be opened: " + e, e);
      }
    }
    return chain.isEmpty() ? InspectorChain.EMPTY : new InspectorChain(chain);
  }

  /** After bypass or block the reply is all north gets: its FIN goes with it. */
  private static boolean reply(EdgeStream stream, NorthHeader header, Decision decision) {
    byte[] reply = new DetourReply(header.matchId(), decision.action()).encode();
    try {
      if (decision.action() == Action.CONTINUE) {
        stream.write(reply, 0, reply.length);
      } else {
        stream.writeAndFinish(reply, 0, reply.length);
      }
      return true;
    } catch (IOException e) {
      LOG.info("north {} ({}): could not send the reply: {}", stream, header.taskId(), e.getMessage());
      stream.reset(DetourErrorCodes.SESSION_ABORTED);
      return false;
    }
  }

  /**
   * After bypass or block g3proxy finishes both detour streams: ours was finished with the reply;
   * read the rest of north away quietly, for at most the header timeout.
   */
  private void endUndetoured(EdgeStream stream, NorthHeader header, PairingKey key, Decision decision,
      int configVersion, Duration drainLimit) {
    long start = System.nanoTime();
    long timer = vertx.setTimer(drainLimit.toMillis(), id -> stream.stopReading(DetourErrorCodes.NO_ERROR));
    byte[] sink = new byte[4096];
    try {
      while (stream.read(sink, 0, sink.length) >= 0) {
        // g3proxy sends nothing after the header here; anything that comes is dropped
      }
    } catch (IOException ignored) {
      // stopped reading or reset: either way this stream is done
    } finally {
      vertx.cancelTimer(timer);
    }
    publish(SessionEnded.of(header, decision, configVersion, key, 0, 0, millisSince(start),
        decision.action() == Action.BYPASS ? "bypassed" : "blocked"));
  }

  /** The north half waits in the pairing service; if its south never comes, the session ends. */
  private void awaitSouth(Session session) {
    pairing.join(session.pairingRoute(), session.key(), PairingRequest.Half.NORTH, pairingWait(session.pairingTimeout()))
        .onComplete(reply -> {
          PairingResult result = reply.succeeded() ? reply.result()
              : new PairingResult(PairingResult.Outcome.TIMED_OUT, reply.cause().getMessage());
          if (result.outcome() == PairingResult.Outcome.TIMED_OUT && !session.ended()) {
            metrics.pairingTimeout();
          }
          if (result.outcome() != PairingResult.Outcome.PAIRED && !session.ended()) {
            if (result.outcome() == PairingResult.Outcome.LOST) {
              LOG.warn("session {}: {}; ended", session.key(), result.detail());
            }
            session.abort(switch (result.outcome()) {
              case CANCELLED -> "cancelled";
              case LOST -> "pairing_lost";
              default -> "south_missing";
            }, DetourErrorCodes.PAIRING_FAILED);
          }
        });
  }

  private PairingResult pairSouth(Session session) {
    Duration wait = pairingWait(session.pairingTimeout());
    try {
      return pairing.join(session.pairingRoute(), session.key(), PairingRequest.Half.SOUTH, wait)
          .toCompletionStage().toCompletableFuture().get(wait.toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      return new PairingResult(PairingResult.Outcome.TIMED_OUT, String.valueOf(e.getMessage()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new PairingResult(PairingResult.Outcome.CANCELLED, "interrupted");
    }
  }

  /**
   * Sends a request and parks this (virtual) thread for the reply. The bus's own timeout
   * answers first; the wait here only guards against a reply that never comes at all.
   */
  private <T> T awaitReply(String address, Object body, long timeoutMillis)
      throws ExecutionException, TimeoutException, InterruptedException {
    return vertx.eventBus().<T>request(address, body, new DeliveryOptions().setSendTimeout(timeoutMillis)
            .setLocalOnly(true))
        .toCompletionStage().toCompletableFuture().get(timeoutMillis + 1000, TimeUnit.MILLISECONDS).body();
  }

  /** The pairing service answers on its own timer; the bus timeout behind it is only a backstop. */
  private static Duration pairingWait(Duration pairingTimeout) {
    return pairingTimeout.plusSeconds(5);
  }

  private void ended(Session session) {
    // Counted before it leaves the map, until its record is out: see idle().
    recording.incrementAndGet();
    try {
      sessions.remove(session.key(), session);
      session.releaseLimits().run();
      // A north that ended before its south came must not wait on in the pairing service; once
      // the south attached, the instance answered both halves and holds nothing of this session.
      if (!session.southAttached()) {
        pairing.cancel(session.pairingRoute(), session.key(), PairingRequest.Half.NORTH);
      }
      publish(session.record());
    } finally {
      recording.decrementAndGet();
    }
  }

  /** To this node's session log (and local listeners) only: records do not cross the cluster. */
  private void publish(SessionEnded record) {
    metrics.sessionEnded(record.end());
    vertx.eventBus().publish(Addresses.SESSION_ENDED, record, new DeliveryOptions().setLocalOnly(true));
  }

  private void endIdleSessions() {
    long now = System.nanoTime();
    for (Session session : sessions.values()) {
      Duration limit = session.relay().idleTimeout();
      if (session.idleNanos(now) > limit.toNanos()) {
        LOG.info("session {}: idle for {} ms; ended", session.key(), limit.toMillis());
        session.abort("idle_timeout", DetourErrorCodes.IDLE_TIMEOUT);
      }
    }
  }

  /**
   * New north streams are refused from now on; the south streams of sessions already
   * continued still pair, so those sessions can finish.
   */
  public void stopAccepting() {
    draining = true;
  }

  /** Cuts every session still running, for shutdown. */
  public void abortAll(String reason, long code) {
    sessions.values().forEach(s -> s.abort(reason, code));
  }

  public void close() {
    vertx.cancelTimer(idleSweepTimer);
  }
}
