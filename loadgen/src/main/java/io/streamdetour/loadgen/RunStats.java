package io.streamdetour.loadgen;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The counters and latency recorders of a run, written from the event loops and read by the
 * progress line and the summary. Latencies go to HdrHistogram recorders (wait-free for the
 * writers); {@link #sample()} moves what was recorded since the last call into the totals.
 */
final class RunStats {

  private static final long MAX_LATENCY_NANOS = TimeUnit.MINUTES.toNanos(10);
  private static final int FIRST_ERRORS_SHOWN = 5;

  /** Open loop: sessions that arrived (started, dropped, or left in the backlog when the run stopped). */
  final LongAdder arrivals = new LongAdder();
  final LongAdder started = new LongAdder();
  final LongAdder ok = new LongAdder();
  final LongAdder failed = new LongAdder();
  /** Sessions past setup: the reply read and, for continue, the south header written. */
  final LongAdder setups = new LongAdder();
  final LongAdder bytesVerified = new LongAdder();
  final LongAdder connectionsOpened = new LongAdder();
  final LongAdder connectFailures = new LongAdder();
  final LongAdder dropped = new LongAdder();
  /** QUIC packets sent and declared lost, over the connections closed "finished". */
  final LongAdder packetsSent = new LongAdder();
  final LongAdder packetsLost = new LongAdder();
  final Map<Settings.Action, LongAdder> actions = new EnumMap<>(Settings.Action.class);
  final Map<ErrorKind, LongAdder> errors = new EnumMap<>(ErrorKind.class);

  private final Recorder decisionRecorder = new Recorder(MAX_LATENCY_NANOS, 3);
  private final Recorder setupRecorder = new Recorder(MAX_LATENCY_NANOS, 3);
  private final Histogram decisionTotal = new Histogram(MAX_LATENCY_NANOS, 3);
  private final Histogram setupTotal = new Histogram(MAX_LATENCY_NANOS, 3);
  private Histogram decisionInterval;
  private Histogram setupInterval;
  private long warmupFailed;
  private final AtomicInteger errorsShown = new AtomicInteger();
  private final boolean verbose;

  RunStats(boolean verbose) {
    this.verbose = verbose;
    for (Settings.Action action : Settings.Action.values()) {
      actions.put(action, new LongAdder());
    }
    for (ErrorKind kind : ErrorKind.values()) {
      errors.put(kind, new LongAdder());
    }
  }

  /** North header written to reply read. */
  void decision(long nanos) {
    decisionRecorder.recordValue(Math.min(nanos, MAX_LATENCY_NANOS));
  }

  /** North header written to the session set up (south header written, or a non-continue reply read). */
  void setup(long nanos) {
    setups.increment();
    setupRecorder.recordValue(Math.min(nanos, MAX_LATENCY_NANOS));
  }

  /** Counts an error; the first few (all with -v) are described on stderr. */
  void error(ErrorKind kind, String description) {
    errors.get(kind).increment();
    if (verbose || errorsShown.getAndIncrement() < FIRST_ERRORS_SHOWN) {
      System.err.println("error " + kind.key + ": " + description);
    }
  }

  long errorTotal() {
    return errors.values().stream().mapToLong(LongAdder::sum).sum();
  }

  /**
   * Moves the latencies recorded since the last call into the totals and keeps them as the
   * current interval. Called from one thread only (the progress reporter, then the summary).
   */
  synchronized void sample() {
    decisionInterval = decisionRecorder.getIntervalHistogram(decisionInterval);
    setupInterval = setupRecorder.getIntervalHistogram(setupInterval);
    decisionTotal.add(decisionInterval);
    setupTotal.add(setupInterval);
  }

  /**
   * The warm-up is over: every counter and latency starts again from here, except that the
   * sessions which failed so far stay in {@link #warmupFailed}. A session that ends close to the
   * boundary is counted on the side its event happened.
   */
  synchronized void restart() {
    sample();
    warmupFailed = failed.sum();
    for (LongAdder counter : List.of(arrivals, started, ok, failed, setups, bytesVerified, connectionsOpened,
        connectFailures, dropped, packetsSent, packetsLost)) {
      counter.reset();
    }
    actions.values().forEach(LongAdder::reset);
    errors.values().forEach(LongAdder::reset);
    decisionTotal.reset();
    setupTotal.reset();
  }

  /** Sessions that failed during the warm-up. */
  synchronized long warmupFailed() {
    return warmupFailed;
  }

  synchronized Histogram decisionInterval() {
    return decisionInterval;
  }

  synchronized Histogram decisionTotal() {
    return decisionTotal;
  }

  synchronized Histogram setupTotal() {
    return setupTotal;
  }
}
