package io.streamdetour.bench;

import io.streamdetour.codec.NorthHeader;
import io.streamdetour.policy.Policy;
import io.streamdetour.bus.Decision;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Time per policy decision with 1 000 rules, on one thread, over 1 024 headers in turn (so the
 * branch predictor cannot learn one).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(5)
@Threads(1)
public class PolicyBenchmark {

  private static final int HEADERS = 1024;

  private Policy policy;
  private NorthHeader[] headers;
  private int next;

  @Setup
  public void setUp() {
    policy = new Policy(PolicyFixture.policy());
    headers = PolicyFixture.headers(HEADERS);
  }

  @Benchmark
  public Decision decide() {
    return policy.decide(headers[next++ & (HEADERS - 1)]);
  }
}
