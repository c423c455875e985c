package io.streamdetour.edge.kwik;

import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.DecodedStreamHandler;
import io.streamdetour.edge.DetourEdge;
import io.streamdetour.edge.EdgeStream;
import io.streamdetour.edge.HeaderReader;
import io.streamdetour.tls.TlsIdentity;

import java.net.InetSocketAddress;

/**
 * The default QUIC edge, on Kwik: the only Java QUIC stack that can be made to accept g3proxy's
 * ALPN-less handshake (see {@link AlpnOptionalServerConnector}). A {@link KwikListener} carries
 * the transport; this edge decodes each stream's header and hands it on. Kwik's stream API
 * blocks, so every stream gets a virtual thread of its own.
 */
public final class KwikEdge implements DetourEdge {

  private final KwikListener listener;
  private final HeaderReader headerReader;

  /**
   * @param nodeId prefixes connection ids so they are unique across a cluster
   */
  public KwikEdge(ServerConfig.Quic settings, TlsIdentity identity, HeaderReader headerReader, String nodeId) {
    this.listener = new KwikListener(settings, identity, nodeId);
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
  public long udpSendErrors() {
    return listener.sendErrors();
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
  public boolean unacknowledgedBytes() {
    return listener.unacknowledgedBytes();
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
