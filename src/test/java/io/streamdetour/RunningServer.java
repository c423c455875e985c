package io.streamdetour;

import io.streamdetour.admin.AdminClient;
import io.streamdetour.cluster.ClusterJoin;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.relay.InspectorRegistry;
import io.streamdetour.testclient.DetourClient;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.metrics.DetourMetrics;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** A whole server on 127.0.0.1 and an ephemeral UDP port, with its own Vert.x, for one test class. */
public final class RunningServer implements AutoCloseable {

  public final Vertx vertx;
  public final StreamDetourServer server;
  public final Path dir;

  private RunningServer(Vertx vertx, StreamDetourServer server, Path dir) {
    this.vertx = vertx;
    this.server = server;
    this.dir = dir;
  }

  public static RunningServer start(JsonObject overrides) throws Exception {
    return start(overrides, new InspectorRegistry());
  }

  public static RunningServer start(JsonObject overrides, InspectorRegistry inspectors) throws Exception {
    Path dir = Files.createTempDirectory("stream-detour-test");
    PrometheusMeterRegistry registry = DetourMetrics.newRegistry();
    Vertx vertx = DetourMetrics.vertxBuilder(new VertxOptions(), registry).build();
    try {
      ServerConfig config = TestConfigs.forTest(vertx, dir, overrides);
      StreamDetourServer server = StreamDetourServer.start(vertx, config, inspectors, registry)
          .await(30, TimeUnit.SECONDS);
      return new RunningServer(vertx, server, dir);
    } catch (Exception e) {
      vertx.close().await(10, TimeUnit.SECONDS);
      deleteRecursively(dir);
      throw e;
    }
  }

  /**
   * A node whose Vert.x is clustered as {@code overrides}' {@code cluster} section says
   * ({@link TestCluster} makes such sections: 127.0.0.1 only, TCP-IP join).
   */
  public static RunningServer startClustered(JsonObject overrides) throws Exception {
    Path dir = Files.createTempDirectory("stream-detour-test");
    PrometheusMeterRegistry registry = DetourMetrics.newRegistry();
    ServerConfig config;
    Vertx loader = Vertx.vertx();
    try {
      config = TestConfigs.forTest(loader, dir, overrides);
    } finally {
      loader.close().await(10, TimeUnit.SECONDS);
    }
    Vertx vertx = ClusterJoin.start(config.cluster(), registry).await(60, TimeUnit.SECONDS);
    try {
      StreamDetourServer server = StreamDetourServer.start(vertx, config, new InspectorRegistry(), registry)
          .await(30, TimeUnit.SECONDS);
      return new RunningServer(vertx, server, dir);
    } catch (Exception e) {
      vertx.close().await(30, TimeUnit.SECONDS);
      throw e;
    }
  }

  /** Overrides that let the Java test client in: it offers ALPN {@code g3-detour}, g3proxy none. */
  public static JsonObject acceptingTestAlpn() {
    return new JsonObject().put("quic", new JsonObject().put("alpn", new JsonArray().add(DetourClient.DEFAULT_ALPN)));
  }

  /** From now on, each ended session's record by task id. */
  public Map<String, SessionEnded> recordEndedSessions() {
    Map<String, SessionEnded> ended = new ConcurrentHashMap<>();
    vertx.eventBus().<SessionEnded>consumer(Addresses.SESSION_ENDED, m -> ended.put(m.body().taskId(), m.body()));
    return ended;
  }

  /** The Java test client (ALPN g3-detour) for this server, verifying its certificate. */
  public DetourClient client(Duration requestTimeout) throws Exception {
    return DetourClient.builder("127.0.0.1", port()).caCertificate(caCertificate()).serverName("localhost")
        .requestTimeout(requestTimeout).relayTimeout(Duration.ofSeconds(60)).build();
  }

  public AdminClient admin() {
    return new AdminClient(server.adminAddress());
  }

  public int port() {
    return server.quicAddress().getPort();
  }

  public String address() {
    return "127.0.0.1:" + port();
  }

  public Path caCertificate() {
    return server.tlsIdentity().generatedCertificate();
  }

  /** Arguments that point the quinn client at this server, verifying its certificate. */
  public List<String> quinnArgs(String... more) {
    List<String> args = new ArrayList<>(List.of("--server", address(),
        "--ca-cert", caCertificate().toString(), "--server-name", "localhost"));
    args.addAll(List.of(more));
    return args;
  }

  @Override
  public void close() throws Exception {
    try {
      server.close().await(30, TimeUnit.SECONDS);
    } finally {
      closeVertx();
    }
  }

  /** For a test that stopped the server itself: closes Vert.x and removes the server's files. */
  public void closeVertx() throws Exception {
    try {
      vertx.close().await(30, TimeUnit.SECONDS);
    } finally {
      deleteRecursively(dir);
    }
  }

  private static void deleteRecursively(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }
}
