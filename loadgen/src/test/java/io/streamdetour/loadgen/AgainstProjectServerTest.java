package io.streamdetour.loadgen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the load generator against stream-detour itself (the project's jar, built by the root
 * module's {@code mvn package}) on loopback, with ALPN {@code g3-detour} accepted and a rule
 * that blocks one upstream host.
 */
class AgainstProjectServerTest {

  private static final PrintStream NO_PROGRESS = new PrintStream(OutputStream.nullOutputStream());

  @TempDir
  static Path dir;
  private static Process server;
  private static int quicPort;
  private static int adminPort;

  static Path jar() {
    return Path.of(System.getProperty("stream.detour.jar", Path.of("..", "target", "stream-detour.jar").toString()));
  }

  @BeforeAll
  static void startServer() throws Exception {
    Assumptions.assumeTrue(Files.isRegularFile(jar()),
        "SKIPPED: no " + jar() + " (build the project first: mvn package -DskipTests in the root)");
    try (DatagramSocket udp = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        ServerSocket tcp = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      quicPort = udp.getLocalPort();
      adminPort = tcp.getLocalPort();
    }
    Path conf = dir.resolve("loadgen-test.yaml");
    Files.writeString(conf, """
        quic: { host: 127.0.0.1, port: %d, alpn: [g3-detour] }
        admin: { host: 127.0.0.1, port: %d }
        tls: { generated-dir: "%s" }
        audit: { file: "%s" }
        capture: { dir: "%s" }
        reload: { scan-period: 0 }
        policy:
          rules:
            - name: blocked-host
              action: block
              match: { host: [blocked.example] }
        """.formatted(quicPort, adminPort, dir.resolve("run"), dir.resolve("sessions.log"), dir.resolve("capture")));
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    server = new ProcessBuilder(java.toString(), "-jar", jar().toAbsolutePath().toString(), "--conf", conf.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("server.log").toFile()).start();
    HttpClient http = HttpClient.newHttpClient();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (true) {
      assertTrue(server.isAlive(), "server exited: " + Files.readString(dir.resolve("server.log")));
      try {
        HttpResponse<String> ready = http.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + adminPort + "/health/ready")).timeout(Duration.ofSeconds(2)).build(),
            HttpResponse.BodyHandlers.ofString());
        if (ready.statusCode() == 200) {
          break;
        }
      } catch (java.io.IOException notYet) {
        // still starting
      }
      assertTrue(System.nanoTime() < deadline, "server not ready in 90 s: " + Files.readString(dir.resolve("server.log")));
      TimeUnit.MILLISECONDS.sleep(200);
    }
  }

  @AfterAll
  static void stopServer() throws InterruptedException {
    if (server != null) {
      server.destroy();
      if (!server.waitFor(40, TimeUnit.SECONDS)) {
        server.destroyForcibly().waitFor();
      }
    }
  }

  private static Summary run(String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("--server", "127.0.0.1:" + quicPort, "--quiet",
        "--server-pid", Long.toString(server.pid()),
        "--server-metrics", "http://127.0.0.1:" + adminPort + "/metrics"));
    all.addAll(List.of(args));
    return new LoadRun(LoadGenMain.parse(all.toArray(String[]::new)), NO_PROGRESS).run();
  }

  @Test
  void relaysByteExactAndEndsLikeG3proxy() throws Exception {
    Summary each = run("--sessions", "40", "--concurrency", "8", "--bytes", "32K");
    assertEquals("pass", each.get("result"), each.toLine());
    assertEquals(40L * 2 * 32 * 1024, Long.parseLong(each.get("bytes_verified").toString()));
    assertEquals("40", each.get("server_decisions").toString(), each.toLine());
    assertTrue(each.get("server_cpu_s") != null && each.get("server_heap_used_mib") != null, each.toLine());

    Summary g3 = run("--sessions", "40", "--concurrency", "8", "--bytes", "32K", "--end", "g3",
        "--protocol", "websocket", "--username", "alice");
    assertEquals("pass", g3.get("result"), g3.toLine());
  }

  @Test
  void aRuleThatBlocksIsSeenAsBlock() throws Exception {
    Summary s = run("--sessions", "20", "--upstream", "blocked.example:443", "--expect-action", "block");
    assertEquals("pass", s.get("result"), s.toLine());
    assertEquals("20", s.get("block").toString());
  }
}
