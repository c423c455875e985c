package io.streamdetour.edge.netty;

import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.codec.HeaderException;
import io.streamdetour.codec.StreamHeader;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.DecodedStreamHandler;
import io.streamdetour.edge.DetourEdge;
import io.streamdetour.edge.EdgeStream;
import io.streamdetour.edge.HeaderReader;
import io.streamdetour.tls.TlsIdentity;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * The QUIC edge on Netty's QUIC codec (quiche and BoringSSL), for clients that offer ALPN:
 * BoringSSL refuses a QUIC client that offers none, so g3proxy needs the Kwik edge. A
 * {@link NettyListener} carries the transport; this edge decodes each stream's header and hands
 * it on, on the stream's own virtual thread, exactly as the Kwik edge does.
 */
public final class NettyEdge implements DetourEdge {

  private static final Logger LOG = LoggerFactory.getLogger(NettyEdge.class);

  private final NettyListener listener;
  private final HeaderReader headerReader;
  private DecodedStreamHandler handler;

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
    this.handler = handler;
    listener.start(this::serve);
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

  private void serve(EdgeStream stream) {
    StreamHeader header;
    try {
      header = headerReader.read(stream);
    } catch (HeaderException e) {
      if (e.kind() == HeaderException.Kind.EMPTY) {
        // A south stream finished without a header after bypass/block: nothing to answer.
        LOG.debug("stream {} ended without a header", stream);
        stream.finish();
        return;
      }
      LOG.warn("stream {} from {}: bad header ({}): {}", stream, stream.remoteAddress(), e.kind(), e.getMessage());
      stream.reset(e.kind() == HeaderException.Kind.TIMEOUT ? DetourErrorCodes.HEADER_TIMEOUT : DetourErrorCodes.HEADER_ERROR);
      handler.onHeaderError(e.kind());
      return;
    } catch (IOException e) {
      LOG.debug("stream {} closed while its header was read: {}", stream, e.toString());
      stream.reset(DetourErrorCodes.HEADER_ERROR);
      return;
    }
    try {
      handler.onStream(header, stream);
    } catch (RuntimeException e) {
      LOG.error("stream {}: handler failed", stream, e);
      stream.reset(DetourErrorCodes.INTERNAL_ERROR);
    }
  }
}
