package io.streamdetour.edge;

import io.streamdetour.config.ServerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * How many datagrams that could start a QUIC connection a listener takes in per second
 * ({@code quic.max-handshake-rate}); the rest are dropped before the QUIC library sees them.
 *
 * <p>Why: a QUIC library keeps state for every Initial with a new connection id before it can
 * tell that the datagram is garbage (Kwik 0.10.9: a connection candidate, held up to 30 s, and a
 * task holding the datagram). A single unauthenticated sender of Initial-shaped datagrams ran
 * the Kwik edge out of a 256 MiB heap in four seconds. Established connections send short
 * headers and Handshake packets, which are never counted: a flood costs new handshakes, not
 * running sessions.
 *
 * <p>A rate with a burst of one second's worth (a generic cell rate algorithm, lock-free: the
 * Netty edge's sockets share one budget). Drops are counted and logged at most once per 10 s.
 */
public final class HandshakeBudget {

  private static final Logger LOG = LoggerFactory.getLogger(HandshakeBudget.class);
  private static final long LOG_INTERVAL_NANOS = 10_000_000_000L;
  private static final int VERSION_1 = 0x00000001;
  private static final int VERSION_2 = 0x6b3343cf;

  private final int perSecond;
  private final String listener;
  private final LongSupplier nanoTime;
  private final long intervalNanos;
  private final long burstNanos;
  /** When the budget would be full again if nothing more came (the "theoretical arrival time"). */
  private final AtomicLong fullAt;
  private final AtomicLong dropped = new AtomicLong();
  private final AtomicLong droppedLogged = new AtomicLong();
  private final AtomicLong nextLog;

  /** The budget of the listener {@code settings} describes: its {@code quic.max-handshake-rate}. */
  public HandshakeBudget(ServerConfig.Quic settings) {
    this(settings.maxHandshakeRate(), "QUIC listener udp " + settings.host() + ":" + settings.port(), System::nanoTime);
  }

  /** With a clock of the caller's, for a test that steps time itself. */
  HandshakeBudget(int perSecond, String listener, LongSupplier nanoTime) {
    if (perSecond < 1) {
      throw new IllegalArgumentException("perSecond must be positive: " + perSecond);
    }
    this.perSecond = perSecond;
    this.listener = listener;
    this.nanoTime = nanoTime;
    this.intervalNanos = 1_000_000_000L / perSecond;
    this.burstNanos = intervalNanos * perSecond;
    long now = nanoTime.getAsLong();
    this.fullAt = new AtomicLong(now);
    this.nextLog = new AtomicLong(now);
  }

  /**
   * Whether a datagram that starts with {@code firstByte} and, for a long header, the 32-bit
   * {@code version} after it, goes on to the QUIC library: anything but a would-be connection
   * start always does; a connection start does while the budget lasts.
   */
  public boolean admit(int firstByte, int version) {
    if (!startsConnection(firstByte, version)) {
      return true;
    }
    long now = nanoTime.getAsLong();
    while (true) {
      long full = fullAt.get();
      long next = Math.max(full, now) + intervalNanos;
      if (next - now > burstNanos) {
        drop(now);
        return false;
      }
      if (fullAt.compareAndSet(full, next)) {
        return true;
      }
    }
  }

  /** Datagrams dropped so far. */
  public long dropped() {
    return dropped.get();
  }

  /**
   * A long-header datagram that is an Initial of QUIC v1 or v2, or of a version the server does
   * not speak (answered with version negotiation, and a client's first datagram all the same).
   * Short headers, Handshake and 0-RTT packets belong to connections that got past this.
   */
  static boolean startsConnection(int firstByte, int version) {
    if ((firstByte & 0x80) == 0) {
      return false;
    }
    int type = (firstByte & 0x30) >> 4;
    return switch (version) {
      case VERSION_1 -> type == 0;
      case VERSION_2 -> type == 1;
      default -> true;
    };
  }

  private void drop(long now) {
    long count = dropped.incrementAndGet();
    long due = nextLog.get();
    if (now - due >= 0 && nextLog.compareAndSet(due, now + LOG_INTERVAL_NANOS)) {
      long since = count - droppedLogged.getAndSet(count);
      LOG.warn("{}: {} datagrams that would start a QUIC connection dropped since the last such line, over"
          + " quic.max-handshake-rate ({}/s): a flood, or a fleet of clients reconnecting at once; open"
          + " connections are not affected", listener, since, perSecond);
    }
  }
}
