package io.streamdetour.testclient;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Runs the Rust quinn client {@code g3-detour-client} (shared/tools/g3-detour-client), which reproduces g3proxy. */
public final class QuinnClient {

    public static final String PROPERTY = "interop.client";
    public static final String ENVIRONMENT = "G3_DETOUR_CLIENT";
    public static final String ECHO_SERVER = "detour-echo-server";

    private QuinnClient() {
    }

    /** The executable from -Dinterop.client or $G3_DETOUR_CLIENT, if that names an executable file. */
    public static Optional<Path> binary() {
        String configured = System.getProperty(PROPERTY);
        if (configured == null || configured.isBlank()) {
            configured = System.getenv(ENVIRONMENT);
        }
        if (configured == null || configured.isBlank()) {
            return Optional.empty();
        }
        Path path = Path.of(configured);
        return Files.isRegularFile(path) && Files.isExecutable(path) ? Optional.of(path) : Optional.empty();
    }

    /** {@code detour-echo-server}, built beside the client. */
    public static Optional<Path> echoServerBinary() {
        return binary().map(client -> client.resolveSibling(ECHO_SERVER))
                .filter(path -> Files.isRegularFile(path) && Files.isExecutable(path));
    }

    /** Skips the calling test when the client is not built. */
    public static void assumeAvailable() {
        Assumptions.assumeTrue(binary().isPresent(),
                "interop client not built: " + describeConfigured()
                        + "; set -Dinterop.client=PATH (bin/test and .ci/run do)");
    }

    /** Runs the client with these arguments; killed after {@code timeout}. */
    public static QuinnResult run(List<String> args, Duration timeout) {
        return runVia(List.of(), args, timeout);
    }

    /**
     * Runs the client through {@code launcher} (for example {@code ip netns exec NAME}, which
     * execs it inside a network namespace) with these arguments; killed after {@code timeout}.
     */
    public static QuinnResult runVia(List<String> launcher, List<String> args, Duration timeout) {
        Path executable = binary().orElseThrow(() -> new IllegalStateException(
                "interop client not built: " + describeConfigured()));
        List<String> command = new ArrayList<>(launcher);
        command.add(executable.toString());
        command.addAll(args);
        try (CapturedProcess process = CapturedProcess.start(command)) {
            boolean timedOut = !process.waitFor(timeout);
            if (timedOut) {
                process.kill();
            }
            String stdout = process.stdout();
            return new QuinnResult(process.exitCode(), parseSummary(stdout), stdout, process.stderr(), timedOut);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
    }

    static Map<String, String> parseSummary(String stdout) {
        Map<String, String> summary = new LinkedHashMap<>();
        String last = stdout.lines().filter(line -> !line.isBlank()).reduce((first, second) -> second).orElse("");
        for (String pair : last.trim().split("\\s+")) {
            int equals = pair.indexOf('=');
            if (equals > 0) {
                summary.put(pair.substring(0, equals), pair.substring(equals + 1));
            }
        }
        return summary;
    }

    private static String describeConfigured() {
        String property = System.getProperty(PROPERTY);
        String environment = System.getenv(ENVIRONMENT);
        return "-D" + PROPERTY + "=" + (property == null ? "(unset)" : property)
                + ", $" + ENVIRONMENT + "=" + (environment == null ? "(unset)" : environment);
    }
}
