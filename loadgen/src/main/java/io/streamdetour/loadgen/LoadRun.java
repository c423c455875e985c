package io.streamdetour.loadgen;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CountDownLatch;
import org.HdrHistogram.Histogram;

/**
 * A run of sessions: splits the work over the event loops, prints a progress line every second
 * on stderr while it runs, and sums it up at the end.
 */
final class LoadRun {

  private static final double MIB = 1024.0 * 1024.0;
  private static final long SECOND_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final Settings settings;
  private final PrintStream progressOut;
  private final RunStats stats;
  private final List<Worker> workers = new ArrayList<>();
  private volatile boolean stopped;

  LoadRun(Settings settings, PrintStream progressOut) {
    this.settings = settings;
    this.progressOut = progressOut;
    this.stats = new RunStats(settings.verbose());
  }

  /** Stops starting sessions (Ctrl-C); those running finish and the summary follows. */
  void stop() {
    stopped = true;
    synchronized (workers) {
      workers.forEach(Worker::stop);
    }
  }

  Summary run() throws Exception {
    ServerProbe probe = new ServerProbe(settings.serverPid(), settings.serverMetrics());
    ServerProbe.Sample before = probe.enabled() ? probe.sample() : null;
    DetourHeaders headers = new DetourHeaders(settings.clientAddress(), settings.proxyAddress(),
        settings.username(), settings.upstream(), settings.protocol(), settings.payload());
    SessionContext context = new SessionContext(settings, stats, headers);
    long clientCpuBefore = processCpuNanos();
    try (QuicClient client = new QuicClient(settings)) {
      long startNanos = System.nanoTime();
      long measureFrom = startNanos + settings.warmup().toNanos();
      boolean measuring = settings.warmup().isZero();
      long deadline = settings.duration() == null ? Long.MAX_VALUE : measureFrom + settings.duration().toNanos();
      int threads = settings.threads();
      CountDownLatch done = new CountDownLatch(threads);
      synchronized (workers) {
        for (int i = 0; i < threads; i++) {
          Worker.Share share = new Worker.Share(
              settings.sessions() == 0 ? Long.MAX_VALUE : split(settings.sessions(), threads, i),
              (int) Math.max(1, split(settings.concurrency(), threads, i)),
              settings.rate() / threads,
              (int) Math.max(1, split(settings.backlog(), threads, i)),
              (int) split(settings.connections(), threads, i));
          Worker worker = new Worker(i, threads, client.nextLoop(), client, context, share, deadline);
          workers.add(worker);
          worker.start().addListener(f -> done.countDown());
          if (stopped) {
            worker.stop();
          }
        }
      }
      ServerProbe.Sample last = before;
      long lastNanos = startNanos;
      long lastSetups = 0;
      long lastCompleted = 0;
      long lastBytes = 0;
      long nextTick = startNanos + SECOND_NANOS;
      while (!done.await((measuring ? nextTick : Math.min(nextTick, measureFrom)) - System.nanoTime(),
          TimeUnit.NANOSECONDS)) {
        long now = System.nanoTime();
        if (!measuring && now - measureFrom >= 0) {
          // Everything from here is the measured run: counters, latencies, both CPUs, the server's meters.
          measuring = true;
          stats.restart();
          workers.forEach(Worker::restartPeaks);
          before = probe.enabled() ? probe.sample() : null;
          last = before;
          clientCpuBefore = processCpuNanos();
          startNanos = now;
          lastNanos = now;
          lastSetups = 0;
          lastCompleted = 0;
          lastBytes = 0;
          if (settings.progress()) {
            progressOut.println("[warm-up over: measuring from here]");
          }
          nextTick = now + SECOND_NANOS;
          continue;
        }
        nextTick += SECOND_NANOS;
        stats.sample();
        ServerProbe.Sample current = probe.hasPid() ? probe.sample() : null;
        if (settings.progress()) {
          double seconds = (now - lastNanos) / 1e9;
          long setups = stats.setups.sum();
          long completed = stats.ok.sum() + stats.failed.sum();
          long bytes = stats.bytesVerified.sum();
          progressOut.println(progressLine(now - startNanos, (setups - lastSetups) / seconds,
              (completed - lastCompleted) / seconds, (bytes - lastBytes) / seconds / MIB,
              current == null || last == null ? Double.NaN
                  : (current.cpuSeconds() - last.cpuSeconds()) / seconds * 100));
          lastSetups = setups;
          lastCompleted = completed;
          lastBytes = bytes;
        }
        last = current;
        lastNanos = now;
      }
      double wall = (System.nanoTime() - startNanos) / 1e9;
      stats.sample();
      ServerProbe.Sample after = probe.enabled() ? probe.sample() : null;
      double serverHeap = Double.NaN;
      if (after != null && Double.isNaN(after.metric(ServerProbe.HEAP_USED_BYTES))) {
        serverHeap = probe.heapFromJcmd(false);
      }
      return summary(wall, (processCpuNanos() - clientCpuBefore) / 1e9, before, after, serverHeap);
    }
  }

