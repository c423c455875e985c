package io.streamdetour.edge;

import io.streamdetour.codec.HeaderException;
import io.streamdetour.codec.StreamHeader;

/** Receives each client-opened stream once its header (and north payload) is decoded. */
@FunctionalInterface
public interface DecodedStreamHandler {

  /**
   * Called on a virtual thread that belongs to this stream alone: it may block, and it may
   * keep relaying on this thread until the stream is done.
   */
  void onStream(StreamHeader header, EdgeStream stream);

  /** A stream's header was refused; the edge has logged it and reset the stream already. */
  default void onHeaderError(HeaderException.Kind kind) {}
}
