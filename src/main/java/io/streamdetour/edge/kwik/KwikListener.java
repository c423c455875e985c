package io.streamdetour.edge.kwik;

import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.EdgeStream;
import io.streamdetour.edge.HandshakeBudget;
import io.streamdetour.edge.UdpBuffers;
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

import java.net.InetSocketAddress;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A Kwik QUIC listener with the server's transport settings ({@code quic.*}), g3proxy's
 * ALPN-less handshake and the guards Kwik 0.10.9 needs; it hands every client-opened
 * bidirectional stream, on a virtual thread of its own, to a stream service. {@link KwikEdge}
 * puts the detour protocol on it; the benchmarks' bare echo uses it alone, so both measure the
 * same transport.
 */
public final class KwikListener {

  private static final Logger LOG = LoggerFactory.getLogger(KwikListener.class);
  private static final Duration CONNECTOR_CLOSE_WAIT = Duration.ofSeconds(2);

  private final ServerConfig.Quic settings;
  private final TlsIdentity identity;
  private final String nodeId;
  private final ThreadFactory streamThreads = Thread.ofVirtual().name("stream-", 0).factory();
  private final Map<QuicConnection, KwikConnection> connections = new ConcurrentHashMap<>();
  private final AtomicLong connectionCounter = new AtomicLong();
  private final AtomicLong sendErrors = new AtomicLong();
  private volatile boolean accepting = true;
  private volatile ServerConnectorImpl connector;
  private volatile AlpnOptionalServerConnector.EngineFactory engineFactory;
  private volatile ResilientDatagramSocket socket;
  private final HandshakeBudget handshakes;
  private Consumer<EdgeStream> service;

  /**
   * @param nodeId prefixes connection ids so they are unique across a cluster
   */
  public KwikListener(ServerConfig.Quic settings, TlsIdentity identity, String nodeId) {
    this.settings = settings;
    this.identity = identity;
    this.nodeId = nodeId;
    this.handshakes = new HandshakeBudget(settings);
  }

  /**
   * Binds and starts accepting. {@code service} runs once per stream, on that stream's own
   * virtual thread: it may block, and the stream is its until it returns.
   */
  public void start(Consumer<EdgeStream> service) throws Exception {
    this.service = service;
    socket = new ResilientDatagramSocket(new InetSocketAddress(settings.host(), settings.port()), sendErrors);
    socket.setReceiveBufferSize(settings.udpBufferBytes());
    socket.setSendBufferSize(settings.udpBufferBytes());
    UdpBuffers.check(socket.getLocalSocketAddress(), settings.udpBufferBytes(), socket.getReceiveBufferSize(),
        socket.getSendBufferSize());
    socket.admitHandshakesWithin(handshakes);
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
    } catch (RuntimeException | CertificateException e) {
      socket.close();
      if (engineFactory != null) {
        engineFactory.dispose();
      }
      throw e;
    }
    ApplicationProtocolConnectionFactory factory = new Protocol();
    connector.registerApplicationProtocol(AlpnOptionalServerConnector.IMPLICIT_PROTOCOL, factory);
    for (String alpn : settings.alpn()) {
      if (!alpn.equals(AlpnOptionalServerConnector.IMPLICIT_PROTOCOL)) {
        connector.registerApplicationProtocol(alpn, factory);
      }
    }
    connector.start();
  }

  /** The bound UDP address, or null before start and after close. */
  public InetSocketAddress localAddress() {
    ResilientDatagramSocket bound = socket;
    return bound == null || bound.isClosed() ? null : (InetSocketAddress) bound.getLocalSocketAddress();
  }

  public boolean accepting() {
    return accepting && socket != null;
  }

  public int connectionCount() {
    return connections.size();
  }

  /** UDP sends that failed since the listener was made, each dropped as a lost datagram. */
  public long sendErrors() {
    return sendErrors.get();
  }

  /** Datagrams that would have started a connection, dropped over {@code quic.max-handshake-rate}. */
  public long handshakesDropped() {
    return handshakes.dropped();
  }

  /** True while a stream has bytes not yet sent or a connection bytes not yet acknowledged. */
  public boolean unacknowledgedBytes() {
    return KwikSendStallGuard.watchedCount() > 0
        || connections.keySet().stream().anyMatch(quic -> KwikInFlight.bytes(quic) > 0);
  }

  /** New handshakes use this certificate from now on; established connections keep theirs. */
  public void replaceIdentity(TlsIdentity next) throws CertificateException {
    engineFactory.replace(next);
  }

  public void stopAccepting() {
    accepting = false;
    ServerConnectorImpl current = connector;
    if (current != null) {
      current.stopAcceptingNewConnections();
    }
  }

  /** Closes every connection with {@code applicationErrorCode}, then the listener. */
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
        service.accept(stream);
      } finally {
        connection.streams().remove(stream);
      }
    }).start();
  }

  /** Kwik's per-connection callbacks; one instance serves every connection. */
  private final class Protocol implements ApplicationProtocolConnectionFactory {

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
      KwikStreamCallbacks.share(quic);
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
