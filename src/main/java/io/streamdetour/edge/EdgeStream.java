package io.streamdetour.edge;

import java.io.IOException;

/**
 * One client-opened bidirectional QUIC stream, with blocking I/O: use it from virtual threads
 * only. Reading returns what the client sent; writing sends back to the client.
 */
public interface EdgeStream {

  /** Cluster-unique id of the QUIC connection that carries this stream. */
  String connectionId();

  long streamId();

  /** The client's UDP address, for logs. */
  String remoteAddress();

  /** Blocks until bytes arrive; -1 once the client finished its side (FIN). */
  int read(byte[] buffer, int offset, int length) throws IOException;

  /**
   * Bytes the next read returns without blocking, or -1 when this edge cannot tell. The relay
   * takes its large buffer only while bytes wait, so idle sessions hold little memory; with
   * -1 it guesses from reads that fill their buffer.
   */
  default int available() {
    return -1;
  }

  /** Blocks while flow control or the send buffer is full. */
  void write(byte[] buffer, int offset, int length) throws IOException;

  /** Sends FIN after every byte written so far. */
  void finish();

  /** Stops receiving (STOP_SENDING) and cuts sending (RESET_STREAM); unblocks a blocked read. */
  void reset(long applicationErrorCode);

  /** Stops receiving only (STOP_SENDING); unblocks a blocked read. */
  void stopReading(long applicationErrorCode);
}
