package io.streamdetour.loadgen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Runs the load generator against the Rust reference echo server over real QUIC on loopback:
 * clean runs pass byte-exact, and a server that answers or echoes wrongly fails the run with
 * the right kind of error.
 */
class AgainstEchoServerTest {

  private static final PrintStream NO_PROGRESS = new PrintStream(OutputStream.nullOutputStream());

  @BeforeAll
  static void needsTheEchoServer() {
    Assumptions.assumeTrue(EchoServer.available(),
        "SKIPPED: no detour-echo-server at " + EchoServer.binary() + " (set -Ddetour.echo.server or build it)");
  }

  private static Summary run(EchoServer server, String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("--server", "127.0.0.1:" + server.port, "--quiet"));
    all.addAll(List.of(args));
    return new LoadRun(LoadGenMain.parse(all.toArray(String[]::new)), NO_PROGRESS).run();
  }

  private static long number(Summary summary, String key) {
    Object value = summary.get(key);
    return value == null ? 0 : Long.parseLong(value.toString());
  }

  @Test
  void continueSessionsComeBackByteExact() throws Exception {
    try (EchoServer server = EchoServer.start()) {
      Summary s = run(server, "--sessions", "48", "--concurrency", "12", "--bytes", "40000", "--chunk", "3000",
          "--server-pid", Long.toString(server.pid()));
      assertEquals("pass", s.get("result"), s.toLine());
      assertEquals(48, number(s, "ok"));
      assertEquals(48, number(s, "continue"));
      assertEquals(48L * 2 * 40000, number(s, "bytes_verified"));
      assertEquals(48, number(s, "decisions"));
      assertTrue(number(s, "connections") >= 3, "16 sessions per connection at most: " + s.toLine());
      assertTrue(s.get("server_cpu_s") != null && s.get("server_threads") != null, s.toLine());
      assertEquals(0, LoadGenMain.exitStatus(s));
    }
  }

  @Test
  void endingLikeG3proxyPasses() throws Exception {
    try (EchoServer server = EchoServer.start()) {
      Summary s = run(server, "--sessions", "32", "--concurrency", "8", "--bytes", "64K", "--end", "g3",
          "--protocol", "websocket", "--username", "alice");
      assertEquals("pass", s.get("result"), s.toLine());
      assertEquals(32, number(s, "ok"));
      assertTrue(number(s, "bytes_verified") >= 32L * 65536, s.toLine());
    }
  }

  @Test
  void blockAndBypassAreCheckedAgainstTheExpectedAction() throws Exception {
    try (EchoServer block = EchoServer.start("--action", "2")) {
      Summary expected = run(block, "--sessions", "20", "--expect-action", "block");
      assertEquals("pass", expected.get("result"), expected.toLine());
      assertEquals(20, number(expected, "block"));
      Summary unexpected = run(block, "--sessions", "5");
      assertEquals("fail", unexpected.get("result"));
      assertEquals(5, number(unexpected, "err_unexpected_action"));
      assertEquals(1, LoadGenMain.exitStatus(unexpected));
    }
    try (EchoServer bypass = EchoServer.start("--action", "1")) {
      Summary s = run(bypass, "--sessions", "20", "--expect-action", "bypass");
      assertEquals("pass", s.get("result"), s.toLine());
      assertEquals(20, number(s, "bypass"));
    }
  }

  @Test
  void corruptedEchoIsADataMismatch() throws Exception {
    try (EchoServer server = EchoServer.start("--corrupt-south")) {
      Summary s = run(server, "--sessions", "10", "--bytes", "20000");
      assertEquals("fail", s.get("result"));
      assertEquals(10, number(s, "failed"));
      assertEquals(10, number(s, "err_data_mismatch"), s.toLine());
      assertEquals(10, number(s, "errors"), s.toLine());
    }
  }

  @Test
  void wrongMatchIdInTheReplyIsReported() throws Exception {
    try (EchoServer server = EchoServer.start("--match-id-offset", "1")) {
      Summary s = run(server, "--sessions", "10", "--bytes", "0");
      assertEquals("fail", s.get("result"));
      assertEquals(10, number(s, "err_invalid_match_id"), s.toLine());
    }
  }

  @Test
  void openLoopRunsTheArrivalsItWasGiven() throws Exception {
    try (EchoServer server = EchoServer.start()) {
      Summary s = run(server, "--rate", "100", "--sessions", "50", "--bytes", "1000");
      assertEquals("pass", s.get("result"), s.toLine());
      assertEquals(50, number(s, "arrivals"));
      assertEquals(50, number(s, "ok"));
      assertEquals(0, number(s, "dropped"));
    }
  }

  @Test
  void aWarmUpIsLeftOutOfTheFiguresButNotOutOfTheVerdict() throws Exception {
    try (EchoServer server = EchoServer.start()) {
      // 2 s at 200/s, of which the first is warm-up: the figures hold the second only.
      Summary s = run(server, "--rate", "200", "--warmup", "1", "--duration", "1", "--bytes", "1000");
      assertEquals("pass", s.get("result"), s.toLine());
      long arrivals = number(s, "arrivals");
      assertTrue(arrivals >= 120 && arrivals <= 280, "one second of arrivals, not two: " + s.toLine());
      assertTrue(number(s, "decisions") <= 280 && number(s, "ok") <= 280, s.toLine());
      assertEquals("1.0", s.get("warmup_s").toString());
    }
    try (EchoServer corrupt = EchoServer.start("--corrupt-south")) {
      Summary s = run(corrupt, "--rate", "50", "--warmup", "1", "--duration", "0.2", "--bytes", "1000");
      assertEquals("fail", s.get("result"), s.toLine());
      assertTrue(number(s, "warmup_failed") >= 20, "the warm-up's failures stay counted: " + s.toLine());
    }
    assertThrows(IllegalArgumentException.class, () -> LoadGenMain.parse("--server", "127.0.0.1:1", "--warmup", "1"));
  }

  @Test
  void heldIdleConnectionsAreKeptAliveWithDatagrams() throws Exception {
    try (EchoServer server = EchoServer.start()) {
      Settings settings = LoadGenMain.parse("--server", "127.0.0.1:" + server.port, "--quiet",
          "--connections", "3", "--hold-idle", "1.2", "--keep-alive", "0.5");
      Summary s = new IdleHold(settings, NO_PROGRESS).run();
      assertEquals("pass", s.get("result"), s.toLine());
      assertEquals(3, number(s, "alive_at_end"));
      assertEquals("datagram", s.get("keepalive"));
      assertTrue(number(s, "keepalives_sent") >= 3, s.toLine());
    }
  }
}
