package io.streamdetour.edge.kwik;

import io.streamdetour.tls.TlsIdentity;
import tech.kwik.agent15.TlsProtocolException;
import tech.kwik.agent15.engine.ServerMessageSender;
import tech.kwik.agent15.engine.TlsServerEngine;
import tech.kwik.agent15.engine.TlsServerEngineFactory;
import tech.kwik.agent15.engine.TlsStatusEventHandler;
import tech.kwik.agent15.extension.ApplicationLayerProtocolNegotiationExtension;
import tech.kwik.agent15.extension.Extension;
import tech.kwik.agent15.NewSessionTicket;
import tech.kwik.core.KwikVersion;
import tech.kwik.core.QuicConnection;
import tech.kwik.core.log.Logger;
import tech.kwik.core.server.ServerConnectionConfig;
import tech.kwik.core.server.impl.ServerConnectorImpl;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.DatagramSocket;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one place where stream-detour reaches into Kwik: a server connector that accepts TLS
 * ClientHellos without ALPN, as g3proxy's detour client sends them.
 *
 * <p>Kwik refuses a ClientHello without ALPN in {@code ServerConnectionImpl.extensionsReceived}
 * and, once it selects a protocol, puts ALPN into its EncryptedExtensions, which a rustls
 * client that offered none rejects. agent15's public {@link TlsServerEngineFactory} lets us
 * wrap the handler Kwik gives each engine: with no ALPN offered, Kwik sees a synthetic offer of
 * {@link #IMPLICIT_PROTOCOL}, and the ALPN extension it then adds for the reply is removed
 * before EncryptedExtensions is built (RFC 7301: send none the client did not offer). A client
 * that offers ALPN passes untouched.
 *
 * <p>No builder option takes an engine factory, so the connector is built through
 * {@code ServerConnectorImpl}'s private constructor {@code (DatagramSocket,
 * TlsServerEngineFactory, List, ServerConnectionConfig, Logger)}, as its own
 * {@code Builder.build()} does. That constructor and {@code close(Duration)} are what this
 * class depends on; both are checked at start-up with a clear error, and the Kwik version is
 * pinned in the pom.
 */
final class AlpnOptionalServerConnector {

  /** The protocol Kwik is told a client without ALPN asked for. */
  static final String IMPLICIT_PROTOCOL = "stream-detour";
  static final String KWIK_VERSION = "0.10.9";

  private static final Constructor<ServerConnectorImpl> CONSTRUCTOR;
  private static final Method CLOSE_WITH_TIMEOUT;
  private static final String SHAPE_ERROR;

  static {
    Constructor<ServerConnectorImpl> constructor = null;
    Method close = null;
    String error = null;
    try {
      constructor = ServerConnectorImpl.class.getDeclaredConstructor(DatagramSocket.class,
          TlsServerEngineFactory.class, List.class, ServerConnectionConfig.class, Logger.class);
      constructor.setAccessible(true);
      close = ServerConnectorImpl.class.getDeclaredMethod("close", Duration.class);
      close.setAccessible(true);
    } catch (ReflectiveOperationException | RuntimeException e) {
      error = "Kwik " + KwikVersion.getVersion() + " does not have the shape this server was built for"
          + " (Kwik " + KWIK_VERSION + ": ServerConnectorImpl(DatagramSocket, TlsServerEngineFactory,"
          + " List, ServerConnectionConfig, Logger) and close(Duration)): " + e;
    }
    CONSTRUCTOR = constructor;
    CLOSE_WITH_TIMEOUT = close;
    SHAPE_ERROR = error;
  }

  private AlpnOptionalServerConnector() {}

  static ServerConnectorImpl create(DatagramSocket socket, EngineFactory factory,
      ServerConnectionConfig config, Logger log) {
    if (SHAPE_ERROR != null) {
      throw new IllegalStateException(SHAPE_ERROR);
    }
    try {
      return CONSTRUCTOR.newInstance(socket, factory, List.of(QuicConnection.QuicVersion.V1), config, log);
    } catch (InvocationTargetException e) {
      throw new IllegalStateException("Kwik could not create its server connector: " + e.getCause(), e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot call Kwik's ServerConnectorImpl constructor: " + e, e);
    }
  }

  /** Kwik's public close() waits 30 s for connections; this bounds the wait. */
  static void close(ServerConnectorImpl connector, Duration timeout) {
    try {
      CLOSE_WITH_TIMEOUT.invoke(connector, timeout);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot close Kwik's server connector: " + e, e);
    }
  }

  /**
   * Wraps each engine's status handler (see the class comment), and makes engines from the
   * current certificate: {@link #replace} rotates it for new handshakes without touching
   * established connections.
   */
  static final class EngineFactory extends TlsServerEngineFactory {

    private final AtomicReference<TlsServerEngineFactory> current;

    EngineFactory(TlsIdentity identity) throws CertificateException {
      super(identity.keyStore(), identity.alias(), identity.password(), identity.ecCurve());
      current = new AtomicReference<>(this);
    }

    void replace(TlsIdentity identity) throws CertificateException {
      TlsServerEngineFactory next = new TlsServerEngineFactory(
          identity.keyStore(), identity.alias(), identity.password(), identity.ecCurve());
      TlsServerEngineFactory previous = current.getAndSet(next);
      if (previous != this) {
        previous.dispose();
      }
    }

    @Override
    public TlsServerEngine createServerEngine(ServerMessageSender sender, TlsStatusEventHandler handler) {
      AlpnOptionalHandler wrapper = new AlpnOptionalHandler(handler);
      TlsServerEngineFactory factory = current.get();
      TlsServerEngine engine = factory == this
          ? super.createServerEngine(sender, wrapper)
          : factory.createServerEngine(sender, wrapper);
      wrapper.engine = engine;
      return engine;
    }

    @Override
    public void dispose() {
      TlsServerEngineFactory replaced = current.get();
      if (replaced != this) {
        replaced.dispose();
      }
      super.dispose();
    }
  }

  static final class AlpnOptionalHandler implements TlsStatusEventHandler {

    private final TlsStatusEventHandler delegate;
    volatile TlsServerEngine engine;

    AlpnOptionalHandler(TlsStatusEventHandler delegate) {
      this.delegate = delegate;
    }

    @Override
    public void extensionsReceived(List<Extension> extensions) throws TlsProtocolException {
      boolean offered = extensions.stream().anyMatch(e -> e instanceof ApplicationLayerProtocolNegotiationExtension);
      if (offered) {
        delegate.extensionsReceived(extensions);
        return;
      }
      List<Extension> withImplicit = new ArrayList<>(extensions);
      withImplicit.add(new ApplicationLayerProtocolNegotiationExtension(IMPLICIT_PROTOCOL));
      delegate.extensionsReceived(withImplicit);
      // agent15 returns its live list and builds EncryptedExtensions only after this returns.
      engine.getServerExtensions().removeIf(e -> e instanceof ApplicationLayerProtocolNegotiationExtension);
    }

    @Override
    public void earlySecretsKnown() {
      delegate.earlySecretsKnown();
    }

    @Override
    public void handshakeSecretsKnown() {
      delegate.handshakeSecretsKnown();
    }

    @Override
    public void handshakeFinished() {
      delegate.handshakeFinished();
    }

    @Override
    public void newSessionTicketReceived(NewSessionTicket ticket) {
      delegate.newSessionTicketReceived(ticket);
    }

    @Override
    public boolean isEarlyDataAccepted() {
      return delegate.isEarlyDataAccepted();
    }
  }
}
