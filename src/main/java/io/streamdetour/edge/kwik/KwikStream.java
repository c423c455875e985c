package io.streamdetour.edge.kwik;

import io.streamdetour.edge.EdgeStream;
import tech.kwik.core.QuicStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** A Kwik stream as an {@link EdgeStream}. */
final class KwikStream implements EdgeStream {

  private final QuicStream stream;
  private final KwikConnection connection;
  private final InputStream in;
  private final OutputStream out;
  /**
   * Kwik frees a stream's slot (and grants the peer a new one) each time a side closes, with no
   * guard against a second time: aborting a side that already ended would hand out extra streams.
   */
  private volatile boolean inputEnded;
  private volatile boolean outputEnded;

  KwikStream(QuicStream stream, KwikConnection connection) {
    this.stream = stream;
    this.connection = connection;
    this.in = stream.getInputStream();
    this.out = stream.getOutputStream();
  }

  @Override
  public String connectionId() {
    return connection.id();
  }

  @Override
  public long streamId() {
    return stream.getStreamId();
  }

  @Override
  public String remoteAddress() {
    return connection.remoteAddress();
  }

  @Override
  public int read(byte[] buffer, int offset, int length) throws IOException {
    try {
      int n = in.read(buffer, offset, length);
      if (n < 0) {
        inputEnded = true;
      }
      return n;
    } catch (IOException resetOrAborted) {
      inputEnded = true; // Kwik closed this side itself
      throw resetOrAborted;
    }
  }

  @Override
  public int available() {
    try {
      return in.available();
    } catch (IOException closed) {
      return 0; // the next read says how the stream ended
    }
  }

  @Override
  public void write(byte[] buffer, int offset, int length) throws IOException {
    // Before, for a write that blocks on a full buffer; after, for one that does not.
    KwikSendStallGuard.watch(out);
    try {
      out.write(buffer, offset, length);
    } catch (IOException stoppedOrAborted) {
      outputEnded = true; // Kwik reset this side itself (STOP_SENDING, connection gone)
      throw stoppedOrAborted;
    }
    KwikSendStallGuard.watch(out);
  }

  @Override
  public void finish() {
    outputEnded = true;
    try {
      out.close();
      KwikSendStallGuard.watch(out);
    } catch (IOException alreadyClosedOrReset) {
      // nothing more can be sent on this stream either way
    }
  }

  @Override
  public void reset(long applicationErrorCode) {
    stopReading(applicationErrorCode);
    if (!outputEnded) {
      outputEnded = true;
      stream.resetStream(applicationErrorCode);
    }
  }

  @Override
  public void stopReading(long applicationErrorCode) {
    if (!inputEnded) {
      inputEnded = true;
      stream.abortReading(applicationErrorCode);
    }
  }

  @Override
  public String toString() {
    return connection.id() + "/" + stream.getStreamId();
  }
}
