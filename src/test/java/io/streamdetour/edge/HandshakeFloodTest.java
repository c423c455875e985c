package io.streamdetour.edge;

import static org.assertj.core.api.Assertions.assertThat;

import io.streamdetour.RunningServer;
import io.streamdetour.admin.PrometheusText;
import io.streamdetour.testclient.DetourClient;
import io.streamdetour.testclient.RawSession;
import io.streamdetour.testclient.SessionSpec;
import io.vertx.core.json.JsonObject;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A sender of Initial-shaped datagrams, each naming a new connection, on a real listener of
 * each edge: what exceeds {@code quic.max-handshake-rate} is dropped and counted, the session
 * already open relays on through the flood, and a new connection is served once it stops.
 */
class HandshakeFloodTest {

  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final int RATE = 200;
  private static final int FLOOD = 20_000;

  @ParameterizedTest
  @ValueSource(strings = {"kwik", "netty"})
  void aFloodOfInitialsIsDroppedWhileOpenSessionsRelay(String edge) throws Exception {
    JsonObject overrides = RunningServer.acceptingTestAlpn();
    overrides.getJsonObject("quic").put("edge", edge).put("max-handshake-rate", RATE);
    try (RunningServer server = RunningServer.start(overrides);
        DetourClient client = server.client(WAIT);
        RawSession open = client.openContinued(SessionSpec.continueWith(0), WAIT)) {
      CompletableFuture<Long> flood = CompletableFuture.supplyAsync(() -> flood(server.port()));
      // The open session relays, in order and intact, all through the flood.
      Random random = new Random(7);
      int chunks = 0;
      while (!flood.isDone() || chunks < 10) {
        byte[] chunk = new byte[4096];
        random.nextBytes(chunk);
        open.north().write(chunk);
        assertThat(open.north().read(chunk.length, WAIT)).isEqualTo(chunk);
        chunks++;
      }
      long floodMillis = flood.join();
      // Admitted at most: the burst plus the rate over the flood (and a second of slack); the
      // kernel may drop a few of the rest before the listener reads them.
      long admittedAtMost = RATE + RATE * (floodMillis / 1000 + 1);
      assertThat(dropped(server)).isBetween(FLOOD - admittedAtMost - FLOOD / 10, (long) FLOOD);

      // The budget refills: a new connection is served.
      Thread.sleep(1100);
      try (DetourClient another = server.client(WAIT)) {
        assertThat(another.runSession(SessionSpec.continueWith(64 * 1024)).ok()).isTrue();
      }
    }
  }

  private static long dropped(RunningServer server) throws Exception {
    return (long) PrometheusText.parse(server.admin().get("/metrics").body())
        .value("stream_detour_quic_handshakes_dropped_total");
  }

  /** Sends {@link #FLOOD} 1200-byte QUIC v1 Initial-shaped datagrams, each with a new destination id, over about 2 s. */
  private static long flood(int port) {
    long start = System.nanoTime();
    try (DatagramChannel channel = DatagramChannel.open()) {
      channel.connect(new InetSocketAddress("127.0.0.1", port));
      Random random = new Random(11);
      ByteBuffer datagram = ByteBuffer.allocate(1200);
      byte[] body = new byte[1200];
      random.nextBytes(body);
      for (int i = 0; i < FLOOD; i++) {
        datagram.clear();
        datagram.put(body);
        datagram.put(0, (byte) 0xC3).putInt(1, 1).put(5, (byte) 8).putLong(6, random.nextLong()).put(14, (byte) 8);
        datagram.flip();
        channel.write(datagram);
        if (i % 100 == 99) {
          // About 10 000 a second: the listener reads them all, so each is dropped or admitted by the budget.
          long due = start + (i + 1) * 100_000L;
          long wait = due - System.nanoTime();
          if (wait > 0) {
            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
          }
        }
      }
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    return (System.nanoTime() - start) / 1_000_000;
  }
}
