package io.streamdetour.session;

import io.streamdetour.bus.Decision;
import io.streamdetour.bus.PairingKey;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.EdgeStream;
import io.streamdetour.relay.Direction;
import io.streamdetour.relay.InspectorChain;
import io.streamdetour.relay.StreamRelay;

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
  private final ServerConfig.Relay relay;
  private final java.time.Duration pairingTimeout;
  private final EdgeStream north;
  private final InspectorChain inspectors;
  private final Consumer<Session> onEnd;
  private final long startNanos = System.nanoTime();
  private final AtomicInteger openDirections = new AtomicInteger(2);
  /** Set once: by the south stream attaching, or by an end that came first. */
  private final AtomicBoolean southClaimed = new AtomicBoolean();
  private final AtomicReference<String> endReason = new AtomicReference<>();
  private volatile EdgeStream south;
  private volatile long lastActivityNanos = startNanos;
  private volatile long bytesNorth;
  private volatile long bytesSouth;

  Session(PairingKey key, NorthHeader header, Decision decision, ServerConfig config, EdgeStream north,
      InspectorChain inspectors, Consumer<Session> onEnd) {
    this.key = key;
    this.header = header;
    this.decision = decision;
    this.relay = config.relay();
    this.pairingTimeout = config.pairing().timeout();
    this.north = north;
    this.inspectors = inspectors;
    this.onEnd = onEnd;
  }

  PairingKey key() {
    return key;
  }

  InspectorChain inspectors() {
    return inspectors;
  }

  /** The relay settings this session started with; a reloaded config does not change them. */
  ServerConfig.Relay relay() {
    return relay;
  }

  java.time.Duration pairingTimeout() {
    return pairingTimeout;
  }

  long idleNanos(long now) {
    return now - lastActivityNanos;
  }

  @Override
  public void received(Direction direction, int bytes) {
    lastActivityNanos = System.nanoTime();
    // One relay thread writes each counter; readers only need a recent value.
    if (direction == Direction.NORTH) {
      bytesNorth += bytes;
    } else {
      bytesSouth += bytes;
    }
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

  boolean ended() {
    return openDirections.get() == 0;
  }

  private void countDown() {
    if (openDirections.decrementAndGet() == 0) {
      onEnd.accept(this);
    }
  }

  SessionEnded record() {
    String reason = endReason.get();
    return SessionEnded.of(header, decision, key, bytesNorth, bytesSouth,
        (System.nanoTime() - startNanos) / 1_000_000, reason == null ? "completed" : reason);
  }
}
