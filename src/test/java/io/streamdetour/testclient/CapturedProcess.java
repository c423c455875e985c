package io.streamdetour.testclient;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A child process whose stdout and stderr go to temporary files. Files rather than pipes: when a process exits,
 * the JDK may close a pipe under a thread still reading it, and its last lines (the summaries) would be lost.
 */
final class CapturedProcess implements AutoCloseable {

    private static final Duration KILL_WAIT = Duration.ofSeconds(5);

    private final Process process;
    private final Path stdout;
    private final Path stderr;

    private CapturedProcess(Process process, Path stdout, Path stderr) {
        this.process = process;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    static CapturedProcess start(List<String> command) throws IOException {
        Path stdout = Files.createTempFile("detour-process-", ".out");
        Path stderr = Files.createTempFile("detour-process-", ".err");
        try {
            Process process = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(stdout.toFile())
                    .redirectError(stderr.toFile())
                    .start();
            return new CapturedProcess(process, stdout, stderr);
        } catch (IOException e) {
            Files.deleteIfExists(stdout);
            Files.deleteIfExists(stderr);
            throw e;
        }
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** True if the process ended within the timeout. */
    boolean waitFor(Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !process.isAlive();
        }
    }

    /** SIGTERM, then SIGKILL if it is still there after {@code grace}. */
    void stop(Duration grace) {
        process.destroy();
        if (!waitFor(grace)) {
            kill();
        }
    }

    void kill() {
        process.destroyForcibly();
        waitFor(KILL_WAIT);
    }

    /** The exit status, -1 while it runs. */
    int exitCode() {
        return process.isAlive() ? -1 : process.exitValue();
    }

    String stdout() {
        return read(stdout);
    }

    String stderr() {
        return read(stderr);
    }

    /** Kills the process if it still runs and deletes the output files. */
    @Override
    public void close() {
        if (process.isAlive()) {
            kill();
        }
        try {
            Files.deleteIfExists(stdout);
            Files.deleteIfExists(stderr);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(output unreadable: " + e + ")";
        }
    }
}
