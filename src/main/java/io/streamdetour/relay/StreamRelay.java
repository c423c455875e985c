package io.streamdetour.relay;

import io.streamdetour.edge.EdgeStream;
import io.vertx.core.buffer.Buffer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * Echoes one stream back to g3proxy: what arrives on north goes back on north (to the remote),
 * what arrives on south goes back on south (to the client), through the session's inspectors.
 * Runs on the stream's own virtual thread. One buffer per direction bounds the bytes in flight,
 * and a blocked write stops the reading (QUIC flow control then holds the client).
 *
 * <p>Most sessions sit idle most of the time (10 000 of them at once on a node), so a direction
 * waits for its next bytes with a small buffer only ({@value #IDLE_BUFFER_BYTES} bytes), which
 * also carries short messages; the {@code relay.buffer-bytes} buffer is taken when more bytes
 * are waiting than the small one holds and dropped as soon as none are.
 */
public final class StreamRelay {

  private static final Logger LOG = LoggerFactory.getLogger(StreamRelay.class);
  /** About one QUIC packet's worth of stream data: a short message arrives whole in it. */
  static final int IDLE_BUFFER_BYTES = 2048;

  /** How a direction ended. */
  public enum Outcome {
    /** g3proxy finished its side; every byte went back, then our FIN. */
    FINISHED,
    /** g3proxy stopped reading our side (STOP_SENDING); what still came was read and dropped. */
    PEER_STOPPED,
    /** The stream was reset by g3proxy, or cut by the server (idle, shutdown, partner reset). */
    RESET
  }

  /** Told of every chunk received, from the relay thread. */
  public interface Progress {
    /**
     * @return false when the session was cut meanwhile (or by this chunk): the chunk is dropped,
     *     neither inspected nor sent, so inspectors and capture see only what was relayed
     */
    boolean received(Direction direction, int bytes);
  }

  private StreamRelay() {}

  public static Outcome pump(EdgeStream stream, Direction direction, InspectorChain chain,
      int bufferBytes, Progress progress) {
    try {
      return relay(stream, direction, chain, bufferBytes, progress);
    } catch (RuntimeException e) {
      // An inspector that throws ends its session like a reset: the caller cuts both streams.
      LOG.error("relay {} {}: {}", stream, direction, e.toString(), e);
      return Outcome.RESET;
    }
  }

  private static Outcome relay(EdgeStream stream, Direction direction, InspectorChain chain,
      int bufferBytes, Progress progress) {
    byte[] idle = new byte[Math.min(IDLE_BUFFER_BYTES, bufferBytes)];
    byte[] busy = null;
    boolean writable = true;
    boolean finSent = false;
    while (true) {
      byte[] buffer = busy != null ? busy : idle;
      int n;
      try {
        n = stream.read(buffer, 0, buffer.length);
        // Kept only while more bytes wait than the small buffer takes, so that a blocked read
        // never holds it. An edge that cannot tell guesses from a read that filled the buffer.
        int waiting = stream.available();
        busy = waiting > idle.length || waiting < 0 && n == buffer.length
            ? busy != null ? busy : new byte[bufferBytes] : null;
      } catch (IOException e) {
        return Outcome.RESET;
      }
      if (n < 0) {
        if (writable && !finSent) {
          writable = flush(stream, chain, direction);
          stream.finish();
        }
        return writable ? Outcome.FINISHED : Outcome.PEER_STOPPED;
      }
      if (!progress.received(direction, n)) {
        writable = false;
      }
      if (writable) {
        // When the client's FIN came with these bytes, ours goes with them (EdgeStream.writeAndFinish),
        // and the next read returns the end at once.
        finSent = stream.inputComplete();
        writable = forward(stream, chain, direction, buffer, n, finSent);
      }
    }
  }

  /**
   * These bytes through the inspectors to the client; when {@code last}, what the inspectors still
   * hold and the FIN go with them.
   */
  private static boolean forward(EdgeStream stream, InspectorChain chain, Direction direction, byte[] buffer, int n,
      boolean last) {
    try {
      if (chain.isEmpty()) {
        write(stream, buffer, n, last);
      } else {
        // The inspectors get a copy: the buffer is reused for the next read.
        Buffer out = chain.inspect(direction, Buffer.buffer(n).appendBytes(buffer, 0, n));
        if (last) {
          out = Buffer.buffer().appendBuffer(out).appendBuffer(chain.finish(direction));
        }
        byte[] bytes = out.getBytes();
        write(stream, bytes, bytes.length, last);
      }
      return true;
    } catch (IOException peerStoppedReading) {
      return false;
    }
  }

  private static void write(EdgeStream stream, byte[] bytes, int n, boolean last) throws IOException {
    if (last) {
      stream.writeAndFinish(bytes, 0, n);
    } else if (n > 0) {
      stream.write(bytes, 0, n);
    }
  }

  private static boolean flush(EdgeStream stream, InspectorChain chain, Direction direction) {
    if (chain.isEmpty()) {
      return true;
    }
    try {
      byte[] bytes = chain.finish(direction).getBytes();
      write(stream, bytes, bytes.length, false);
      return true;
    } catch (IOException peerStoppedReading) {
      return false;
    }
  }
}
