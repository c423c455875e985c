package io.streamdetour.edge;

import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.codec.HeaderDecoder;
import io.streamdetour.codec.HeaderException;
import io.streamdetour.codec.HeaderLimits;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.StreamHeader;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Reads one stream's PROXY v2 header, and a north stream's payload, from a blocking
 * {@link EdgeStream}, within the configured size and time limits. Reads exactly the header's
 * bytes, so what follows stays on the stream for the relay.
 */
public final class HeaderReader {

  private static final Logger LOG = LoggerFactory.getLogger(HeaderReader.class);

  private static final int PAYLOAD_CHUNK = 4096;

  private final HeaderDecoder decoder;
  private final Duration timeout;
  private final Duration firstByteTimeout;
  private final ScheduledExecutorService timer;

  /**
   * What an edge does with each stream a client opens, on the stream's own thread: reads its
   * header and hands it to {@code handler}; a bad header resets the stream with the error code
   * its kind calls for, and is counted.
   */
  public void serve(EdgeStream stream, DecodedStreamHandler handler) {
    StreamHeader header;
    try {
      header = read(stream);
    } catch (HeaderException e) {
      if (e.kind() == HeaderException.Kind.EMPTY) {
        // A south stream finished without a header after bypass/block: nothing to answer.
        LOG.debug("stream {} ended without a header", stream);
        stream.finish();
        return;
      }
      LOG.warn("stream {} from {}: bad header ({}): {}", stream, stream.remoteAddress(), e.kind(), e.getMessage());
      stream.reset(e.kind() == HeaderException.Kind.TIMEOUT ? DetourErrorCodes.HEADER_TIMEOUT : DetourErrorCodes.HEADER_ERROR);
      handler.onHeaderError(e.kind());
      return;
    } catch (IOException e) {
      LOG.debug("stream {} closed while its header was read: {}", stream, e.toString());
      stream.reset(DetourErrorCodes.HEADER_ERROR);
      return;
    }
    try {
      handler.onStream(header, stream);
    } catch (RuntimeException e) {
      LOG.error("stream {}: handler failed", stream, e);
      stream.reset(DetourErrorCodes.INTERNAL_ERROR);
    }
  }

  /**
   * @param timeout time for the whole header and payload, from the stream's first byte
   * @param firstByteTimeout time a stream may stay without any byte. QUIC opens every
   *     lower-numbered stream when a higher one carries data, so a south stream whose north is
   *     still waiting for its decision exists before g3proxy writes to it: this must cover the
   *     decision and the reply's round trip, not just one header's transfer.
   */
  public HeaderReader(HeaderLimits limits, Duration timeout, Duration firstByteTimeout,
      ScheduledExecutorService timer) {
    this.decoder = new HeaderDecoder(limits);
    this.timeout = timeout;
    this.firstByteTimeout = firstByteTimeout;
    this.timer = timer;
  }

  public StreamHeader read(EdgeStream stream) throws HeaderException, IOException {
    Deadline deadline = new Deadline(stream);
    deadline.arm(firstByteTimeout);
    try {
      return readHeader(stream, deadline);
    } catch (IOException e) {
      if (deadline.expired != null) {
        throw new HeaderException(HeaderException.Kind.TIMEOUT, deadline.expired);
      }
      throw e;
    } finally {
      deadline.cancel();
    }
  }

  /** Stops reading the stream when it fires, which fails the blocked read. */
  private final class Deadline {
    private final EdgeStream stream;
    private ScheduledFuture<?> future;
    volatile String expired;

    Deadline(EdgeStream stream) {
      this.stream = stream;
    }

    void arm(Duration after) {
      cancel();
      future = timer.schedule(() -> {
        expired = after == timeout
            ? "no complete header within " + timeout.toMillis() + " ms of its first byte"
            : "no byte within " + after.toMillis() + " ms of the stream's opening";
        stream.stopReading(DetourErrorCodes.HEADER_TIMEOUT);
      }, after.toNanos(), TimeUnit.NANOSECONDS);
    }

    void cancel() {
      if (future != null) {
        future.cancel(false);
      }
    }
  }

  private StreamHeader readHeader(EdgeStream stream, Deadline deadline) throws HeaderException, IOException {
    byte[] preamble = new byte[HeaderDecoder.PREAMBLE_BYTES];
    int first = stream.read(preamble, 0, preamble.length);
    if (first < 0) {
      throw new HeaderException(HeaderException.Kind.EMPTY, "stream ended before any byte");
    }
    deadline.arm(timeout);
    int got = first + readFully(stream, preamble, first, preamble.length - first);
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
