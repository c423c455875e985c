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
 */
public final class StreamRelay {

  private static final Logger LOG = LoggerFactory.getLogger(StreamRelay.class);

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

  /**
   * The buffer a direction starts with. Most sessions carry a few KiB or nothing (a bypassed
   * protocol's south, a closed connection): they never need {@code relay.buffer-bytes}, whose
   * allocation and zeroing per session showed in the setup profile.
   */
  static final int INITIAL_BUFFER_BYTES = 2048;

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
    byte[] buffer = new byte[Math.min(INITIAL_BUFFER_BYTES, bufferBytes)];
    boolean writable = true;
    while (true) {
      int n;
      try {
        n = stream.read(buffer, 0, buffer.length);
      } catch (IOException e) {
        return Outcome.RESET;
      }
      if (n < 0) {
        if (writable) {
          writable = flush(stream, chain, direction);
          stream.finish();
        }
        return writable ? Outcome.FINISHED : Outcome.PEER_STOPPED;
      }
      if (!progress.received(direction, n)) {
        writable = false;
      }
      if (writable) {
        writable = forward(stream, chain, direction, buffer, n);
      }
      if (n == buffer.length && buffer.length < bufferBytes) {
        // A full read: the session carries data, take the configured size once.
        buffer = new byte[bufferBytes];
      }
    }
  }

  private static boolean forward(EdgeStream stream, InspectorChain chain, Direction direction, byte[] buffer, int n) {
    try {
      if (chain.isEmpty()) {
        stream.write(buffer, 0, n);
      } else {
        // The inspectors get a copy: the buffer is reused for the next read.
        write(stream, chain.inspect(direction, Buffer.buffer(n).appendBytes(buffer, 0, n)));
      }
      return true;
    } catch (IOException peerStoppedReading) {
      return false;
    }
  }

  private static boolean flush(EdgeStream stream, InspectorChain chain, Direction direction) {
    if (chain.isEmpty()) {
      return true;
    }
    try {
      write(stream, chain.finish(direction));
      return true;
    } catch (IOException peerStoppedReading) {
      return false;
    }
  }

  private static void write(EdgeStream stream, Buffer data) throws IOException {
    if (data.length() > 0) {
      byte[] bytes = data.getBytes();
      stream.write(bytes, 0, bytes.length);
    }
  }
}
