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

  /**
   * True once every byte the client sent has been read and its FIN has arrived: the next read
   * returns -1 at once. A relay then sends its last bytes with {@link #writeAndFinish}. False
   * when this edge cannot tell.
   */
  default boolean inputComplete() {
    return false;
  }

  /** Blocks while flow control or the send buffer is full. */
  void write(byte[] buffer, int offset, int length) throws IOException;

  /** Sends FIN after every byte written so far. */
  void finish();

  /**
   * Writes the last bytes and the FIN, in one STREAM frame where the edge can. The Netty edge's
   * quiche forgets a FIN sent alone in its own frame once the bytes before it are acknowledged,
   * so a lost one is never sent again and the client waits forever; a FIN that travels with
   * data is sent again with that data.
   */
  default void writeAndFinish(byte[] buffer, int offset, int length) throws IOException {
    write(buffer, offset, length);
    finish();
  }

  /** Stops receiving (STOP_SENDING) and cuts sending (RESET_STREAM); unblocks a blocked read. */
  void reset(long applicationErrorCode);

  /** Stops receiving only (STOP_SENDING); unblocks a blocked read. */
  void stopReading(long applicationErrorCode);
}
