package io.streamdetour.edge.netty;

import io.netty.handler.codec.quic.QuicChannel;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** One accepted QUIC connection, as the edge tracks it, with the streams being served on it. */
record NettyConnection(String id, String remoteAddress, QuicChannel channel, Set<NettyStream> streams) {

  NettyConnection(String id, String remoteAddress, QuicChannel channel) {
    this(id, remoteAddress, channel, ConcurrentHashMap.newKeySet());
  }
}
