package io.streamdetour.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Arrays;
import java.util.stream.Collectors;

/** Runs one benchmark class and prints, per method and parameter set, its forks and their median. */
final class ForkMedians {

  private ForkMedians() {}

  /**
   * @param args JMH command-line options (e.g. {@code -f 1}, {@code -p shape=IPV4})
   * @param what what one operation is, for the summary lines ("decision", "op")
   */
  static void run(Class<?> benchmark, String[] args, String what) throws RunnerException, CommandLineOptionException {
    var results = new Runner(new OptionsBuilder()
        .parent(new CommandLineOptions(args))
        .include(benchmark.getName() + "\\.")
        .build()).run();
    System.out.println();
    for (RunResult result : results) {
      double[] forks = result.getBenchmarkResults().stream()
          .mapToDouble(fork -> fork.getPrimaryResult().getScore())
          .sorted()
          .toArray();
      double median = forks.length % 2 == 1
          ? forks[forks.length / 2]
          : (forks[forks.length / 2 - 1] + forks[forks.length / 2]) / 2;
      var params = result.getParams();
      String name = params.getBenchmark().substring(params.getBenchmark().lastIndexOf('.') + 1)
          + params.getParamsKeys().stream().map(k -> " " + k + "=" + params.getParam(k)).collect(Collectors.joining());
      System.out.printf("%s: forks (ns/%s) %s; median of %d: %.1f ns/%s, %.2f million %ss/s%n",
          name, what, Arrays.toString(forks), forks.length, median, what, 1_000.0 / median, what);
    }
  }
}
