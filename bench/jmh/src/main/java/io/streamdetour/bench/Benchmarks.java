package io.streamdetour.bench;

import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;

import java.util.Arrays;

/**
 * {@code java -jar stream-detour-benchmarks.jar policy|codec [JMH options]}: runs one benchmark
 * and prints the median of its forks per method and parameter set.
 */
public final class Benchmarks {

  private Benchmarks() {}

  public static void main(String[] args) throws RunnerException, CommandLineOptionException {
    String[] jmhOptions = args.length > 0 ? Arrays.copyOfRange(args, 1, args.length) : args;
    switch (args.length > 0 ? args[0] : "") {
      case "policy" -> ForkMedians.run(PolicyBenchmark.class, jmhOptions, "decision");
      case "codec" -> ForkMedians.run(HeaderCodecBenchmark.class, jmhOptions, "op");
      default -> {
        System.err.println("usage: java -jar stream-detour-benchmarks.jar policy|codec [JMH options, e.g. -f 1]");
        System.exit(64);
      }
    }
  }
}