  private String progressLine(long elapsedNanos, double setupRate, double completedRate, double mibRate,
      double serverCpuPercent) {
    Histogram interval = stats.decisionInterval();
    StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
        "[%4ds] sessions %d set_up %d ok %d failed %d in_flight %d conns %d | setup %.0f/s completed %.0f/s | %.1f MiB/s",
        TimeUnit.NANOSECONDS.toSeconds(elapsedNanos), stats.started.sum(), stats.setups.sum(), stats.ok.sum(),
        stats.failed.sum(),
        workers.stream().mapToInt(Worker::inFlight).sum(), workers.stream().mapToInt(Worker::connections).sum(),
        setupRate, completedRate, mibRate));
    if (interval != null && interval.getTotalCount() > 0) {
      line.append(String.format(Locale.ROOT, " | decision p50 %dus p99 %dus", micros(interval, 50),
          micros(interval, 99)));
    }
    if (settings.openLoop()) {
      line.append(String.format(Locale.ROOT, " | backlog %d dropped %d",
          workers.stream().mapToLong(Worker::backlog).sum(), stats.dropped.sum()));
    }
    if (!Double.isNaN(serverCpuPercent)) {
      line.append(String.format(Locale.ROOT, " | server cpu %.0f%%", serverCpuPercent));
    }
    return line.toString();
  }

  private Summary summary(double wall, double clientCpu, ServerProbe.Sample before, ServerProbe.Sample after,
      double jcmdHeap) {
    long started = stats.started.sum();
    long ok = stats.ok.sum();
    long failed = stats.failed.sum();
    long bytes = stats.bytesVerified.sum();
    long setups = stats.setups.sum();
    Summary s = new Summary()
        .put("mode", settings.openLoop() ? "open_loop" : "closed_loop")
        .put("sessions", started)
        .put("ok", ok)
        .put("failed", failed);
    for (Settings.Action action : Settings.Action.values()) {
      s.put(action.key(), stats.actions.get(action).sum());
    }
    s.put("errors", stats.errorTotal());
    stats.errors.forEach((kind, count) -> {
      if (count.sum() > 0) {
        s.put("err_" + kind.key, count.sum());
      }
    });
    s.put("bytes_verified", bytes)
        .put("wall_s", wall, 3)
        .put("throughput_mib_s", bytes / MIB / wall, 1)
        .put("setups", setups)
        .put("setup_per_s", setups / wall, 1)
        .put("completed_per_s", (ok + failed) / wall, 1);
    Histogram decisions = stats.decisionTotal();
    if (decisions.getTotalCount() > 0) {
      s.put("decision_p50_us", micros(decisions, 50))
          .put("decision_p99_us", micros(decisions, 99))
          .put("decision_p999_us", micros(decisions, 99.9))
          .put("decision_max_us", TimeUnit.NANOSECONDS.toMicros(decisions.getMaxValue()));
    }
    s.put("decisions", decisions.getTotalCount());
    Histogram setupTimes = stats.setupTotal();
    if (setupTimes.getTotalCount() > 0) {
      s.put("setup_p50_us", micros(setupTimes, 50)).put("setup_p99_us", micros(setupTimes, 99));
    }
    s.put("connections", stats.connectionsOpened.sum())
        .put("connect_failures", stats.connectFailures.sum())
        .put("max_in_flight", workers.stream().mapToLong(Worker::maxInFlight).sum())
        .put("packets_sent", stats.packetsSent.sum())
        .put("packets_lost", stats.packetsLost.sum());
    if (settings.openLoop()) {
      s.put("rate", settings.rate(), 1)
          .put("arrivals", stats.arrivals.sum())
          .put("backlog_max", workers.stream().mapToLong(Worker::backlogMax).sum())
          .put("dropped", stats.dropped.sum());
    }
    s.put("client_cpu_s", clientCpu, 2);
    if (after != null) {
      serverFigures(s, wall, before, after, jcmdHeap, bytes, ok + failed);
    }
    String abort = workers.stream().map(Worker::abortReason).filter(r -> r != null).findFirst().orElse(null);
    if (abort != null) {
      s.put("aborted", "connect_failures");
    }
    if (!settings.warmup().isZero()) {
      s.put("warmup_s", settings.warmup().toNanos() / 1e9, 1);
      if (stats.warmupFailed() > 0) {
        s.put("warmup_failed", stats.warmupFailed());
      }
    }
    if (stopped) {
      s.put("interrupted", 1);
    }
    boolean allRun = settings.sessions() == 0 || settings.duration() != null || settings.openLoop()
        || started == settings.sessions();
    boolean pass = started > 0 && failed == 0 && stats.warmupFailed() == 0 && stats.dropped.sum() == 0 && abort == null && !stopped && allRun;
    return s.put("result", pass ? "pass" : "fail");
  }

  static void serverFigures(Summary s, double wall, ServerProbe.Sample before, ServerProbe.Sample after,
      double jcmdHeap, long bytes, long sessions) {
    double cpu = after.cpuSeconds() - before.cpuSeconds();
    if (!Double.isNaN(cpu)) {
      s.put("server_cpu_s", cpu, 2).put("server_cpu_pct", cpu / wall * 100, 0);
      if (bytes > 0) {
        s.put("server_cpu_ms_per_mib", cpu * 1000 / (bytes / MIB), 2);
      }
      if (sessions > 0) {
        s.put("server_cpu_us_per_session", cpu * 1e6 / sessions, 1);
      }
    }
    if (after.threads() >= 0) {
      s.put("server_threads", after.threads()).put("server_rss_mib", after.rssBytes() / MIB, 1);
    }
    double heap = after.metric(ServerProbe.HEAP_USED_BYTES);
    if (!Double.isNaN(heap)) {
      s.put("server_heap_used_mib", heap / MIB, 1).put("server_heap_source", "metrics");
    } else if (!Double.isNaN(jcmdHeap)) {
      s.put("server_heap_used_mib", jcmdHeap / MIB, 1).put("server_heap_source", "jcmd");
    }
    double processCpu = processCpuSeconds(after) - processCpuSeconds(before);
    s.put("server_process_cpu_s", processCpu, 2);
    double gc = after.metric(ServerProbe.GC_PAUSE_SECONDS) - before.metric(ServerProbe.GC_PAUSE_SECONDS);
    s.put("server_gc_pause_s", gc, 3);
    double decisions = after.metric(ServerProbe.DECISIONS) - before.metric(ServerProbe.DECISIONS);
    double decisionSeconds = after.metric(ServerProbe.DECISION_SECONDS) - before.metric(ServerProbe.DECISION_SECONDS);
    if (decisions > 0) {
      s.put("server_decisions", (long) decisions)
          .put("server_decision_mean_us", decisionSeconds / decisions * 1e6, 1);
    }
    ServerProbe.DecisionShares shares = ServerProbe.decisionShares(before, after);
    if (shares != null) {
      if (shares.withinMillisecond() != null) {
        s.put("server_decision_within_1ms_pct", shares.withinMillisecond() * 100, 2);
      }
      if (Double.isFinite(shares.p99BoundSeconds())) {
        s.put("server_decision_p99_bucket_us", shares.p99BoundSeconds() * 1e6, 0);
      }
    }
  }

  private static double processCpuSeconds(ServerProbe.Sample sample) {
    double ns = sample.metric(ServerProbe.PROCESS_CPU_NS);
    return Double.isNaN(ns) ? sample.metric(ServerProbe.PROCESS_CPU_SECONDS) : ns / 1e9;
  }

  private static long micros(Histogram histogram, double percentile) {
    return TimeUnit.NANOSECONDS.toMicros(histogram.getValueAtPercentile(percentile));
  }

  /** Part {@code i} of {@code total} split over {@code parts} as evenly as whole numbers allow. */
  static long split(long total, int parts, int i) {
    return total / parts + (i < total % parts ? 1 : 0);
  }

  static long processCpuNanos() {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      return os.getProcessCpuTime();
    }
    return 0;
  }
}
