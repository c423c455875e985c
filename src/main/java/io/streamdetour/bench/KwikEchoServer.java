package io.streamdetour.bench;

import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.config.ConfigLoader;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.EdgeStream;
import io.streamdetour.edge.kwik.KwikListener;
import io.streamdetour.tls.TlsIdentity;
import io.vertx.core.Vertx;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The ceiling of the Kwik stack, for the benchmarks (bench/compare_echo.py): the server's own
 * {@link KwikListener} with the server's {@code quic.*} settings (same windows, limits, idle
 * timeout, ALPN-less handshake, send-stall guard, a virtual thread per stream), but none of the
 * server above it: no header decoding beyond the match id, no policy, no event bus, no
 * pairing, no metrics. Every north stream is answered continue; every stream is echoed with a
 * {@code relay.buffer-bytes} buffer, FIN after the last byte; a STOP_SENDING makes it read the
 * rest away. Configuration as the server reads it (embedded defaults, {@code --conf FILE},
 * {@code STREAM_DETOUR_*} variables); Vert.x only reads it and is closed before the listener
 * starts.
 *
 * <p>usage: {@code java -cp stream-detour.jar io.streamdetour.bench.KwikEchoServer [--conf FILE]}
 */
public final class KwikEchoServer {

  private static final int PREAMBLE_BYTES = 16;
  private static final int TLV_MATCH_ID = 0xE5;
  private static final int TLV_PAYLOAD_LENGTH = 0xE6;

  private KwikEchoServer() {}

  public static void main(String[] args) throws Exception {
    Path conf = null;
    if (args.length == 2 && args[0].equals("--conf")) {
      conf = Path.of(args[1]);
    } else if (args.length != 0) {
      System.err.println("usage: KwikEchoServer [--conf FILE]");
      System.exit(64);
    }
    Vertx vertx = Vertx.vertx();
    ServerConfig config;
    try {
      config = ConfigLoader.load(vertx, conf).await(30, TimeUnit.SECONDS);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    KwikListener listener = start(config);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      listener.close(DetourErrorCodes.SERVER_SHUTDOWN, "stopping");
      stopped.countDown();
    }, "shutdown"));
    System.out.println("bare Kwik echo listening on udp " + listener.localAddress());
    stopped.await();
  }

  /** Starts the echo on {@code quic.*}, with {@code relay.buffer-bytes} buffers. */
  static KwikListener start(ServerConfig config) throws Exception {
    KwikListener listener = new KwikListener(config.quic(),
        TlsIdentity.load(config.tls(), config.quic().host()), "echo");
    int bufferBytes = config.relay().bufferBytes();
    listener.start(stream -> serve(stream, bufferBytes));
    return listener;
  }

  private static void serve(EdgeStream stream, int bufferBytes) {
    try {
      byte[] preamble = new byte[PREAMBLE_BYTES];
      int got = readFully(stream, preamble);
      if (got == 0) {
        stream.finish(); // a south stream that g3proxy finished empty
        return;
      }
      byte[] rest = new byte[u16(preamble, 14)];
      int addresses = switch (preamble[13]) {
        case 0x00 -> 0;
        case 0x11, 0x12 -> 12;
        case 0x21, 0x22 -> 36;
        default -> -1;
      };
      if (got < PREAMBLE_BYTES || addresses < 0 || readFully(stream, rest) < rest.length) {
        stream.reset(DetourErrorCodes.HEADER_ERROR);
        return;
      }
      int matchId = -1;
      long payload = -1;
      for (int p = addresses; p + 3 <= rest.length; p += 3 + u16(rest, p + 1)) {
        int type = rest[p] & 0xFF;
        if (type == TLV_MATCH_ID && p + 5 <= rest.length) {
          matchId = u16(rest, p + 3);
        } else if (type == TLV_PAYLOAD_LENGTH && p + 7 <= rest.length) {
          payload = (long) u16(rest, p + 3) << 16 | u16(rest, p + 5);
        }
      }
      if (matchId < 0) {
        stream.reset(DetourErrorCodes.HEADER_ERROR);
        return;
      }
      byte[] buffer = new byte[bufferBytes];
      if (payload >= 0) { // a north stream: read its payload away, answer continue
        for (long left = payload; left > 0; ) {
          int n = stream.read(buffer, 0, (int) Math.min(buffer.length, left));
          if (n < 0) {
            stream.reset(DetourErrorCodes.HEADER_ERROR);
            return;
          }
          left -= n;
        }
        stream.write(new byte[] {(byte) (matchId >> 8), (byte) matchId, 0, 0}, 0, 4);
      }
      echo(stream, buffer);
    } catch (IOException resetOrAborted) {
      stream.reset(DetourErrorCodes.SESSION_ABORTED);
    }
  }

  private static void echo(EdgeStream stream, byte[] buffer) throws IOException {
    boolean writing = true;
    for (int n; (n = stream.read(buffer, 0, buffer.length)) >= 0; ) {
      if (writing) {
        try {
          stream.write(buffer, 0, n);
        } catch (IOException stopSending) {
          writing = false; // the client stopped reading: read the rest away
        }
      }
    }
    if (writing) {
      stream.finish();
    }
  }

  private static int readFully(EdgeStream stream, byte[] buffer) throws IOException {
    int total = 0;
    for (int n; total < buffer.length && (n = stream.read(buffer, total, buffer.length - total)) >= 0; ) {
      total += n;
    }
    return total;
  }

  private static int u16(byte[] buffer, int p) {
    return (buffer[p] & 0xFF) << 8 | buffer[p + 1] & 0xFF;
  }
}
