package io.streamdetour.bench;

import io.streamdetour.TestConfigs;
import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.edge.netty.NettyListener;
import io.streamdetour.testclient.QuinnClient;
import io.streamdetour.testclient.QuinnResult;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The benchmarks' bare Netty echo serves the quinn client (g3proxy on the wire, offering ALPN) byte-exact. */
class NettyEchoServerTest {

  @TempDir
  static Path dir;
  private static NettyListener echo;

  @BeforeAll
  static void start() throws Exception {
    QuinnClient.assumeAvailable();
    Vertx vertx = Vertx.vertx();
    try {
      echo = NettyEchoServer.start(TestConfigs.forTest(vertx, dir, new JsonObject().put("quic", new JsonObject()
          .put("edge", "netty").put("alpn", new JsonArray().add("g3-detour")).put("sockets", 2))));
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  @AfterAll
  static void stop() {
    if (echo != null) {
      echo.close(DetourErrorCodes.SERVER_SHUTDOWN, "test over");
    }
  }

  private static QuinnResult run(String... more) {
    List<String> args = new ArrayList<>(List.of("--server", "127.0.0.1:" + echo.localAddress().getPort(), "--insecure",
        "--alpn", "g3-detour"));
    args.addAll(List.of(more));
    QuinnResult result = QuinnClient.run(args, Duration.ofSeconds(60));
    assertThat(result.passed()).as(result.toString()).isTrue();
    return result;
  }

  @Test
  void everySessionIsContinuedAndEchoedExactly() {
    QuinnResult result = run("--connections", "2", "--sessions", "24", "--concurrency", "8", "--bytes", "256K");
    assertThat(result.getLong("continue")).isEqualTo(24);
    assertThat(result.getLong("bytes_verified")).isEqualTo(24L * 2 * 256 * 1024);
  }

  @Test
  void websocketPayloadAndUsernameAreReadPastBeforeTheReply() {
    assertThat(run("--protocol", "websocket", "--username", "alice", "--sessions", "8", "--bytes", "64K")
        .getLong("continue")).isEqualTo(8);
  }

  /** quic.qlog-dir: the listener makes the directory and writes quiche's trace of each connection there. */
  @Test
  void aQlogDirectoryGetsATraceOfEachConnection() throws Exception {
    Path qlog = dir.resolve("qlog").resolve("made-at-start");
    Vertx vertx = Vertx.vertx();
    NettyListener traced;
    try {
      traced = NettyEchoServer.start(TestConfigs.forTest(vertx, dir.resolve("traced"), new JsonObject().put("quic",
          new JsonObject().put("edge", "netty").put("alpn", new JsonArray().add("g3-detour"))
              .put("qlog-dir", qlog.toString()))));
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    try {
      QuinnResult result = QuinnClient.run(List.of("--server", "127.0.0.1:" + traced.localAddress().getPort(),
          "--insecure", "--alpn", "g3-detour", "--connections", "2", "--sessions", "4", "--bytes", "16K"),
          Duration.ofSeconds(60));
      assertThat(result.passed()).as(result.toString()).isTrue();
      // Each trace is complete once its connection is gone: the client closed both.
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        List<Path> traces;
        try (var files = Files.list(qlog)) {
          traces = files.filter(f -> f.getFileName().toString().endsWith(".qlog")).toList();
        }
        assertThat(traces).hasSize(2).allSatisfy(trace -> assertThat(Files.readString(trace))
            .contains("\"vantage_point\":{\"type\":\"server\"}", "quic:packet_received", "quic:connection_closed"));
      });
    } finally {
      traced.close(DetourErrorCodes.SERVER_SHUTDOWN, "test over");
    }
  }

  @Test
  void endingLikeG3proxyStopsTheEchoAndReadsTheRestAway() {
    assertThat(run("--end", "g3", "--sessions", "16", "--concurrency", "8", "--bytes", "512K").getLong("ok"))
        .isEqualTo(16);
  }
}
