package io.streamdetour.edge.kwik;

import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.codec.HeaderException;
import io.streamdetour.codec.StreamHeader;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.DecodedStreamHandler;
import io.streamdetour.edge.DetourEdge;
import io.streamdetour.edge.HeaderReader;
import io.streamdetour.tls.TlsIdentity;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tech.kwik.core.ConnectionListener;
import tech.kwik.core.ConnectionTerminatedEvent;
import tech.kwik.core.QuicConnection;
import tech.kwik.core.QuicStream;
import tech.kwik.core.server.ApplicationProtocolConnection;
import tech.kwik.core.server.ApplicationProtocolConnectionFactory;
import tech.kwik.core.server.ServerConnection;
import tech.kwik.core.server.ServerConnectionConfig;
import tech.kwik.core.server.impl.ServerConnectorImpl;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The default QUIC edge, on Kwik: the only Java QUIC stack that can be made to accept g3proxy's
 * ALPN-less handshake (see {@link AlpnOptionalServerConnector}). Kwik's stream API blocks, so
 * every stream gets a virtual thread of its own.
 */
public final class KwikEdge implements DetourEdge {

  private static final Logger LOG = LoggerFactory.getLogger(KwikEdge.class);
  private static final Duration CONNECTOR_CLOSE_WAIT = Duration.ofSeconds(2);

  private final ServerConfig.Quic settings;
  private final TlsIdentity identity;
  private final HeaderReader headerReader;
  private final String nodeId;
  private final ThreadFactory streamThreads = Thread.ofVirtual().name("stream-", 0).factory();
  private final Map<QuicConnection, KwikConnection> connections = new ConcurrentHashMap<>();
  private final AtomicLong connectionCounter = new AtomicLong();
  private volatile boolean accepting = true;
  private volatile ServerConnectorImpl connector;
  private volatile AlpnOptionalServerConnector.EngineFactory engineFactory;
  private volatile ResilientDatagramSocket socket;
  private DecodedStreamHandler handler;

  /**
   * @param nodeId prefixes connection ids so they are unique across a cluster
   */
  public KwikEdge(ServerConfig.Quic settings, TlsIdentity identity, HeaderReader headerReader, String nodeId) {
    this.settings = settings;
    this.identity = identity;
    this.headerReader = headerReader;
    this.nodeId = nodeId;
  }

  @Override
  public void start(DecodedStreamHandler handler) throws Exception {
    this.handler = handler;
    socket = new ResilientDatagramSocket(new InetSocketAddress(settings.host(), settings.port()));
    ServerConnectionConfig config = ServerConnectionConfig.builder()
        .maxIdleTimeout((int) settings.idleTimeout().toMillis())
        .maxOpenPeerInitiatedBidirectionalStreams(settings.maxStreamsPerConnection())
        .maxOpenPeerInitiatedUnidirectionalStreams(0)
        .maxBidirectionalStreamBufferSize(settings.streamWindow())
        .maxUnidirectionalStreamBufferSize(0)
        .maxConnectionBufferSize(settings.connectionWindow())
        // g3proxy's quinn client needs no Retry round trip; the connection limit guards instead.
        .retryRequired(false)
        .connectionIdLength(8)
        .build();
    try {
      engineFactory = new AlpnOptionalServerConnector.EngineFactory(identity);
      connector = AlpnOptionalServerConnector.create(socket, engineFactory, config, new KwikLogger());
    } catch (RuntimeException | java.security.cert.CertificateException e) {
      socket.close();
      if (engineFactory != null) {
        engineFactory.dispose();
      }
      throw e;
    }
    ApplicationProtocolConnectionFactory factory = new DetourProtocol();
    connector.registerApplicationProtocol(AlpnOptionalServerConnector.IMPLICIT_PROTOCOL, factory);
    for (String alpn : settings.alpn()) {
      if (!alpn.equals(AlpnOptionalServerConnector.IMPLICIT_PROTOCOL)) {
        connector.registerApplicationProtocol(alpn, factory);
      }
    }
    connector.start();
  }

