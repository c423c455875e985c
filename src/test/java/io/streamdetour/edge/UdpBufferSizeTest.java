package io.streamdetour.edge;

import static org.assertj.core.api.Assertions.assertThat;

import io.streamdetour.TestConfigs;
import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.kwik.KwikListener;
import io.streamdetour.edge.netty.NettyListener;
import io.streamdetour.tls.TlsIdentity;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code quic.udp-buffer-bytes} reaches the kernel on both edges, read back from outside with
 * {@code ss}: Linux reports twice what it granted. The sizes stay under the kernel's default
 * {@code rmem_max} and {@code wmem_max} (212 992), so any machine grants them in full.
 */
class UdpBufferSizeTest {

  private static final Pattern SKMEM = Pattern.compile("skmem:\\(r\\d+,rb(\\d+),t\\d+,tb(\\d+)");

  @TempDir
  Path dir;

  private ServerConfig config(String edge, int bytes) throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      return TestConfigs.forTest(vertx, dir, new JsonObject().put("quic", new JsonObject().put("edge", edge)
          .put("alpn", new JsonArray().add("g3-detour")).put("udp-buffer-bytes", bytes)));
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  /** {receive, send} buffer of the UDP socket on {@code port}, as the kernel reports them. */
  private static long[] kernelBuffers(int port) throws IOException, InterruptedException {
    Process ss = new ProcessBuilder("ss", "-u", "-a", "-n", "-m", "sport = :" + port).redirectErrorStream(true).start();
    String out = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    ss.waitFor(10, TimeUnit.SECONDS);
    Matcher m = SKMEM.matcher(out);
    assertThat(m.find()).as("ss output: " + out).isTrue();
    return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
  }

  @Test
  void theKwikSocketGetsTheBuffersAskedFor() throws Exception {
    for (int bytes : new int[] {100_000, 150_000}) {
      ServerConfig config = config("kwik", bytes);
      KwikListener listener = new KwikListener(config.quic(), TlsIdentity.load(config.tls(), "127.0.0.1"), "test");
      listener.start(stream -> stream.reset(DetourErrorCodes.SERVER_SHUTDOWN));
      try {
        assertThat(kernelBuffers(listener.localAddress().getPort())).containsExactly(2L * bytes, 2L * bytes);
      } finally {
        listener.close(DetourErrorCodes.SERVER_SHUTDOWN, "test over");
      }
    }
  }

  @Test
  void everyNettySocketGetsTheBuffersAskedFor() throws Exception {
    for (int bytes : new int[] {100_000, 150_000}) {
      ServerConfig base = config("netty", bytes);
      ServerConfig.Quic quic = base.quic().all().getFirst();
      NettyListener listener = new NettyListener(quic, TlsIdentity.load(base.tls(), "127.0.0.1"), "test");
      listener.start(stream -> stream.reset(DetourErrorCodes.SERVER_SHUTDOWN));
      try {
        assertThat(kernelBuffers(listener.localAddress().getPort())).containsExactly(2L * bytes, 2L * bytes);
      } finally {
        listener.close(DetourErrorCodes.SERVER_SHUTDOWN, "test over");
      }
    }
  }
}
