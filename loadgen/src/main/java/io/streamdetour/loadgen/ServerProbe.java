package io.streamdetour.loadgen;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads what the server under load spends: CPU time, threads and RSS from {@code /proc/PID/stat}
 * ({@code --server-pid}), and whatever of the usual Micrometer JVM meters its Prometheus endpoint
 * exports ({@code --server-metrics}): heap in use, process CPU time, live threads, GC pauses, and
 * stream-detour's own session and decision meters. A JVM server's heap comes from {@code jcmd
 * PID GC.heap_info} when the endpoint has no heap meter.
 */
final class ServerProbe {

  /** One reading; a field the server did not give is NaN (or -1 for counts). */
  record Sample(double cpuSeconds, int threads, long rssBytes, Map<String, Double> metrics) {

    double metric(String name) {
      return metrics.getOrDefault(name, Double.NaN);
    }
  }

  private static final Pattern METRIC_LINE =
      Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})?\\s+(\\S+)");
  private static final Pattern HEAP_USED = Pattern.compile("\\bused (\\d+)K");

  /** Metric names kept from the Prometheus text, summed over their label sets. */
  static final String HEAP_USED_BYTES = "jvm_memory_used_bytes{area=heap}";
  static final String PROCESS_CPU_NS = "process_cpu_time_ns_total";
  static final String PROCESS_CPU_SECONDS = "process_cpu_seconds_total";
  static final String LIVE_THREADS = "jvm_threads_live_threads";
  static final String GC_PAUSE_SECONDS = "jvm_gc_pause_seconds_sum";
  static final String DECISIONS = "stream_detour_decision_duration_seconds_count";
  static final String DECISION_SECONDS = "stream_detour_decision_duration_seconds_sum";
  static final String CONNECTIONS = "stream_detour_connections";
  /** The decision histogram's cumulative buckets, one key per bound: this prefix, the bound in seconds, "}". */
  static final String DECISION_BUCKET = "stream_detour_decision_duration_seconds_bucket{le=";
  private static final Pattern LE = Pattern.compile("le=\"([^\"]+)\"");

  private final Long pid;
  private final URI metrics;
  private final HttpClient http;
  private final double clockTicks;
  private Boolean jvm;

  ServerProbe(Long pid, URI metrics) {
    this.pid = pid;
    this.metrics = metrics;
    this.http = metrics == null ? null : HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    this.clockTicks = pid == null ? 100 : clockTicks();
  }

  boolean enabled() {
    return pid != null || metrics != null;
  }

  boolean hasPid() {
    return pid != null;
  }

  Sample sample() {
    double cpu = Double.NaN;
    int threads = -1;
    long rss = -1;
    if (pid != null) {
      try {
        String stat = Files.readString(Path.of("/proc", pid.toString(), "stat"));
        // Fields after the command name, which may hold spaces, start at field 3 (state).
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        cpu = (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / clockTicks;
        threads = Integer.parseInt(fields[17]);
        rss = Long.parseLong(fields[21]) * 4096;
      } catch (IOException | RuntimeException e) {
        System.err.println("server stats: cannot read /proc/" + pid + "/stat: " + e);
      }
    }
    return new Sample(cpu, threads, rss, metrics == null ? Map.of() : scrape());
  }

  /**
   * Heap in use from {@code jcmd PID GC.heap_info}, in bytes, or NaN (not a JVM, or no jcmd);
   * with {@code fullGcFirst}, after {@code jcmd PID GC.run}, so that what is live is compared.
   */
  double heapFromJcmd(boolean fullGcFirst) {
    if (!isJvm()) {
      return Double.NaN;
    }
    if (fullGcFirst && jcmd("GC.run") == null) {
      return Double.NaN;
    }
    String out = jcmd("GC.heap_info");
    Matcher matcher = out == null ? null : HEAP_USED.matcher(out);
    return matcher != null && matcher.find() ? Long.parseLong(matcher.group(1)) * 1024.0 : Double.NaN;
  }

  /** Whether the server process has a JVM loaded: jcmd would wait seconds on any other process. */
  private boolean isJvm() {
    if (pid == null) {
      return false;
    }
    if (jvm == null) {
      try (var lines = Files.lines(Path.of("/proc", pid.toString(), "maps"))) {
        jvm = lines.anyMatch(line -> line.endsWith("/libjvm.so"));
      } catch (IOException | UncheckedIOException e) {
        jvm = false;
      }
    }
    return jvm;
  }

  private String jcmd(String command) {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    try {
      Process process = new ProcessBuilder(jcmd.toString(), pid.toString(), command)
          .redirectErrorStream(true).start();
      String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      return process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0 ? out : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  private Map<String, Double> scrape() {
    try {
      HttpResponse<String> response = http.send(HttpRequest.newBuilder(metrics).timeout(Duration.ofSeconds(5))
          .GET().build(), HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200) {
        System.err.println("server stats: " + metrics + " answered " + response.statusCode());
        return Map.of();
      }
      return parse(response.body());
    } catch (IOException e) {
      System.err.println("server stats: cannot scrape " + metrics + ": " + e);
      return Map.of();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Map.of();
    }
  }

  /** The meters this probe reports, from Prometheus text, each summed over its label sets. */
  static Map<String, Double> parse(String text) {
    Map<String, Double> values = new TreeMap<>();
    for (String line : text.split("\n")) {
      if (line.startsWith("#")) {
        continue;
      }
      Matcher matcher = METRIC_LINE.matcher(line);
      if (!matcher.find()) {
        continue;
      }
      String name = matcher.group(1);
      String labels = matcher.group(2) == null ? "" : matcher.group(2);
      String key = switch (name) {
        case "jvm_memory_used_bytes" -> labels.contains("area=\"heap\"") ? HEAP_USED_BYTES : null;
        case PROCESS_CPU_NS, PROCESS_CPU_SECONDS, LIVE_THREADS, GC_PAUSE_SECONDS, DECISIONS, DECISION_SECONDS,
            CONNECTIONS -> name;
        case "stream_detour_decision_duration_seconds_bucket" -> bucketKey(labels);
        default -> null;
      };
      if (key == null) {
        continue;
      }
      try {
        values.merge(key, Double.parseDouble(matcher.group(3)), Double::sum);
      } catch (NumberFormatException e) {
        // NaN or +Inf spelt otherwise: not a reading
      }
    }
    return values;
  }

  private static String bucketKey(String labels) {
    Matcher le = LE.matcher(labels);
    if (!le.find()) {
      return null;
    }
    String bound = le.group(1);
    return DECISION_BUCKET + (bound.equals("+Inf") ? "Infinity" : String.valueOf(Double.parseDouble(bound))) + "}";
  }

  /**
   * The server's decisions between two samples, from its histogram: the share within 1 ms (null
   * without a 1 ms bucket), and the smallest bucket bound in seconds that holds 99 % of them
   * (infinite when only the overflow bucket does); null when none was made.
   */
  static DecisionShares decisionShares(Sample before, Sample after) {
    TreeMap<Double, Double> delta = new TreeMap<>();
    after.metrics().forEach((key, value) -> {
      if (key.startsWith(DECISION_BUCKET)) {
        double bound = Double.parseDouble(key.substring(DECISION_BUCKET.length(), key.length() - 1));
        delta.put(bound, value - before.metrics().getOrDefault(key, 0.0));
      }
    });
    Double total = delta.get(Double.POSITIVE_INFINITY);
    if (total == null || total <= 0) {
      return null;
    }
    Double withinMillisecond = delta.get(0.001);
    double p99 = delta.entrySet().stream().filter(e -> e.getValue() >= 0.99 * total).findFirst()
        .map(Map.Entry::getKey).orElse(Double.POSITIVE_INFINITY);
    return new DecisionShares(withinMillisecond == null ? null : withinMillisecond / total, p99);
  }

  record DecisionShares(Double withinMillisecond, double p99BoundSeconds) {}

  private static double clockTicks() {
    try {
      Process process = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
      String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      process.waitFor(5, TimeUnit.SECONDS);
      return Double.parseDouble(out);
    } catch (IOException | NumberFormatException e) {
      return 100;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 100;
    }
  }
}
