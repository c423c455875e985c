package io.streamdetour;

import io.streamdetour.audit.SessionLogVerticle;
import io.streamdetour.bus.RecordCodec;
import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.codec.HeaderLimits;
import io.streamdetour.config.ConfigException;
import io.streamdetour.config.ConfigWatcher;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.DetourEdge;
import io.streamdetour.edge.HeaderReader;
import io.streamdetour.edge.QuicEdgeVerticle;
import io.streamdetour.edge.kwik.KwikEdge;
import io.streamdetour.pairing.PairingVerticle;
import io.streamdetour.policy.Policy;
import io.streamdetour.policy.PolicyVerticle;
import io.streamdetour.relay.InspectorRegistry;
import io.streamdetour.session.SessionCoordinator;
import io.streamdetour.tls.TlsFileWatcher;
import io.streamdetour.tls.TlsIdentity;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.ScheduledThreadPoolExecutor;

/**
 * One stream-detour node: the QUIC edge verticle, the pairing verticle, policy worker verticles
 * and the session log, wired over the event bus.
 */
public final class StreamDetourServer {

  private static final Logger LOG = LoggerFactory.getLogger(StreamDetourServer.class);
  private static final long DRAIN_POLL_MILLIS = 100;

  private final Vertx vertx;
  /** What new sessions use; replaced whole when a valid change is loaded. */
  private final AtomicReference<ServerConfig> config;
  private final AtomicReference<Policy> policy;
  private volatile TlsIdentity identity;
  private final SessionCoordinator coordinator;
  private final DetourEdge edge;
  private final ScheduledThreadPoolExecutor headerTimer;
  private final List<String> deployments = new ArrayList<>();
  private final List<AutoCloseable> closeables = new CopyOnWriteArrayList<>();
  private String edgeDeployment;

  private StreamDetourServer(Vertx vertx, ServerConfig config, TlsIdentity identity,
      InspectorRegistry inspectors) {
    this.vertx = vertx;
    this.config = new AtomicReference<>(config);
    this.policy = new AtomicReference<>(new Policy(config.policy()));
    this.identity = identity;
    this.coordinator = new SessionCoordinator(vertx, this.config::get, inspectors);
    this.headerTimer = new ScheduledThreadPoolExecutor(1, Thread.ofPlatform().daemon().name("header-timer").factory());
    headerTimer.setRemoveOnCancelPolicy(true);
    String nodeId = UUID.randomUUID().toString().substring(0, 8);
    HeaderReader headerReader = new HeaderReader(
        new HeaderLimits(config.header().maxBytes(), config.header().maxPayloadBytes()),
        config.header().timeout(), config.decision().timeout().plus(config.pairing().timeout()), headerTimer);
    this.edge = new KwikEdge(config.quic(), identity, headerReader, nodeId);
  }

  /** Starts a node on {@code vertx}; fails if the config names unknown inspectors or the port is taken. */
  public static Future<StreamDetourServer> start(Vertx vertx, ServerConfig config, InspectorRegistry inspectors) {
    List<String> unknown = inspectors.unknown(config.relay().inspectors());
    if (!unknown.isEmpty()) {
      return Future.failedFuture(new ConfigException(List.of("relay.inspectors: no inspector named " + unknown)));
    }
    RecordCodec.registerAll(vertx);
    return vertx.executeBlocking(() -> TlsIdentity.load(config.tls(), config.quic().host()))
        .compose(identity -> {
          StreamDetourServer server = new StreamDetourServer(vertx, config, identity, inspectors);
          return server.deployAll().map(server).recover(e -> server.undeployAll().transform(x -> Future.failedFuture(e)));
        });
  }

  private Future<Void> deployAll() {
    ServerConfig config = this.config.get();
    DeploymentOptions workers = new DeploymentOptions()
        .setThreadingModel(ThreadingModel.WORKER)
        .setInstances(config.decision().instances());
    return deploy(vertx.deployVerticle(SessionLogVerticle::new, new DeploymentOptions()))
        .compose(v -> deploy(vertx.deployVerticle(new PairingVerticle(config.pairing().timeout()))))
        .compose(v -> deploy(vertx.deployVerticle(() -> new PolicyVerticle(policy::get), workers)))
        .compose(v -> vertx.deployVerticle(new QuicEdgeVerticle(edge, coordinator, DetourErrorCodes.SERVER_SHUTDOWN)))
        .map(id -> {
          edgeDeployment = id;
          LOG.info("QUIC edge (Kwik) listening on udp {}; ALPN: none{}", edge.localAddress(),
              config.quic().alpn().isEmpty() ? "" : " or " + config.quic().alpn());
          return null;
        });
  }