  @Override
  public InetSocketAddress localAddress() {
    ResilientDatagramSocket bound = socket;
    return bound == null || bound.isClosed() ? null : (InetSocketAddress) bound.getLocalSocketAddress();
  }

  @Override
  public boolean accepting() {
    return accepting && socket != null;
  }

  @Override
  public int connectionCount() {
    return connections.size();
  }

  @Override
  public void replaceIdentity(TlsIdentity next) throws Exception {
    engineFactory.replace(next);
  }

  @Override
  public void stopAccepting() {
    accepting = false;
    ServerConnectorImpl current = connector;
    if (current != null) {
      current.stopAcceptingNewConnections();
    }
  }

  @Override
  public void close(long applicationErrorCode, String reason) {
    stopAccepting();
    connections.values().forEach(c -> c.close(applicationErrorCode, reason));
    ServerConnectorImpl current = connector;
    if (current != null) {
      AlpnOptionalServerConnector.close(current, CONNECTOR_CLOSE_WAIT);
    }
  }

  private void onStream(QuicStream quicStream, KwikConnection connection) {
    KwikStream stream = new KwikStream(quicStream, connection);
    if (!quicStream.isClientInitiatedBidirectional()) {
      // The transport parameters allow none; a peer that opens one anyway gets it cut.
      stream.reset(DetourErrorCodes.LIMIT_EXCEEDED);
      return;
    }
    connection.streams().add(stream);
    streamThreads.newThread(() -> {
      try {
        serve(stream);
      } finally {
        connection.streams().remove(stream);
      }
    }).start();
  }

  private void serve(KwikStream stream) {
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

  /** Kwik's per-connection callbacks; one instance serves every connection. */
  private final class DetourProtocol implements ApplicationProtocolConnectionFactory {

    @Override
    public ApplicationProtocolConnection createConnection(String protocol, QuicConnection quic) {
      String remote = quic instanceof ServerConnection server
          ? String.valueOf(server.getInitialRemoteAddress()) : "?";
      KwikConnection connection = new KwikConnection(
          nodeId + "-" + connectionCounter.incrementAndGet(), remote, quic);
      if (!accepting) {
        quic.close(DetourErrorCodes.SERVER_SHUTDOWN, "server shutting down");
        return new ApplicationProtocolConnection() {};
      }
      if (connections.size() >= settings.maxConnections()) {
        LOG.warn("connection {} from {} refused: {} connections open (quic.max-connections)",
            connection.id(), remote, connections.size());
        quic.close(DetourErrorCodes.LIMIT_EXCEEDED, "too many connections");
        return new ApplicationProtocolConnection() {};
      }
      connections.put(quic, connection);
      quic.setConnectionListener(new ConnectionListener() {
        @Override
        public void disconnected(ConnectionTerminatedEvent event) {
          connections.remove(quic);
          connection.abortStreams(DetourErrorCodes.SESSION_ABORTED);
          LOG.debug("connection {} from {} ended: {}", connection.id(), remote, event.closeReason());
        }
      });
      LOG.debug("connection {} from {} ({})", connection.id(), remote,
          protocol.equals(AlpnOptionalServerConnector.IMPLICIT_PROTOCOL) ? "no ALPN" : "ALPN " + protocol);
      return new ApplicationProtocolConnection() {
        @Override
        public void acceptPeerInitiatedStream(QuicStream stream) {
          onStream(stream, connection);
        }
      };
    }

    @Override
    public int maxConcurrentPeerInitiatedUnidirectionalStreams() {
      return 0;
    }

    @Override
    public int maxConcurrentPeerInitiatedBidirectionalStreams() {
      return settings.maxStreamsPerConnection();
    }

    @Override
    public long maxBidirectionalStreamReceiverBufferSize() {
      return settings.streamWindow();
    }
  }
}
