package io.streamdetour;

import io.streamdetour.admin.AdminClient;
import io.streamdetour.admin.PrometheusText;
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
import io.vertx.core.json.JsonObject;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringWriter;
import java.net.http.HttpResponse;
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
        %s""".formatted(dir, filesIn(dir)) + extra);
    // Renamed into place, as editors and config management do: the watcher never sees half a file.
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return file;
  }

  /** The admin API on an ephemeral port, the session log and captures in {@code dir}. */
  private static String filesIn(Path dir) {
    return """
        admin:
          port: 0
        audit:
          file: %s/sessions.log
        capture:
          dir: %s/capture
        """.formatted(dir, dir);
  }

  private ConfigWatcher start(Path file) throws Exception {
    vertx = Vertx.vertx();
    ServerConfig config = ConfigLoader.load(vertx, file).await(10, TimeUnit.SECONDS);
    server = StreamDetourServer.start(vertx, config, new InspectorRegistry()).await(20, TimeUnit.SECONDS);
    return server.watch(file);
  }

  private HttpResponse<String> admin(String path) throws Exception {
    return new AdminClient(server.adminAddress()).get(path);
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

      LogRecorder log = LogRecorder.of(ConfigWatcher.class);
      writeConfig(BLOCK_EVIL.replace("action: block", "action: forbid"));
      await().atMost(WAIT).until(() -> watcher.status().lastError() != null);
      log.close();
      // Every problem is logged with its key.
      assertThat(log.lines()).contains(
          "ERROR config change refused: policy.rules[0].action: must be continue, bypass or block, got 'forbid'",
          "ERROR config change refused (1 problems); version 2 stays in force");
      assertThat(watcher.status().lastError())
          .contains("policy.rules[0].action: must be continue, bypass or block, got 'forbid'");
      assertThat(watcher.status().version()).isEqualTo(2);
      assertThat(client.runSession(evil.withExpectedAction(Action.BLOCK)).ok()).isTrue();
      // The refusal shows in readiness and in the metrics.
      HttpResponse<String> ready = admin("/health/ready");
      assertThat(ready.statusCode()).isEqualTo(503);
      JsonObject config = AdminClient.check(new JsonObject(ready.body()), "config");
      assertThat(config.getString("status")).isEqualTo("DOWN");
      assertThat(config.getJsonObject("data").getString("last_error")).contains("got 'forbid'");
      PrometheusText metrics = PrometheusText.parse(admin("/metrics").body());
      assertThat(metrics.value("stream_detour_config_valid")).isZero();
      assertThat(metrics.value("stream_detour_config_version")).isEqualTo(2);

      // A rule naming an inspector nothing registered is refused like a syntax error.
      writeConfig(BLOCK_EVIL + """
            - name: inspect
              action: continue
              match: { host: [watched.test] }
              options: { inspectors: [nobody-registered-this] }
        """);
      await().atMost(WAIT).until(() -> String.valueOf(watcher.status().lastError()).contains("nobody-registered-this"));
      assertThat(watcher.status().version()).isEqualTo(2);

      writeConfig("policy: [not, a, map\n");
      Thread.sleep(1000);
      assertThat(watcher.status().version()).isEqualTo(2);
      assertThat(client.runSession(evil.withExpectedAction(Action.BLOCK)).ok()).isTrue();

      writeConfig(BLOCK_EVIL.replace("action: block", "action: bypass"));
      await().atMost(WAIT).until(() -> watcher.status().version() == 3);
      assertThat(watcher.status().lastError()).isNull();
      assertThat(client.runSession(evil.withExpectedAction(Action.BYPASS)).ok()).isTrue();
      assertThat(admin("/health/ready").statusCode()).isEqualTo(200);
      // The session log says which version decided.
      Path sessions = dir.resolve("sessions.log");
      await().atMost(WAIT).untilAsserted(() -> assertThat(Files.readAllLines(sessions)).last()
          .satisfies(line -> assertThat(new JsonObject(line).getInteger("config_version")).isEqualTo(3))
          .satisfies(line -> assertThat(new JsonObject(line).getString("action")).isEqualTo("bypass")));
    }
  }

  @Test
  void aFileThatCannotBeReadShowsInHealthUntilItIsPutBack() throws Exception {
    Path file = writeConfig(BLOCK_EVIL);
    String good = Files.readString(file);
    ConfigWatcher watcher = start(file);
    try (LogRecorder log = LogRecorder.of(ConfigWatcher.class)) {
      writeConfig("policy: [not, a, map\n");
      await().atMost(WAIT).until(() -> watcher.status().lastError() != null);
      assertThat(watcher.status().lastError()).startsWith("the configuration cannot be read: ");
      assertThat(watcher.status().version()).isEqualTo(1);
      assertThat(admin("/health/ready").statusCode()).isEqualTo(503);
      assertThat(PrometheusText.parse(admin("/metrics").body()).value("stream_detour_config_valid")).isZero();
      Thread.sleep(1000); // several scans of the same broken file
      assertThat(log.lines()).as("said once, not at every scan")
          .filteredOn(l -> l.contains("cannot be read")).hasSize(1);

      // Put back exactly as it was: no change to vertx-config, yet the error must clear.
      Files.writeString(dir.resolve("good.tmp"), good);
      Files.move(dir.resolve("good.tmp"), file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      await().atMost(WAIT).until(() -> watcher.status().lastError() == null);
      assertThat(watcher.status().version()).isEqualTo(1);
      assertThat(admin("/health/ready").statusCode()).isEqualTo(200);
      assertThat(log.lines()).contains("INFO config: the file is valid again and unchanged from version 1");
    }
  }

  @Test
  void aChangeThatNeedsARestartSaysSoAndTheListenersStay() throws Exception {
    Path file = writeConfig("");
    ConfigWatcher watcher = start(file);
    int quicPort = server.quicAddress().getPort();
    int adminPort = server.adminAddress().getPort();
    try (LogRecorder log = LogRecorder.of(ConfigWatcher.class)) {
      String moved = Files.readString(file).replace("port: 0\n  alpn", "port: " + freeUdpPort() + "\n  alpn")
          .replace("admin:\n  port: 0", "admin:\n  port: 1\n  token: " + TOKEN) + BLOCK_EVIL;
      Files.writeString(dir.resolve("moved.tmp"), moved);
      Files.move(dir.resolve("moved.tmp"), file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      await().atMost(WAIT).until(() -> watcher.status().version() == 2);

      assertThat(log.lines()).contains(
          "WARN config: quic changed; it takes effect at the next restart",
          "WARN config: admin (enabled, host, port; the token applies at once) changed; it takes effect at the next restart",
          "INFO config version 2 applied: new sessions use it, running sessions keep theirs");
      // The token applies at once, on the listener that stays.
      assertThat(admin("/config").statusCode()).isEqualTo(401);
      JsonObject shown = new JsonObject(new AdminClient(server.adminAddress()).send("GET", "/config", TOKEN).body());
      assertThat(shown.getJsonArray("restart_pending").getList())
          .containsExactly("quic", "admin (enabled, host, port; the token applies at once)");
      // What needs a restart did not move; the policy did change.
      assertThat(server.quicAddress().getPort()).isEqualTo(quicPort);
      assertThat(server.adminAddress().getPort()).isEqualTo(adminPort);
      try (DetourClient client = client(server.tlsIdentity().generatedCertificate())) {
        assertThat(client.runSession(SessionSpec.continueWith(0).withUpstream("evil.test:443")
            .withExpectedAction(Action.BLOCK)).ok()).isTrue();
      }
    }
  }

  private static final String TOKEN = "live-token-0123456789";

  private static int freeUdpPort() throws Exception {
    try (java.net.DatagramSocket socket = new java.net.DatagramSocket(0)) {
      return socket.getLocalPort();
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
    return client.openContinued(SessionSpec.continueWith(0), WAIT);
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
        %s""".formatted(certFile, keyFile, filesIn(dir)));
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
