package io.streamdetour.edge.kwik;

import io.streamdetour.tls.TlsIdentity;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tech.kwik.agent15.NewSessionTicket;
import tech.kwik.agent15.TlsProtocolException;
import tech.kwik.agent15.engine.ServerMessageSender;
import tech.kwik.agent15.engine.TlsServerEngine;
import tech.kwik.agent15.engine.TlsStatusEventHandler;
import tech.kwik.agent15.extension.ApplicationLayerProtocolNegotiationExtension;
import tech.kwik.agent15.extension.Extension;
import tech.kwik.agent15.handshake.CertificateMessage;
import tech.kwik.agent15.handshake.CertificateVerifyMessage;
import tech.kwik.agent15.handshake.EncryptedExtensions;
import tech.kwik.agent15.handshake.FinishedMessage;
import tech.kwik.agent15.handshake.NewSessionTicketMessage;
import tech.kwik.agent15.handshake.ServerHello;
import tech.kwik.core.server.ServerConnectionConfig;
import tech.kwik.core.server.impl.ServerConnectorImpl;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The adaptation to Kwik's internals, on the real agent15 engine and Kwik connector: a
 * ClientHello without ALPN is presented to Kwik with the implicit protocol and the reply carries
 * no ALPN; one with ALPN passes untouched. Interop with a client that really offers none is in
 * the quinn interop tests.
 */
class AlpnOptionalServerConnectorTest {

  /** Does what Kwik's ServerConnectionImpl does: records the offer and answers with ALPN. */
  private static final class KwikLikeHandler implements TlsStatusEventHandler {
    TlsServerEngine engine;
    List<String> offered;

    @Override
    public void extensionsReceived(List<Extension> extensions) throws TlsProtocolException {
      offered = extensions.stream()
          .filter(e -> e instanceof ApplicationLayerProtocolNegotiationExtension)
          .map(e -> ((ApplicationLayerProtocolNegotiationExtension) e).getProtocols())
          .findFirst().orElse(List.of());
      engine.addServerExtensions(new ApplicationLayerProtocolNegotiationExtension(offered.get(0)));
    }

    @Override public void earlySecretsKnown() {}
    @Override public void handshakeSecretsKnown() {}
    @Override public void handshakeFinished() {}
    @Override public void newSessionTicketReceived(NewSessionTicket ticket) {}
    @Override public boolean isEarlyDataAccepted() { return false; }
  }

  private static final ServerMessageSender NO_SEND = new ServerMessageSender() {
    @Override public void send(ServerHello message) {}
    @Override public void send(EncryptedExtensions message) {}
    @Override public void send(CertificateMessage message) {}
    @Override public void send(CertificateVerifyMessage message) {}
    @Override public void send(FinishedMessage message) {}
    @Override public void send(NewSessionTicketMessage message) {}
  };

  private static List<Extension> serverAlpn(TlsServerEngine engine) {
    return new ArrayList<>(engine.getServerExtensions().stream()
        .filter(e -> e instanceof ApplicationLayerProtocolNegotiationExtension).toList());
  }

  @Test
  void withoutAlpnKwikSeesTheImplicitProtocolAndTheReplyCarriesNone(@TempDir Path dir) throws Exception {
    var factory = new AlpnOptionalServerConnector.EngineFactory(
        TlsIdentity.selfSigned(List.of("localhost"), dir));
    try {
      KwikLikeHandler kwik = new KwikLikeHandler();
      TlsServerEngine engine = factory.createServerEngine(NO_SEND, kwik);
      kwik.engine = engine;
      // The engine hands its status events to our wrapper, which hands them on to Kwik.
      var wrapper = extractWrapper(engine);
      wrapper.extensionsReceived(List.of());
      assertThat(kwik.offered).containsExactly(AlpnOptionalServerConnector.IMPLICIT_PROTOCOL);
      assertThat(serverAlpn(engine)).isEmpty();
    } finally {
      factory.dispose();
    }
  }

  @Test
  void withAlpnNothingChanges(@TempDir Path dir) throws Exception {
    var factory = new AlpnOptionalServerConnector.EngineFactory(
        TlsIdentity.selfSigned(List.of("localhost"), dir));
    try {
      KwikLikeHandler kwik = new KwikLikeHandler();
      TlsServerEngine engine = factory.createServerEngine(NO_SEND, kwik);
      kwik.engine = engine;
      extractWrapper(engine).extensionsReceived(List.of(new ApplicationLayerProtocolNegotiationExtension("g3-detour")));
      assertThat(kwik.offered).containsExactly("g3-detour");
      assertThat(serverAlpn(engine)).hasSize(1);
    } finally {
      factory.dispose();
    }
  }

  @Test
  void theConnectorIsBuiltThroughKwiksConstructorAndCloses(@TempDir Path dir) throws Exception {
    var socket = new ResilientDatagramSocket(new InetSocketAddress("127.0.0.1", 0), new java.util.concurrent.atomic.AtomicLong());
    ServerConnectorImpl connector = AlpnOptionalServerConnector.create(socket,
        new AlpnOptionalServerConnector.EngineFactory(TlsIdentity.selfSigned(List.of("localhost"), dir)),
        ServerConnectionConfig.builder().maxOpenPeerInitiatedBidirectionalStreams(32).build(),
        new KwikLogger());
    connector.start();
    long start = System.nanoTime();
    AlpnOptionalServerConnector.close(connector, Duration.ofSeconds(1));
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    assertThat(socket.isClosed()).isTrue();
  }

  /** The status handler agent15's engine was given: our wrapper. */
  private static TlsStatusEventHandler extractWrapper(TlsServerEngine engine) throws Exception {
    for (Class<?> c = engine.getClass(); c != null; c = c.getSuperclass()) {
      for (var field : c.getDeclaredFields()) {
        if (TlsStatusEventHandler.class.isAssignableFrom(field.getType())) {
          field.setAccessible(true);
          Object handler = field.get(engine);
          assertThat(handler).isInstanceOf(AlpnOptionalServerConnector.AlpnOptionalHandler.class);
          return (TlsStatusEventHandler) handler;
        }
      }
    }
    throw new AssertionError("no status handler in " + engine.getClass());
  }
}
