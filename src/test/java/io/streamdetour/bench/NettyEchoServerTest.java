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

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

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

  @Test
  void endingLikeG3proxyStopsTheEchoAndReadsTheRestAway() {
    assertThat(run("--end", "g3", "--sessions", "16", "--concurrency", "8", "--bytes", "512K").getLong("ok"))
        .isEqualTo(16);
  }
}
