package io.streamdetour;

import io.streamdetour.testclient.DetourClient;
import io.streamdetour.testclient.SessionResult;
import io.streamdetour.testclient.SessionSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The server as an operator runs it: its own process, configured from the environment, stopped by SIGTERM. */
class StreamDetourMainTest {

  private static Process start(Path dir, List<String> args, String... env) throws Exception {
    List<String> command = ServerCommand.of(args);
    ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile());
    for (int i = 0; i < env.length; i += 2) {
      builder.environment().put(env[i], env[i + 1]);
    }
    return builder.start();
  }

  private static int freeUdpPort() throws Exception {
    try (DatagramSocket socket = new DatagramSocket(0)) {
      return socket.getLocalPort();
    }
  }

  @Test
  void printsTheG3proxyLinesServesAndStopsGracefullyOnSigterm(@TempDir Path dir) throws Exception {
    int port = freeUdpPort();
    Process process = start(dir, List.of(), "STREAM_DETOUR_QUIC__PORT", String.valueOf(port),
        "STREAM_DETOUR_QUIC__ALPN", DetourClient.DEFAULT_ALPN, "STREAM_DETOUR_SHUTDOWN__GRACE", "5s",
        "STREAM_DETOUR_ADMIN__PORT", "0");
    CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> readAll(process.getErrorStream()));
    try {
      BlockingQueue<String> out = lines(process.getInputStream());
      List<String> snippet = new ArrayList<>();
      while (snippet.size() < 6 || !snippet.get(snippet.size() - 1).startsWith("  tls_name:")) {
        String line = out.poll(30, TimeUnit.SECONDS);
        assertThat(line).as("server output so far: %s", snippet).isNotNull();
        snippet.add(line);
      }
      Path ca = dir.resolve("run").resolve("stream-detour-ca.pem");
      assertThat(snippet).contains("  QUIC (g3proxy detour)  udp 127.0.0.1:" + port + ", no ALPN or [g3-detour]",
          "  configuration          embedded defaults, version 1, watched every 5000 ms",
          "  session log            ./logs/sessions.log",
          "  policy                 0 rules, default continue");
      assertThat(snippet).anyMatch(l -> l.matches("  admin API +http://127\\.0\\.0\\.1:\\d+/ .*"));
      assertThat(snippet).containsSubsequence(
          "stream_detour_service:",
          "  peer: 127.0.0.1:" + port,
          "  tls_client:",
          "    ca_certificate: " + ca.toRealPath(),
          "  tls_name: localhost");
      try (DetourClient client = DetourClient.builder("127.0.0.1", port).caCertificate(ca).serverName("localhost").build()) {
        SessionResult result = client.runSession(SessionSpec.continueWith(100_000));
        assertThat(result.ok()).as("%s", result).isTrue();
      }
      Path sessionLog = dir.resolve("logs").resolve("sessions.log");
      await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(sessionLog) && Files.size(sessionLog) > 0);
      assertThat(Files.readString(sessionLog)).contains("\"action\":\"continue\"").contains("\"bytes_north\":100000")
          .contains("\"end\":\"completed\"").contains("\"config_version\":1");

      process.toHandle().destroy(); // SIGTERM, leaving our ends of its pipes open
      assertThat(process.waitFor(20, TimeUnit.SECONDS)).isTrue();
      assertThat(stderr.get(5, TimeUnit.SECONDS)).contains("stopping: no new sessions").contains("stopped");
    } finally {
      process.destroyForcibly();
    }
  }

  @Test
  void aBadConfigurationStopsTheStartNamingTheKey(@TempDir Path dir) throws Exception {
    Path conf = dir.resolve("bad.yaml");
    Files.writeString(conf, "quic:\n  port: 99999\nrelay:\n  idle-timeout: forever\n");
    Process process = start(dir, List.of("--conf", conf.toString()));
    CompletableFuture<String> errors = CompletableFuture.supplyAsync(() -> readAll(process.getErrorStream()));
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    String stderr = errors.get(5, TimeUnit.SECONDS);
    assertThat(process.exitValue()).isEqualTo(2);
    assertThat(stderr).contains("quic.port: must be between 0 and 65535, got 99999")
        .contains("relay.idle-timeout: must be a duration");
  }

  @Test
  void startsAsAClusterNodeWithTheClusterFlag(@TempDir Path dir) throws Exception {
    int port = freeUdpPort();
    int memberPort = TestCluster.freeTcpPort();
    Process process = start(dir, List.of("--cluster"), "STREAM_DETOUR_QUIC__PORT", String.valueOf(port),
        "STREAM_DETOUR_QUIC__ALPN", DetourClient.DEFAULT_ALPN, "STREAM_DETOUR_ADMIN__PORT", "0",
        "STREAM_DETOUR_SHUTDOWN__GRACE", "2s", "STREAM_DETOUR_CLUSTER__PORT", String.valueOf(memberPort),
        "STREAM_DETOUR_CLUSTER__MEMBERS", "127.0.0.1:" + memberPort);
    CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> readAll(process.getErrorStream()));
    try {
      BlockingQueue<String> out = lines(process.getInputStream());
      List<String> seen = new ArrayList<>();
      String clusterLine = null;
      while (clusterLine == null) {
        // Generous: forming a Hazelcast member in a fresh JVM is slow on a busy machine.
        String line = out.poll(120, TimeUnit.SECONDS);
        assertThat(line).as("server output so far: %s", seen).isNotNull();
        seen.add(line);
        clusterLine = line.startsWith("  cluster ") ? line : null;
      }
      assertThat(clusterLine).matches("  cluster +node [0-9a-f-]{36}, 1 member\\(s\\), pairing here");
      Path ca = dir.resolve("run").resolve("stream-detour-ca.pem");
      await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(ca));
      try (DetourClient client = DetourClient.builder("127.0.0.1", port).caCertificate(ca).serverName("localhost").build()) {
        assertThat(client.runSession(SessionSpec.continueWith(50_000)).ok()).isTrue();
      }
      process.toHandle().destroy();
      assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(stderr.get(5, TimeUnit.SECONDS)).contains("joined the cluster as node").contains("stopped");
    } finally {
      process.destroyForcibly();
    }
  }

  @Test
  void aNodeThatCannotJoinItsClusterSaysWhyAndExitsWith3(@TempDir Path dir) throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Process process = start(dir, List.of("--cluster"), "STREAM_DETOUR_CLUSTER__PORT",
          String.valueOf(taken.getLocalPort()), "STREAM_DETOUR_CLUSTER__MEMBERS", "127.0.0.1:" + taken.getLocalPort(),
          "STREAM_DETOUR_QUIC__PORT", "0", "STREAM_DETOUR_ADMIN__PORT", "0");
      CompletableFuture<String> errors = CompletableFuture.supplyAsync(() -> readAll(process.getErrorStream()));
      assertThat(process.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(process.exitValue()).isEqualTo(3);
      assertThat(errors.get(5, TimeUnit.SECONDS)).contains("could not join the cluster, not started")
          .contains("127.0.0.1:" + taken.getLocalPort());
    }
  }

  private static BlockingQueue<String> lines(java.io.InputStream in) {
    BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread.ofVirtual().start(() -> {
      try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        for (String line; (line = reader.readLine()) != null; ) {
          lines.add(line);
        }
      } catch (java.io.IOException ignored) {
        // the process ended
      }
    });
    return lines;
  }

  private static String readAll(java.io.InputStream in) {
    try {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }

}
