package io.streamdetour.session;

import io.streamdetour.bus.Decision;
import io.streamdetour.bus.DecisionRequest;
import io.streamdetour.bus.PairingKey;
import io.streamdetour.bus.RunningSession;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.config.AppliedConfig;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.EdgeStream;
import io.streamdetour.metrics.DetourMetrics;
import io.streamdetour.pairing.PairingClient;
import io.streamdetour.relay.Direction;
import io.streamdetour.relay.InspectorChain;
import io.streamdetour.relay.StreamRelay;
import io.vertx.core.Context;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * One continued session: its north stream from the start, its south stream once paired. It
 * ends when both directions have ended; the first reason to end it is the one logged.
 */
final class Session implements StreamRelay.Progress {

  private final PairingKey key;
  private final NorthHeader header;
  private final Decision decision;
  private final int configVersion;
  private final ServerConfig.Relay relay;
  private final Duration pairingTimeout;
  private final EdgeStream north;
  private final InspectorChain inspectors;
  private final DetourMetrics metrics;
  private final Consumer<Session> onEnd;
  private final PairingClient.Route pairingRoute;
  /** Gives back this session's counts of {@code limits}. */
  private final Runnable releaseLimits;
  private final Instant started = Instant.now();
  private final long startNanos = System.nanoTime();
  private final AtomicInteger openDirections = new AtomicInteger(2);
  /** Set once: by the south stream attaching, or by an end that came first. */
  private final AtomicBoolean southClaimed = new AtomicBoolean();
  private final AtomicReference<String> endReason = new AtomicReference<>();
  private volatile EdgeStream south;
  private volatile long lastActivityNanos = startNanos;
  private volatile long bytesNorth;
  private volatile long bytesSouth;

  Session(PairingKey key, NorthHeader header, Decision decision, AppliedConfig applied, EdgeStream north,
      InspectorChain inspectors, DetourMetrics metrics, Consumer<Session> onEnd, PairingClient.Route pairingRoute,
      Runnable releaseLimits) {
    this.key = key;
    this.header = header;
    this.decision = decision;
    this.configVersion = applied.version();
    this.relay = applied.config().relay();
    this.pairingTimeout = applied.config().pairing().timeout();
    this.north = north;
    this.inspectors = inspectors;
    this.metrics = metrics;
    this.onEnd = onEnd;
    this.pairingRoute = pairingRoute;
    this.releaseLimits = releaseLimits;
  }

  /** The pairing instance both halves of this session go to. */
  PairingClient.Route pairingRoute() {
    return pairingRoute;
  }

  Runnable releaseLimits() {
    return releaseLimits;
  }

  PairingKey key() {
    return key;
  }

  NorthHeader header() {
    return header;
  }

  InspectorChain inspectors() {
    return inspectors;
  }

  /** The relay settings this session started with; a reloaded config does not change them. */
  ServerConfig.Relay relay() {
    return relay;
  }

  Duration pairingTimeout() {
    return pairingTimeout;
  }

  long idleNanos(long now) {
    return now - lastActivityNanos;
  }

  @Override
  public boolean received(Direction direction, int bytes) {
    lastActivityNanos = System.nanoTime();
    metrics.received(direction, bytes);
    // One relay thread writes each counter; readers only need a recent value.
    long total;
    if (direction == Direction.NORTH) {
      bytesNorth += bytes;
      total = bytesNorth + bytesSouth;
    } else {
      bytesSouth += bytes;
      total = bytesNorth + bytesSouth;
    }
    if (total > decision.options().byteCap()) {
      abort("byte_cap", DetourErrorCodes.LIMIT_EXCEEDED);
    }
    return endReason.get() == null;
  }

  /** @return false when the session already ended: the caller then cuts the south stream. */
  synchronized boolean attachSouth(EdgeStream stream) {
    if (!southClaimed.compareAndSet(false, true)) {
      return false;
    }
    south = stream;
    lastActivityNanos = System.nanoTime();
    return true;
  }

  /** A relay direction finished; a reset of one side cuts the other too. */
  void directionEnded(Direction direction, StreamRelay.Outcome outcome) {
    if (outcome == StreamRelay.Outcome.RESET) {
      abort(direction == Direction.NORTH ? "north_reset" : "south_reset",
          DetourErrorCodes.SESSION_ABORTED);
    }
    countDown();
  }

  /**
   * Ends the session now: both streams are reset with {@code code}. Safe to call from any
   * thread, any number of times; the first reason sticks. Synchronized with
   * {@link #attachSouth}, so a south stream is either attached before (and reset here) or
   * refused after.
   */
  synchronized void abort(String reason, long code) {
    endReason.compareAndSet(null, reason);
    north.reset(code);
    EdgeStream s = south;
    if (s != null) {
      s.reset(code);
    } else if (southClaimed.compareAndSet(false, true)) {
      countDown(); // the south direction never started and now never will
    }
  }

  /** Whether the south stream joined: pairing answered both halves. */
  boolean southAttached() {
    return south != null;
  }

  boolean ended() {
    return openDirections.get() == 0;
  }

  private void countDown() {
    if (openDirections.decrementAndGet() == 0) {
      if (Context.isOnEventLoopThread()) {
        // An abort (cut, idle sweep, pairing timeout) counted the last direction down on an
        // event loop; closing the inspectors may write files (the capture's index line).
        Thread.ofVirtual().name("session-end-" + key).start(this::end);
      } else {
        end();
      }
    }
  }

  private void end() {
    inspectors.close();
    onEnd.accept(this);
  }

  RunningSession view(String node) {
    return new RunningSession(node, header.taskId().toString(), header.username(), header.upstream().toString(),
        header.protocol(), decision.rule(), configVersion, DecisionRequest.address(header.addresses().source()),
        key.connectionId(), key.matchId(), south != null, bytesNorth, bytesSouth, started);
  }

  SessionEnded record() {
    String reason = endReason.get();
    return SessionEnded.of(header, decision, configVersion, key, bytesNorth, bytesSouth,
        (System.nanoTime() - startNanos) / 1_000_000, reason == null ? "completed" : reason);
  }
}
