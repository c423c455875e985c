package io.streamdetour.edge.kwik;

import tech.kwik.core.QuicConnection;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** One accepted QUIC connection, as the edge tracks it, with the streams being served on it. */
record KwikConnection(String id, String remoteAddress, QuicConnection quic, Set<KwikStream> streams) {

  KwikConnection(String id, String remoteAddress, QuicConnection quic) {
    this(id, remoteAddress, quic, ConcurrentHashMap.newKeySet());
  }

  void close(long applicationErrorCode, String reason) {
    quic.close(applicationErrorCode, reason);
  }

  /**
   * Kwik 0.10.9 aborts a closed connection's streams, but a reader that was just about to block
   * can miss that wake-up (fixed upstream later) and wait for ever; aborting each stream again
   * once the connection is gone wakes it.
   */
  void abortStreams(long applicationErrorCode) {
    streams.forEach(s -> s.reset(applicationErrorCode));
  }
}
