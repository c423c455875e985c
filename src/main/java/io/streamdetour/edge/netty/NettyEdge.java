package io.streamdetour.edge.netty;

import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.DecodedStreamHandler;
import io.streamdetour.edge.DetourEdge;
import io.streamdetour.edge.EdgeStream;
import io.streamdetour.edge.HeaderReader;
import io.streamdetour.tls.TlsIdentity;

import java.net.InetSocketAddress;

/**
 * The QUIC edge on Netty's QUIC codec (quiche and BoringSSL), for clients that offer ALPN:
 * BoringSSL refuses a QUIC client that offers none, so g3proxy needs the Kwik edge. A
 * {@link NettyListener} carries the transport; this edge decodes each stream's header and hands
 * it on, on the stream's own virtual thread, exactly as the Kwik edge does.
 */
public final class NettyEdge implements DetourEdge {

  private final NettyListener listener;
  private final HeaderReader headerReader;

  /**
   * @param connectionIdPrefix prefixes connection ids so they are unique across a cluster and
   *     across the node's listeners
   */
  public NettyEdge(ServerConfig.Quic settings, TlsIdentity identity, HeaderReader headerReader,
      String connectionIdPrefix) {
    this.listener = new NettyListener(settings, identity, connectionIdPrefix);
    this.headerReader = headerReader;
  }

  @Override
  public void start(DecodedStreamHandler handler) throws Exception {
    listener.start(stream -> headerReader.serve(stream, handler));
  }

  @Override
  public InetSocketAddress localAddress() {
    return listener.localAddress();
  }

  @Override
  public boolean accepting() {
    return listener.accepting();
  }

  @Override
  public int connectionCount() {
    return listener.connectionCount();
  }

  @Override
  public long handshakesDropped() {
    return listener.handshakesDropped();
  }

  @Override
  public void replaceIdentity(TlsIdentity next) throws Exception {
    listener.replaceIdentity(next);
  }

  @Override
  public void stopAccepting() {
    listener.stopAccepting();
  }

  @Override
  public void close(long applicationErrorCode, String reason) {
    listener.close(applicationErrorCode, reason);
  }
}