  private Future<Void> deploy(Future<String> deployment) {
    return deployment.map(id -> {
      deployments.add(id);
      return null;
    });
  }

  public InetSocketAddress quicAddress() {
    return edge.localAddress();
  }

  public TlsIdentity tlsIdentity() {
    return identity;
  }

  public ServerConfig config() {
    return config.get();
  }

  /**
   * Makes {@code next} the configuration of new sessions: the policy and the decision, pairing
   * and relay settings apply at once; running sessions keep the settings they started with.
   */
  public void apply(ServerConfig next) {
    policy.set(new Policy(next.policy()));
    config.set(next);
  }

  /**
   * Watches the configuration file (vertx-config) and, when configured, the certificate files,
   * every {@code reload.scan-period}; valid changes apply to new sessions and handshakes.
   *
   * @param file the operator's file, or null for the default one
   */
  public ConfigWatcher watch(Path file) {
    ServerConfig current = config.get();
    ConfigWatcher watcher = ConfigWatcher.start(vertx, file, current, this::apply);
    closeables.add(watcher);
    long period = current.reload().scanPeriod().toMillis();
    if (period > 0 && !current.tls().selfSigned()) {
      closeables.add(TlsFileWatcher.start(vertx, Path.of(current.tls().certificate()),
          Path.of(current.tls().privateKey()), period, this::replaceIdentityQuietly));
    }
    return watcher;
  }

  private void replaceIdentityQuietly(TlsIdentity next) {
    try {
      replaceIdentity(next);
    } catch (Exception e) {
      throw new IllegalStateException("the edge refused the new certificate: " + e.getMessage(), e);
    }
  }

  /** New handshakes present {@code next}; established connections are not touched. */
  public void replaceIdentity(TlsIdentity next) throws Exception {
    edge.replaceIdentity(next);
    identity = next;
  }

  public int activeSessions() {
    return coordinator.activeSessions();
  }

  public int connectionCount() {
    return edge.connectionCount();
  }

  /**
   * Graceful stop: new connections and new north streams are refused at once (south streams of
   * continued sessions still pair), running sessions get {@code shutdown.grace}
   * to end, then the rest are cut and every connection is closed with code 0x206.
   */
  public Future<Void> shutdown() {
    edge.stopAccepting();
    coordinator.stopAccepting();
    closeWatchers();
    ServerConfig config = this.config.get();
    long deadline = System.nanoTime() + config.shutdown().grace().toNanos();
    Promise<Void> drained = Promise.promise();
    vertx.setPeriodic(0, DRAIN_POLL_MILLIS, id -> {
      if (coordinator.activeSessions() == 0 || System.nanoTime() >= deadline) {
        vertx.cancelTimer(id);
        drained.complete();
      }
    });
    return drained.future().compose(v -> {
      int left = coordinator.activeSessions();
      if (left > 0) {
        LOG.warn("shutdown: {} sessions still running after {} ms; cutting them", left,
            config.shutdown().grace().toMillis());
        coordinator.abortAll("server_shutdown", DetourErrorCodes.SERVER_SHUTDOWN);
      }
      return undeployAll();
    });
  }

  /** Stops at once: sessions are cut, connections closed. */
  public Future<Void> close() {
    edge.stopAccepting();
    coordinator.stopAccepting();
    coordinator.abortAll("server_shutdown", DetourErrorCodes.SERVER_SHUTDOWN);
    return undeployAll();
  }

  /** Watching stops first: a stopping Vert.x can no longer read files. */
  private void closeWatchers() {
    for (AutoCloseable closeable : closeables) {
      try {
        closeable.close();
      } catch (Exception e) {
        LOG.debug("closing {}: {}", closeable, e.toString());
      }
    }
    closeables.clear();
  }

  private Future<Void> undeployAll() {
    closeWatchers();
    Future<Void> edgeStopped = edgeDeployment == null ? Future.succeededFuture() : vertx.undeploy(edgeDeployment);
    return edgeStopped.eventually(() -> {
      coordinator.close();
      headerTimer.shutdownNow();
      List<Future<Void>> rest = deployments.stream().map(vertx::undeploy).toList();
      deployments.clear();
      return Future.join(rest);
    }).mapEmpty();
  }
}
