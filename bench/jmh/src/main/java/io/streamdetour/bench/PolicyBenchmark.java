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
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Time per policy decision with 1 000 rules, on one thread, over 1 024 headers in turn (so the
 * branch predictor cannot learn one). {@link #main} runs it and prints the median of the forks.
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

  /** Runs the benchmark (JMH command-line options apply, e.g. -f 1 for a quick look) and prints the median fork. */
  public static void main(String[] args) throws RunnerException, CommandLineOptionException {
    RunResult result = new Runner(new OptionsBuilder()
        .parent(new CommandLineOptions(args))
        .include(PolicyBenchmark.class.getName())
        .build()).runSingle();
    double[] forks = result.getBenchmarkResults().stream()
        .mapToDouble(fork -> fork.getPrimaryResult().getScore())
        .sorted()
        .toArray();
    double median = forks.length % 2 == 1
        ? forks[forks.length / 2]
        : (forks[forks.length / 2 - 1] + forks[forks.length / 2]) / 2;
    System.out.printf("%nforks (ns/decision): %s%nmedian of %d forks: %.1f ns/decision, %.2f million decisions/s%n",
        Arrays.toString(forks), forks.length, median, 1_000.0 / median);
  }
}
