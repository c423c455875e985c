package io.streamdetour.edge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A sender of Initial-shaped datagrams from 127.0.0.2, each naming a new connection, on a real
 * listener of each edge: what exceeds that address's share of {@code quic.max-handshake-rate} is
 * dropped and counted, the session already open relays on through the flood, and a client on
 * another address gets a new connection served in the middle of it.
 */
class HandshakeFloodTest {

  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final int RATE = 20;

  @ParameterizedTest
  @ValueSource(strings = {"kwik", "netty"})
  void aFloodOfInitialsIsDroppedWhileOpenSessionsRelay(String edge) throws Exception {
    JsonObject overrides = RunningServer.acceptingTestAlpn();
    overrides.getJsonObject("quic").put("edge", edge).put("max-handshake-rate", RATE);
    try (RunningServer server = RunningServer.start(overrides);
        DetourClient client = server.client(WAIT);
        RawSession open = client.openContinued(SessionSpec.continueWith(0), WAIT)) {
      AtomicBoolean stop = new AtomicBoolean();
      CompletableFuture<long[]> flood = CompletableFuture.supplyAsync(() -> flood(server.port(), stop));
      // The open session relays, in order and intact, all through the flood.
      Random random = new Random(7);
      for (int chunks = 1; chunks <= 40; chunks++) {
        byte[] chunk = new byte[4096];
        random.nextBytes(chunk);
        open.north().write(chunk);
        assertThat(open.north().read(chunk.length, WAIT)).isEqualTo(chunk);
        if (chunks == 20) {
          // Once the flood has taken more than the whole budget could give it, a client on
          // 127.0.0.1 connects in the middle of it and is served: 127.0.0.2 had only its share.
          await().atMost(WAIT).until(() -> dropped(server) >= 2 * RATE);
          assertThat(flood.isDone()).isFalse();
          try (DetourClient another = server.client(WAIT)) {
            assertThat(another.runSession(SessionSpec.continueWith(64 * 1024)).ok()).isTrue();
          }
        }
      }
      stop.set(true);
      long sent = flood.join()[0];
      long floodMillis = flood.join()[1];
      // The flooding address was admitted at most its quarter's burst and rate over the flood
      // (and a second of slack); the kernel may drop a few of the rest before the listener reads them.
      long share = RATE / 4;
      long admittedAtMost = share + share * (floodMillis / 1000 + 1);
      assertThat(sent).isGreaterThan(1000);
      assertThat(dropped(server)).isBetween(sent - admittedAtMost - sent / 10, sent);
    }
  }

  private static long dropped(RunningServer server) throws Exception {
    return (long) PrometheusText.parse(server.admin().get("/metrics").body())
        .value("stream_detour_quic_handshakes_dropped_total");
  }

  /**
   * Sends 1200-byte QUIC v1 Initial-shaped datagrams from 127.0.0.2, each with a new destination
   * id, about 10 000 a second, until {@code stop}; returns how many and for how many milliseconds.
   */
  private static long[] flood(int port, AtomicBoolean stop) {
    long start = System.nanoTime();
    long sent = 0;
    try (DatagramChannel channel = DatagramChannel.open()) {
      channel.bind(new InetSocketAddress("127.0.0.2", 0));
      channel.connect(new InetSocketAddress("127.0.0.1", port));
      Random random = new Random(11);
      ByteBuffer datagram = ByteBuffer.allocate(1200);
      byte[] body = new byte[1200];
      random.nextBytes(body);
      while (!stop.get()) {
        datagram.clear();
        datagram.put(body);
        datagram.put(0, (byte) 0xC3).putInt(1, 1).put(5, (byte) 8).putLong(6, random.nextLong()).put(14, (byte) 8);
        datagram.flip();
        channel.write(datagram);
        sent++;
        if (sent % 10 == 0) {
          // About 10 000 a second, 10 every millisecond: steady enough to take every datagram's
          // worth of budget as soon as it frees, slow enough for the listener to read them all.
          long wait = start + sent * 100_000L - System.nanoTime();
          if (wait > 0) {
            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
          }
        }
      }
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    return new long[] {sent, (System.nanoTime() - start) / 1_000_000};
  }
}
