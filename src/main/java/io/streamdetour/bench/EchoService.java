package io.streamdetour.bench;

import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.config.ConfigLoader;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.EdgeStream;
import io.vertx.core.Vertx;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

/**
 * What the bare echoes do with a stream, whichever listener carries it: the header is read only
 * as far as the match id and payload length, a north stream is answered continue, and every
 * stream is echoed with one buffer, FIN after the last byte; a STOP_SENDING makes it read the
 * rest away.
 */
final class EchoService {

  private static final int PREAMBLE_BYTES = 16;
  private static final int TLV_MATCH_ID = 0xE5;
  private static final int TLV_PAYLOAD_LENGTH = 0xE6;

  private EchoService() {}

  /**
   * The configuration as the server reads it, with {@code [--conf FILE]} from {@code args};
   * other arguments print {@code usage} and exit 64. Vert.x only reads it and is closed again.
   */
  static ServerConfig config(String[] args, String usage) throws Exception {
    Path conf = null;
    if (args.length == 2 && args[0].equals("--conf")) {
      conf = Path.of(args[1]);
    } else if (args.length != 0) {
      System.err.println("usage: " + usage);
      System.exit(64);
    }
    Vertx vertx = Vertx.vertx();
    try {
      return ConfigLoader.load(vertx, conf).await(30, TimeUnit.SECONDS);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  /** Says where the echo listens, then waits until the JVM stops and closes it with 0x206. */
  static void runUntilStopped(String name, InetSocketAddress address, LongConsumer close)
      throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      close.accept(DetourErrorCodes.SERVER_SHUTDOWN);
      stopped.countDown();
    }, "shutdown"));
    System.out.println(name + " listening on udp " + address);
    stopped.await();
  }

  static void serve(EdgeStream stream, int bufferBytes) {
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
    boolean finished = false;
    for (int n; (n = stream.read(buffer, 0, buffer.length)) >= 0; ) {
      if (writing) {
        try {
          if (stream.inputComplete()) {
            finished = true; // the FIN with the last bytes, as the relay sends it
            stream.writeAndFinish(buffer, 0, n);
          } else {
            stream.write(buffer, 0, n);
          }
        } catch (IOException stopSending) {
          writing = false; // the client stopped reading: read the rest away
        }
      }
    }
    if (writing && !finished) {
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
