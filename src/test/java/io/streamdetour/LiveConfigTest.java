package io.streamdetour;

import io.streamdetour.codec.Action;
import io.streamdetour.config.ConfigLoader;
import io.streamdetour.config.ConfigWatcher;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.relay.InspectorRegistry;
import io.streamdetour.testclient.DetourClient;
import io.streamdetour.testclient.RawSession;
import io.streamdetour.testclient.SessionSpec;
import io.streamdetour.testclient.StreamOutcome;
import io.streamdetour.tls.TlsIdentity;
import io.vertx.core.Vertx;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.PrivateKey;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A running server picking up real changes of its configuration file and certificate files. */
class LiveConfigTest {

  private static final Duration WAIT = Duration.ofSeconds(15);

  @TempDir
  Path dir;
  private Vertx vertx;
  private StreamDetourServer server;

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close().await(20, TimeUnit.SECONDS);
    }
    if (vertx != null) {
      vertx.close().await(20, TimeUnit.SECONDS);
    }
  }

  private Path writeConfig(String extra) throws Exception {
    Path file = dir.resolve("stream-detour.yaml");
    Path tmp = dir.resolve("stream-detour.yaml.tmp");
    Files.writeString(tmp, """
        quic:
          port: 0
          alpn: [g3-detour]
        tls:
          generated-dir: %s
        reload:
          scan-period: 200ms
        """.formatted(dir) + extra);
    // Renamed into place, as editors and config management do: the watcher never sees half a file.
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return file;
  }

  private ConfigWatcher start(Path file) throws Exception {
    vertx = Vertx.vertx();
    ServerConfig config = ConfigLoader.load(vertx, file).await(10, TimeUnit.SECONDS);
    server = StreamDetourServer.start(vertx, config, new InspectorRegistry()).await(20, TimeUnit.SECONDS);
    return server.watch(file);
  }

  private DetourClient client(Path ca) throws Exception {
    return DetourClient.builder("127.0.0.1", server.quicAddress().getPort())
        .caCertificate(ca).serverName("localhost").requestTimeout(Duration.ofSeconds(10)).build();
  }

  private static final String BLOCK_EVIL = """
      policy:
        default: continue
        rules:
          - name: evil
            action: block
            match: { host: [evil.test] }
      """;

  @Test
  void aValidChangeAppliesToNewSessionsAndAnInvalidOneIsRefused() throws Exception {
    Path file = writeConfig("");
    ConfigWatcher watcher = start(file);
    SessionSpec evil = SessionSpec.continueWith(1024).withUpstream("evil.test:443");
    try (DetourClient client = client(server.tlsIdentity().generatedCertificate())) {
      assertThat(client.runSession(evil).ok()).isTrue();

      writeConfig(BLOCK_EVIL);
      await().atMost(WAIT).until(() -> watcher.status().version() == 2);
      assertThat(client.runSession(evil.withExpectedAction(Action.BLOCK)).ok()).isTrue();
      assertThat(client.runSession(SessionSpec.continueWith(1024)).ok()).isTrue();

      writeConfig(BLOCK_EVIL.replace("action: block", "action: forbid"));
      await().atMost(WAIT).until(() -> watcher.status().lastError() != null);
      assertThat(watcher.status().lastError())
          .contains("policy.rules[0].action: must be continue, bypass or block, got 'forbid'");
      assertThat(watcher.status().version()).isEqualTo(2);
      assertThat(client.runSession(evil.withExpectedAction(Action.BLOCK)).ok()).isTrue();

      writeConfig("policy: [not, a, map\n");
      Thread.sleep(1000);
      assertThat(watcher.status().version()).isEqualTo(2);
      assertThat(client.runSession(evil.withExpectedAction(Action.BLOCK)).ok()).isTrue();

      writeConfig(BLOCK_EVIL.replace("action: block", "action: bypass"));
      await().atMost(WAIT).until(() -> watcher.status().version() == 3);
      assertThat(watcher.status().lastError()).isNull();
      assertThat(client.runSession(evil.withExpectedAction(Action.BYPASS)).ok()).isTrue();
    }
  }

  @Test
  void runningSessionsKeepTheSettingsTheyStartedWith() throws Exception {
    Path file = writeConfig("relay:\n  idle-timeout: 10m\n");
    ConfigWatcher watcher = start(file);
    try (DetourClient client = client(server.tlsIdentity().generatedCertificate());
        RawSession before = continued(client)) {
      writeConfig("relay:\n  idle-timeout: 1s\n");
      await().atMost(WAIT).until(() -> watcher.status().version() == 2);
      try (RawSession after = continued(client)) {
        assertThat(after.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
        // The session from before the change is still on its 10 minutes.
        byte[] data = "still relayed".getBytes();
        before.north().write(data);
        assertThat(before.north().read(data.length, WAIT)).isEqualTo(data);
      }
    }
  }

  private static RawSession continued(DetourClient client) throws Exception {
    RawSession session = client.openRaw();
    session.writeNorthHeader(SessionSpec.continueWith(0));
    assertThat(session.readReply(WAIT).action()).isEqualTo(Action.CONTINUE);
    session.south().write(session.southHeader());
    return session;
  }

  @Test
  void aRotatedCertificateServesNewHandshakesAndKeepsOpenConnections() throws Exception {
    Path certFile = dir.resolve("server.pem");
    Path keyFile = dir.resolve("server.key");
    Path ca1 = installIdentity(dir.resolve("one"), certFile, keyFile);
    Path file = dir.resolve("with-certificate.yaml");
    Files.writeString(file, """
        quic:
          port: 0
          alpn: [g3-detour]
        tls:
          certificate: %s
          private-key: %s
        reload:
          scan-period: 200ms
        """.formatted(certFile, keyFile));
    start(file);
    try (DetourClient first = client(ca1)) {
      assertThat(first.runSession(SessionSpec.continueWith(1024)).ok()).isTrue();
      Path ca2 = installIdentity(dir.resolve("two"), certFile, keyFile);
      // New handshakes get the new certificate...
      await().atMost(WAIT).ignoreExceptions().until(() -> {
        try (DetourClient second = client(ca2)) {
          return second.runSession(SessionSpec.continueWith(1024)).ok();
        }
      });
      // ...and a client that trusts only the old one is now refused,
      try (DetourClient stale = client(ca1)) {
        assertThat(stale.runSession(SessionSpec.continueWith(1024)).ok()).isFalse();
      }
      // while the connection made before the rotation carries on.
      assertThat(first.runSession(SessionSpec.continueWith(1024)).ok()).isTrue();
      assertThat(first.connectionsOpened()).isEqualTo(1);
    }
  }

  /** A self-signed identity whose certificate is written to {@code cert} and key to {@code key}. */
  private static Path installIdentity(Path work, Path cert, Path key) throws Exception {
    TlsIdentity identity = TlsIdentity.selfSigned(List.of("localhost", "127.0.0.1"), work);
    PrivateKey privateKey = (PrivateKey) identity.keyStore().getKey(identity.alias(), identity.password());
    StringWriter keyPem = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(keyPem)) {
      writer.writeObject(new JcaPKCS8Generator(privateKey, null)); // "PRIVATE KEY", as openssl genpkey writes
    }
    Path keyTmp = key.resolveSibling(key.getFileName() + ".tmp");
    Files.writeString(keyTmp, keyPem.toString());
    Files.copy(identity.generatedCertificate(), cert.resolveSibling(cert.getFileName() + ".tmp"), StandardCopyOption.REPLACE_EXISTING);
    Files.move(keyTmp, key, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    Files.move(cert.resolveSibling(cert.getFileName() + ".tmp"), cert, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return identity.generatedCertificate();
  }
}
