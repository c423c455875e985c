package io.streamdetour.edge;

import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.codec.HeaderDecoder;
import io.streamdetour.codec.HeaderException;
import io.streamdetour.codec.HeaderLimits;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.StreamHeader;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Reads one stream's PROXY v2 header, and a north stream's payload, from a blocking
 * {@link EdgeStream}, within the configured size and time limits. Reads exactly the header's
 * bytes, so what follows stays on the stream for the relay.
 */
public final class HeaderReader {

  private static final int PAYLOAD_CHUNK = 4096;

  private final HeaderDecoder decoder;
  private final Duration timeout;
  private final ScheduledExecutorService timer;

  public HeaderReader(HeaderLimits limits, Duration timeout, ScheduledExecutorService timer) {
    this.decoder = new HeaderDecoder(limits);
    this.timeout = timeout;
    this.timer = timer;
  }

  public StreamHeader read(EdgeStream stream) throws HeaderException, IOException {
    AtomicBoolean timedOut = new AtomicBoolean();
    ScheduledFuture<?> deadline = timer.schedule(() -> {
      timedOut.set(true);
      stream.stopReading(DetourErrorCodes.HEADER_TIMEOUT);
    }, timeout.toNanos(), TimeUnit.NANOSECONDS);
    try {
      return readHeader(stream);
    } catch (IOException e) {
      if (timedOut.get()) {
        throw new HeaderException(HeaderException.Kind.TIMEOUT,
            "no complete header within " + timeout.toMillis() + " ms");
      }
      throw e;
    } finally {
      deadline.cancel(false);
    }
  }

  private StreamHeader readHeader(EdgeStream stream) throws HeaderException, IOException {
    byte[] preamble = new byte[HeaderDecoder.PREAMBLE_BYTES];
    int got = readFully(stream, preamble, 0, preamble.length);
    if (got == 0) {
      throw new HeaderException(HeaderException.Kind.EMPTY, "stream ended before any byte");
    }
    if (got < preamble.length) {
      throw new HeaderException(HeaderException.Kind.TRUNCATED,
          "stream ended after " + got + " of " + preamble.length + " preamble bytes");
    }
    int length = decoder.headerLength(preamble, 0);
    byte[] header = new byte[length];
    System.arraycopy(preamble, 0, header, 0, preamble.length);
    got = readFully(stream, header, preamble.length, length - preamble.length);
    if (got < length - preamble.length) {
      throw new HeaderException(HeaderException.Kind.TRUNCATED,
          "stream ended after " + (preamble.length + got) + " of " + length + " header bytes");
    }
    StreamHeader decoded = decoder.decode(header, 0, length);
    if (decoded instanceof NorthHeader north && north.payloadLength() > 0) {
      return north.withPayload(readPayload(stream, north.payloadLength()));
    }
    return decoded;
  }

  /**
   * The decoder already refused lengths above {@code header.max-payload-bytes}; memory still
   * grows only with the bytes that really arrive, not with what a peer announces.
   */
  private static byte[] readPayload(EdgeStream stream, int length) throws HeaderException, IOException {
    ByteArrayOutputStream payload = new ByteArrayOutputStream(Math.min(length, PAYLOAD_CHUNK));
    byte[] chunk = new byte[Math.min(length, PAYLOAD_CHUNK)];
    while (payload.size() < length) {
      int n = stream.read(chunk, 0, Math.min(chunk.length, length - payload.size()));
      if (n < 0) {
        throw new HeaderException(HeaderException.Kind.PAYLOAD_TRUNCATED,
            "stream ended after " + payload.size() + " of " + length + " payload bytes");
      }
      payload.write(chunk, 0, n);
    }
    return payload.toByteArray();
  }

  /** Returns how many bytes were read before the length was reached or the stream ended. */
  private static int readFully(EdgeStream stream, byte[] buffer, int offset, int length) throws IOException {
    int total = 0;
    while (total < length) {
      int n = stream.read(buffer, offset + total, length - total);
      if (n < 0) {
        break;
      }
      total += n;
    }
    return total;
  }
}
