package io.streamdetour.testclient;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The quinn tool's {@code detour-echo-server} on 127.0.0.1 and a free UDP port, for checking test clients.
 * It stops by itself after {@link #EXIT_AFTER} should a test run forget it.
 */
public final class EchoServerProcess implements AutoCloseable {

    public static final String HOST = "127.0.0.1";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration START_POLL = Duration.ofMillis(20);
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);
    private static final Duration EXIT_AFTER = Duration.ofMinutes(15);
    private static final int START_ATTEMPTS = 3;

    private final CapturedProcess process;
    private final int port;

    private EchoServerProcess(CapturedProcess process, int port) {
        this.process = process;
        this.port = port;
    }

    /** Starts the server with these extra options (e.g. {@code --alpn g3-detour}, {@code --action 2}). */
    public static EchoServerProcess start(List<String> options) throws IOException {
        Path executable = QuinnClient.echoServerBinary()
                .orElseThrow(() -> new IOException(QuinnClient.ECHO_SERVER + " not found beside the interop client"));
        IOException last = null;
        for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
            int port = freeUdpPort();
            List<String> command = new ArrayList<>(List.of(executable.toString(),
                    "--listen", HOST + ":" + port, "--exit-after", Long.toString(EXIT_AFTER.toSeconds())));
            command.addAll(options);
            EchoServerProcess server = new EchoServerProcess(CapturedProcess.start(command), port);
            try {
                server.awaitListening();
                return server;
            } catch (IOException e) {
                // Most likely the port was taken between probing and binding: try another one.
                server.process.close();
                last = e;
            }
        }
        throw last;
    }

    public String host() {
        return HOST;
    }

    public int port() {
        return port;
    }

    /** Stops the server (SIGTERM, then kill) and returns its {@code server_stats} counters, empty if none came. */
    public Map<String, String> stop() {
        process.stop(STOP_GRACE);
        return process.stdout().lines().filter(line -> line.startsWith("server_stats"))
                .reduce((first, second) -> second)
                .map(QuinnClient::parseSummary)
                .orElse(Map.of());
    }

    public String stdout() {
        return process.stdout();
    }

    public String stderr() {
        return process.stderr();
    }

    /** Stops the server if it runs and deletes its output files. */
    @Override
    public void close() {
        if (process.isAlive()) {
            stop();
        }
        process.close();
    }

    private void awaitListening() throws IOException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!process.stdout().startsWith("listening on")) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                throw new IOException("echo server did not start on port " + port + ": " + process.stdout()
                        + process.stderr());
            }
            Timed.sleep(START_POLL);
        }
    }

    private static int freeUdpPort() throws IOException {
        try (DatagramSocket probe = new DatagramSocket(0, InetAddress.getByName(HOST))) {
            return probe.getLocalPort();
        }
    }
}
