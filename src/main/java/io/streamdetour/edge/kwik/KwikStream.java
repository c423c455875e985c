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
    return in.read(buffer, offset, length);
  }

  @Override
  public void write(byte[] buffer, int offset, int length) throws IOException {
    // Before, for a write that blocks on a full buffer; after, for one that does not.
    KwikSendStallGuard.watch(out);
    out.write(buffer, offset, length);
    KwikSendStallGuard.watch(out);
  }

  @Override
  public void finish() {
    try {
      out.close();
      KwikSendStallGuard.watch(out);
    } catch (IOException alreadyClosedOrReset) {
      // nothing more can be sent on this stream either way
    }
  }

  @Override
  public void reset(long applicationErrorCode) {
    stream.abortReading(applicationErrorCode);
    stream.resetStream(applicationErrorCode);
  }

  @Override
  public void stopReading(long applicationErrorCode) {
    stream.abortReading(applicationErrorCode);
  }

  @Override
  public String toString() {
    return connection.id() + "/" + stream.getStreamId();
  }
}
