package io.streamdetour.metrics;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.streamdetour.codec.Action;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class DetourMetricsTest {

  @Test
  void theCaptureErrorCounterKeepsCountingAfterGarbageCollection() throws Exception {
    PrometheusMeterRegistry registry = DetourMetrics.newRegistry();
    AtomicLong errors = new AtomicLong();
    new DetourMetrics(registry).gauges(() -> 0, () -> 0, () -> 1, () -> 1, () -> 0, errors::get, () -> 0, () -> 0);
    errors.set(1);
    assertThat(registry.get("stream.detour.capture.errors").functionCounter().count()).isEqualTo(1);

    collectGarbage();
    errors.set(3);
    assertThat(registry.get("stream.detour.capture.errors").functionCounter().count()).isEqualTo(3);
    assertThat(registry.scrape()).contains("stream_detour_capture_errors_total 3.0");
  }

  @Test
  void aProtocolNoOneKnowsIsCountedAsOther() {
    PrometheusMeterRegistry registry = DetourMetrics.newRegistry();
    DetourMetrics metrics = new DetourMetrics(registry);
    metrics.decided("websocket", Action.CONTINUE, Duration.ofMillis(1));
    for (int i = 0; i < 100; i++) {
      metrics.decided("made-up-" + i, Action.BLOCK, Duration.ofMillis(1));
    }

    assertThat(registry.get("stream.detour.sessions").tags("protocol", "websocket", "action", "continue")
        .counter().count()).isEqualTo(1);
    assertThat(registry.get("stream.detour.sessions").tags("protocol", DetourMetrics.OTHER_PROTOCOL, "action", "block")
        .counter().count()).isEqualTo(100);
    assertThat(registry.find("stream.detour.sessions").meters()).extracting(m -> m.getId().getTag("protocol"))
        .containsOnly("http_2", "websocket", "smtp", "imap", "other");
  }

  /** Runs the collector until an object reachable only weakly is gone. */
  private static void collectGarbage() throws InterruptedException {
    WeakReference<Object> probe = new WeakReference<>(new Object());
    for (int i = 0; i < 50 && probe.get() != null; i++) {
      System.gc();
      Thread.sleep(20);
    }
    assertThat(probe.get()).as("collected").isNull();
  }
}
