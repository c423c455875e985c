package io.streamdetour.loadgen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ServerProbeTest {

  @Test
  void readsItsOwnProcessFromProc() {
    ServerProbe probe = new ServerProbe(ProcessHandle.current().pid(), null);
    ServerProbe.Sample sample = probe.sample();
    assertTrue(sample.cpuSeconds() > 0, "cpu " + sample.cpuSeconds());
    assertTrue(sample.threads() > 1, "threads " + sample.threads());
    assertTrue(sample.rssBytes() > 1 << 20, "rss " + sample.rssBytes());
  }

  @Test
  void readsAJvmHeapThroughJcmd() {
    double heap = new ServerProbe(ProcessHandle.current().pid(), null).heapFromJcmd(false);
    assertTrue(heap > 0 && heap < Runtime.getRuntime().maxMemory(), "heap " + heap);
  }

  @Test
  void sumsTheMetersItReportsOverTheirLabels() {
    String text = """
        # HELP jvm_memory_used_bytes The amount of used memory
        # TYPE jvm_memory_used_bytes gauge
        jvm_memory_used_bytes{area="heap",id="G1 Eden Space"} 1.048576E7
        jvm_memory_used_bytes{area="heap",id="G1 Old Gen"} 2097152.0
        jvm_memory_used_bytes{area="nonheap",id="Metaspace"} 5.0E7
        process_cpu_time_ns_total 1.5E9
        stream_detour_decision_duration_seconds_count 200.0
        stream_detour_decision_duration_seconds_sum 0.05
        stream_detour_sessions_total{action="continue",protocol="http_2"} 200.0
        """;
    Map<String, Double> values = ServerProbe.parse(text);
    assertEquals(12582912.0, values.get(ServerProbe.HEAP_USED_BYTES));
    assertEquals(1.5e9, values.get(ServerProbe.PROCESS_CPU_NS));
    assertEquals(200.0, values.get(ServerProbe.DECISIONS));
    assertEquals(0.05, values.get(ServerProbe.DECISION_SECONDS));
    assertEquals(4, values.size());
  }

  @Test
  void findsTheShareOfDecisionsWithinAMillisecondBetweenTwoScrapes() {
    Map<String, Double> before = ServerProbe.parse("""
        stream_detour_decision_duration_seconds_bucket{le="5.0E-4"} 10.0
        stream_detour_decision_duration_seconds_bucket{le="0.001"} 20.0
        stream_detour_decision_duration_seconds_bucket{le="0.0025"} 30.0
        stream_detour_decision_duration_seconds_bucket{le="+Inf"} 40.0
        """);
    // 1 000 decisions since: 900 within 0.5 ms, 980 within 1 ms, 995 within 2.5 ms.
    Map<String, Double> after = ServerProbe.parse("""
        stream_detour_decision_duration_seconds_bucket{le="5.0E-4"} 910.0
        stream_detour_decision_duration_seconds_bucket{le="0.001"} 1000.0
        stream_detour_decision_duration_seconds_bucket{le="0.0025"} 1025.0
        stream_detour_decision_duration_seconds_bucket{le="+Inf"} 1040.0
        """);
    ServerProbe.DecisionShares shares = ServerProbe.decisionShares(
        new ServerProbe.Sample(0, -1, -1, before), new ServerProbe.Sample(0, -1, -1, after));
    assertEquals(0.98, shares.withinMillisecond(), 1e-9);
    assertEquals(0.0025, shares.p99BoundSeconds());

    Map<String, Double> slow = ServerProbe.parse("""
        stream_detour_decision_duration_seconds_bucket{le="0.001"} 20.0
        stream_detour_decision_duration_seconds_bucket{le="+Inf"} 1040.0
        """);
    ServerProbe.DecisionShares overflow = ServerProbe.decisionShares(
        new ServerProbe.Sample(0, -1, -1, before), new ServerProbe.Sample(0, -1, -1, slow));
    assertEquals(0.0, overflow.withinMillisecond());
    assertEquals(Double.POSITIVE_INFINITY, overflow.p99BoundSeconds());
  }
}
