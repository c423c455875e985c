package io.streamdetour.edge;

import io.streamdetour.config.ServerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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
 * Netty edge's sockets share one budget). No one source address gets more than a quarter of it,
 * so a flood from one address leaves g3proxy's handshakes three quarters; a flood that forges
 * many source addresses is held by the whole budget only. Up to {@link #MAX_SOURCES} addresses are told apart
 * at a time (an address whose share is full again is forgotten); beyond that, a new address
 * meets the whole budget only. Drops are counted and logged at most once per 10 s.
 */
public final class HandshakeBudget {

  private static final Logger LOG = LoggerFactory.getLogger(HandshakeBudget.class);
  private static final long LOG_INTERVAL_NANOS = 10_000_000_000L;
  private static final int VERSION_1 = 0x00000001;
  private static final int VERSION_2 = 0x6b3343cf;
  /** One source address gets at most 1/SOURCE_SHARE of the budget. */
  static final int SOURCE_SHARE = 4;
  static final int MAX_SOURCES = 4096;
  private static final long SWEEP_NANOS = 10_000_000L;

  private final int perSecond;
  private final String listener;
  private final LongSupplier nanoTime;
  private final long intervalNanos;
  private final long burstNanos;
  /** When the budget would be full again if nothing more came (the "theoretical arrival time"). */
  private final AtomicLong fullAt;
  private final long sourceIntervalNanos;
  private final long sourceBurstNanos;
  /** The same, per source address: its share. */
  private final Map<InetAddress, AtomicLong> sources = new ConcurrentHashMap<>();
  private final AtomicLong nextSweep;
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
    int sourcePerSecond = Math.max(1, perSecond / SOURCE_SHARE);
    this.sourceIntervalNanos = 1_000_000_000L / sourcePerSecond;
    this.sourceBurstNanos = sourceIntervalNanos * sourcePerSecond;
    long now = nanoTime.getAsLong();
    this.fullAt = new AtomicLong(now);
    this.nextLog = new AtomicLong(now);
    this.nextSweep = new AtomicLong(now);
  }

  /**
   * Whether a datagram from {@code source} that starts with {@code firstByte} and, for a long
   * header, the 32-bit {@code version} after it, goes on to the QUIC library: anything but a
   * would-be connection start always does; a connection start does while its source's share and
   * the budget last.
   */
  public boolean admit(int firstByte, int version, InetAddress source) {
    if (!startsConnection(firstByte, version)) {
      return true;
    }
    long now = nanoTime.getAsLong();
    AtomicLong share = share(source, now);
    if (share != null && !take(share, now, sourceIntervalNanos, sourceBurstNanos)
        || !take(fullAt, now, intervalNanos, burstNanos)) {
      drop(now);
      return false;
    }
    return true;
  }

  /** Source addresses told apart now. */
  int trackedSources() {
    return sources.size();
  }

  /** {@code source}'s share, or null when too many addresses are told apart already. */
  private AtomicLong share(InetAddress source, long now) {
    AtomicLong share = sources.get(source);
    if (share != null) {
      return share;
    }
    if (sources.size() >= MAX_SOURCES) {
      // An address whose share is full again holds nothing a new entry would not. Swept at most
      // every SWEEP_NANOS: a flood from forged addresses must not make every datagram a sweep.
      long due = nextSweep.get();
      if (now - due >= 0 && nextSweep.compareAndSet(due, now + SWEEP_NANOS)) {
        sources.values().removeIf(s -> s.get() - now <= 0);
      }
      if (sources.size() >= MAX_SOURCES) {
        return null;
      }
    }
    return sources.computeIfAbsent(source, s -> new AtomicLong(now));
  }

  /** One datagram's worth out of a budget that refills every {@code interval}, up to {@code burst}. */
  private static boolean take(AtomicLong fullAt, long now, long interval, long burst) {
    while (true) {
      long full = fullAt.get();
      long next = Math.max(full, now) + interval;
      if (next - now > burst) {
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
          + " quic.max-handshake-rate ({}/s, a quarter of it per source address): a flood, or a fleet of"
          + " clients reconnecting at once; open connections are not affected", listener, since, perSecond);
    }
  }
}
