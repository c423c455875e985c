package io.streamdetour.edge.kwik;

import tech.kwik.core.QuicConnection;

/** One accepted QUIC connection, as the edge tracks it. */
record KwikConnection(String id, String remoteAddress, QuicConnection quic) {

  void close(long applicationErrorCode, String reason) {
    quic.close(applicationErrorCode, reason);
  }
}
