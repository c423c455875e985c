package io.streamdetour;

import io.streamdetour.audit.SessionLogVerticle;
import io.streamdetour.bus.RecordCodec;
import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.codec.HeaderLimits;
import io.streamdetour.config.ConfigException;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.DetourEdge;
import io.streamdetour.edge.HeaderReader;
import io.streamdetour.edge.QuicEdgeVerticle;
import io.streamdetour.edge.kwik.KwikEdge;
import io.streamdetour.pairing.PairingVerticle;
import io.streamdetour.policy.PolicyVerticle;
import io.streamdetour.relay.InspectorRegistry;
import io.streamdetour.session.SessionCoordinator;
import io.streamdetour.tls.TlsIdentity;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;

/**
 * One stream-detour node: the QUIC edge verticle, the pairing verticle, policy worker verticles
 * and the session log, wired over the event bus.
 */
public final class StreamDetourServer {

  private static final Logger LOG = LoggerFactory.getLogger(StreamDetourServer.class);
  private static final long DRAIN_POLL_MILLIS = 100;

  private final Vertx vertx;
  private final ServerConfig config;
  private final TlsIdentity identity;
  private final SessionCoordinator coordinator;
  private final DetourEdge edge;
  private final ScheduledThreadPoolExecutor headerTimer;
  private final List<String> deployments = new ArrayList<>();
  private String edgeDeployment;

  private StreamDetourServer(Vertx vertx, ServerConfig config, TlsIdentity identity,
      InspectorRegistry inspectors) {
    this.vertx = vertx;
    this.config = config;
    this.identity = identity;
    this.coordinator = new SessionCoordinator(vertx, config, inspectors);
    this.headerTimer = new ScheduledThreadPoolExecutor(1, Thread.ofPlatform().daemon().name("header-timer").factory());
    headerTimer.setRemoveOnCancelPolicy(true);
    String nodeId = UUID.randomUUID().toString().substring(0, 8);
    HeaderReader headerReader = new HeaderReader(
        new HeaderLimits(config.header().maxBytes(), config.header().maxPayloadBytes()),
        config.header().timeout(), headerTimer);
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
    DeploymentOptions workers = new DeploymentOptions()
        .setThreadingModel(ThreadingModel.WORKER)
        .setInstances(config.decision().instances());
    return deploy(vertx.deployVerticle(SessionLogVerticle::new, new DeploymentOptions()))
        .compose(v -> deploy(vertx.deployVerticle(new PairingVerticle(config.pairing().timeout()))))
        .compose(v -> deploy(vertx.deployVerticle(() -> new PolicyVerticle(config.policy()), workers)))
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
    return config;
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

  private Future<Void> undeployAll() {
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
