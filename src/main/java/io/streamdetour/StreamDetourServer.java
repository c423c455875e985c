package io.streamdetour;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.streamdetour.admin.AdminVerticle;
import io.streamdetour.admin.NodeAgentVerticle;
import io.streamdetour.admin.NodeState;
import io.streamdetour.audit.CaptureStore;
import io.streamdetour.audit.SessionLogVerticle;
import io.streamdetour.bus.RecordCodec;
import io.streamdetour.bus.RunningSession;
import io.streamdetour.cluster.ClusterServices;
import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.codec.HeaderLimits;
import io.streamdetour.config.AppliedConfig;
import io.streamdetour.config.ConfigException;
import io.streamdetour.config.ConfigWatcher;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.DetourEdge;
import io.streamdetour.edge.HeaderReader;
import io.streamdetour.edge.QuicEdgeVerticle;
import io.streamdetour.edge.kwik.KwikEdge;
import io.streamdetour.edge.netty.NettyEdge;
import io.streamdetour.limits.SessionLimits;
import io.streamdetour.metrics.DetourMetrics;
import io.streamdetour.pairing.PairingClient;
import io.streamdetour.pairing.PairingVerticle;
import io.streamdetour.plugins.Plugins;
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
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.ScheduledThreadPoolExecutor;

/**
 * One stream-detour node: the QUIC edge verticle, the pairing verticle, policy worker verticles
 * and the session log, wired over the event bus. On a clustered Vert.x the node is a member of
 * its cluster: pairing, the admin API's sessions and the session limits span every node
 * ({@link ClusterServices}).
 */
public final class StreamDetourServer {

  private static final Logger LOG = LoggerFactory.getLogger(StreamDetourServer.class);
  private static final long DRAIN_POLL_MILLIS = 100;
  /** How long cut sessions get to end (their streams are reset: normally milliseconds). */
  private static final Duration CUT_SESSIONS_END = Duration.ofSeconds(5);

  private final Vertx vertx;
  /** What new sessions use; replaced whole when a valid change is loaded. */
  private final AtomicReference<AppliedConfig> config;
  /** The configuration at start, which the listeners and files still follow. */
  private final ServerConfig started;
  private final AtomicReference<Policy> policy;
  private final InspectorRegistry inspectors;
  private final Plugins plugins;
  private volatile TlsIdentity identity;
  private volatile ConfigWatcher watcher;
  private final PrometheusMeterRegistry registry;
  private final CaptureStore capture;
  private final ClusterServices cluster;
  private final PairingClient pairing;
  /** This node's pairing instance, or null when {@code pairing.local} is false. */
  private final PairingVerticle pairingInstance;
  private final SessionCoordinator coordinator;
  private AdminVerticle admin;
  /** One per listener ({@code quic.*}, then {@code quic.listeners}); the first is the main one. */
  private final List<DetourEdge> edges = new ArrayList<>();
  private final List<ServerConfig.Quic> listeners;
  private final ScheduledThreadPoolExecutor headerTimer;
  private final List<String> deployments = new ArrayList<>();
  private final List<AutoCloseable> closeables = new CopyOnWriteArrayList<>();
  private final List<String> edgeDeployments = new ArrayList<>();

  private StreamDetourServer(Vertx vertx, ServerConfig config, TlsIdentity identity,
      InspectorRegistry inspectors, Plugins plugins, PrometheusMeterRegistry registry, ClusterServices cluster) {
    this.vertx = vertx;
    this.config = new AtomicReference<>(new AppliedConfig(1, config));
    this.started = config;
    this.policy = new AtomicReference<>(new Policy(config.policy()));
    this.inspectors = inspectors;
    this.plugins = plugins;
    this.identity = identity;
    this.registry = registry;
    ServerConfig.Capture captureSettings = config.capture();
    this.capture = new CaptureStore(Path.of(captureSettings.dir()), captureSettings.maxSessionBytes(),
        captureSettings.maxTotalBytes());
    DetourMetrics metrics = new DetourMetrics(registry);
    this.cluster = cluster;
    String nodeId = cluster.membership().nodeId();
    this.pairing = new PairingClient(vertx, cluster.membership(), cluster.pairingDirectory(), config.pairing().local(),
        metrics);
    this.coordinator = new SessionCoordinator(vertx, this.config::get, inspectors, capture::open, metrics, pairing,
        new SessionLimits(cluster.limitCounter()), nodeId);
    this.headerTimer = new ScheduledThreadPoolExecutor(1, Thread.ofPlatform().daemon().name("header-timer").factory());
    headerTimer.setRemoveOnCancelPolicy(true);
    HeaderReader headerReader = new HeaderReader(
        new HeaderLimits(config.header().maxBytes(), config.header().maxPayloadBytes()),
        config.header().timeout(), config.decision().timeout().plus(config.pairing().timeout()), headerTimer);
    this.listeners = config.quic().all();
    for (int i = 0; i < listeners.size(); i++) {
      ServerConfig.Quic listener = listeners.get(i);
      // The main listener's connection ids are the node id's, as before; the others' get their index too.
      String prefix = i == 0 ? nodeId : nodeId + "." + i;
      edges.add(listener.edge() == ServerConfig.Edge.NETTY
          ? new NettyEdge(listener, identity, headerReader, prefix)
          : new KwikEdge(listener, identity, headerReader, prefix));
    }
    metrics.gauges(coordinator::activeSessions, this::connectionCount, () -> configStatus().version(),
        () -> configStatus().lastError() == null ? 1 : 0, capture::totalBytes, capture::errors,
        () -> edges.stream().mapToLong(DetourEdge::udpSendErrors).sum(),
        () -> edges.stream().mapToLong(DetourEdge::handshakesDropped).sum());
    this.pairingInstance = config.pairing().local()
        ? new PairingVerticle(config.pairing().timeout(), cluster.membership(), cluster.pairingDirectory()) : null;
    metrics.clusterGauges(() -> cluster.membership().joined() ? cluster.membership().nodes().size() : 0,
        () -> pairingInstance == null ? 0 : pairingInstance.waitingCount());
  }

  /**
   * Starts a node on {@code vertx}, its meters in a registry of its own; fails if the config
   * names unknown inspectors or a port is taken.
   */
  public static Future<StreamDetourServer> start(Vertx vertx, ServerConfig config, InspectorRegistry inspectors) {
    return start(vertx, config, inspectors, DetourMetrics.newRegistry());
  }

  /**
   * Starts a node on {@code vertx} with its meters in {@code registry}: the registry Vert.x was
   * built with ({@link DetourMetrics#vertxBuilder}), so {@code /metrics} shows both. The
   * inspectors of the jars in {@code plugins.dir} are added to {@code inspectors} first.
   */
  public static Future<StreamDetourServer> start(Vertx vertx, ServerConfig config, InspectorRegistry inspectors,
      PrometheusMeterRegistry registry) {
    if (config.cluster().enabled() && !vertx.isClustered()) {
      return Future.failedFuture(new IllegalStateException(
          "cluster.enabled is true but this Vert.x is not clustered: start it with ClusterJoin"));
    }
    RecordCodec.registerAll(vertx);
    // Plugin jars first: their inspectors are names the configuration may use.
    return vertx.executeBlocking(() -> Plugins.load(config.plugins(), vertx, inspectors))
        .compose(plugins -> {
          List<String> problems = unknownInspectors(config, inspectors);
          if (!problems.isEmpty()) {
            return plugins.undeploy(vertx).transform(x -> Future.<StreamDetourServer>failedFuture(new ConfigException(problems)));
          }
          return vertx.executeBlocking(() -> TlsIdentity.load(config.tls(), config.quic().host()))
              .compose(identity -> {
                StreamDetourServer server = new StreamDetourServer(vertx, config, identity, inspectors, plugins,
                    registry, ClusterServices.of(vertx));
                return server.deployAll().map(server)
                    .recover(e -> server.undeployAll().transform(x -> Future.failedFuture(e)));
              }, e -> plugins.undeploy(vertx).transform(x -> Future.failedFuture(e)));
        });
  }

  /** Inspectors named in {@code relay.inspectors} or a rule's options that nothing registered. */
  private static List<String> unknownInspectors(ServerConfig config, InspectorRegistry inspectors) {
    List<String> problems = new ArrayList<>();
    List<String> global = inspectors.unknown(config.relay().inspectors());
    if (!global.isEmpty()) {
      problems.add("relay.inspectors: no inspector named " + global);
    }
    Set<String> inRules = new LinkedHashSet<>();
    config.policy().rules().forEach(rule -> inRules.addAll(inspectors.unknown(rule.options().inspectors())));
    if (!inRules.isEmpty()) {
      problems.add("policy.rules: options name inspectors nothing registered: " + inRules);
    }
    return problems;
  }

  private Future<Void> deployAll() {
    ServerConfig config = this.config.get().config();
    DeploymentOptions workers = new DeploymentOptions()
        .setThreadingModel(ThreadingModel.WORKER)
        .setInstances(config.decision().instances());
    DeploymentOptions oneWorker = new DeploymentOptions().setThreadingModel(ThreadingModel.WORKER);
    return deploy(vertx.deployVerticle(new SessionLogVerticle(config.audit()), oneWorker))
        .compose(v -> pairingInstance == null ? Future.succeededFuture() : deploy(vertx.deployVerticle(pairingInstance)))
        .compose(v -> deploy(vertx.deployVerticle(new NodeAgentVerticle(nodeId(), new State()))))
        .compose(v -> deploy(vertx.deployVerticle(() -> new PolicyVerticle(policy::get), workers)))
        // Before the edges, so that plugins hear of every session.
        .compose(v -> plugins.deploy(vertx))
        .compose(v -> deployEdges(0))
        .compose(v -> {
          if (!config.admin().enabled()) {
            return Future.succeededFuture();
          }
          admin = new AdminVerticle(config.admin().host(), config.admin().port(), new State(), registry,
              cluster.membership(), config.cluster().requestTimeout());
          return deploy(vertx.deployVerticle(admin));
        });
  }

  /** The edges one after the other, from {@code index}, each logging where it listens. */
  private Future<Void> deployEdges(int index) {
    if (index == edges.size()) {
      return Future.succeededFuture();
    }
    DetourEdge edge = edges.get(index);
    ServerConfig.Quic listener = listeners.get(index);
    return vertx.deployVerticle(new QuicEdgeVerticle(edge, coordinator, DetourErrorCodes.SERVER_SHUTDOWN))
        .compose(id -> {
          edgeDeployments.add(id);
          if (listener.edge() == ServerConfig.Edge.NETTY) {
            LOG.info("QUIC edge (Netty) listening on udp {} with {} socket(s); ALPN: {} (clients without ALPN are"
                + " refused)", edge.localAddress(), listener.sockets(), listener.alpn());
          } else {
            LOG.info("QUIC edge (Kwik) listening on udp {}; ALPN: none{}", edge.localAddress(),
                listener.alpn().isEmpty() ? "" : " or " + listener.alpn());
          }
          return deployEdges(index + 1);
        });
  }

  private Future<Void> deploy(Future<String> deployment) {
    return deployment.map(id -> {
      deployments.add(id);
      return null;
    });
  }

  /** This node's id: its Vert.x cluster node id when clustered; it prefixes its connection ids. */
  public String nodeId() {
    return cluster.membership().nodeId();
  }

  /** Members of the cluster this node sees (1 when not clustered). */
  public int clusterMembers() {
    return cluster.membership().nodes().size();
  }

  /** The main listener's address ({@code quic.host}:{@code quic.port}). */
  public InetSocketAddress quicAddress() {
    return edges.get(0).localAddress();
  }

  /** Every listener's address, in the order of {@link ServerConfig.Quic#all()}. */
  public List<InetSocketAddress> quicAddresses() {
    return edges.stream().map(DetourEdge::localAddress).toList();
  }

  public TlsIdentity tlsIdentity() {
    return identity;
  }

  public ServerConfig config() {
    return config.get().config();
  }

  /** The admin API's address, or null when it is off. */
  public InetSocketAddress adminAddress() {
    return admin == null ? null : admin.address();
  }

  public PrometheusMeterRegistry meterRegistry() {
    return registry;
  }

  /** The configuration version in force and why the last change was refused, if it was. */
  public ConfigWatcher.Status configStatus() {
    ConfigWatcher w = watcher;
    AppliedConfig applied = config.get();
    return w != null ? w.status() : new ConfigWatcher.Status(applied.version(), applied.config(), null);
  }

  /**
   * Makes {@code next}, as version {@code version}, the configuration of new sessions: the
   * policy and the decision, pairing and relay settings apply at once; running sessions keep
   * the settings they started with.
   *
   * @throws ConfigException when it names inspectors nothing registered: nothing changes
   */
  public void apply(int version, ServerConfig next) {
    List<String> problems = unknownInspectors(next, inspectors);
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
    policy.set(new Policy(next.policy()));
    config.set(new AppliedConfig(version, next));
  }

  /**
   * Watches the configuration file (vertx-config) and, when configured, the certificate files,
   * every {@code reload.scan-period}; valid changes apply to new sessions and handshakes.
   *
   * @param file the operator's file, or null for the default one
   */
  public ConfigWatcher watch(Path file) {
    ServerConfig current = config.get().config();
    ConfigWatcher watcher = ConfigWatcher.start(vertx, file, current, this::apply);
    this.watcher = watcher;
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
    for (DetourEdge edge : edges) {
      edge.replaceIdentity(next);
    }
    identity = next;
  }

  public int activeSessions() {
    return coordinator.activeSessions();
  }

  public int connectionCount() {
    return edges.stream().mapToInt(DetourEdge::connectionCount).sum();
  }

  /**
   * Graceful stop: new connections and new north streams are refused at once (south streams of
   * continued sessions still pair), running sessions get {@code shutdown.grace}
   * to end, then the rest are cut and every connection is closed with code 0x206.
   */
  public Future<Void> shutdown() {
    edges.forEach(DetourEdge::stopAccepting);
    coordinator.stopAccepting();
    closeWatchers();
    Duration grace = this.config.get().config().shutdown().grace();
    long deadline = System.nanoTime() + grace.toNanos();
    return until(coordinator::idle, deadline).compose(v -> {
      int left = coordinator.activeSessions();
      if (left > 0) {
        LOG.warn("shutdown: {} sessions still running after {} ms; cutting them", left, grace.toMillis());
        return close();
      }
      // The sessions' last bytes and FINs may still be on their way: closing the connections
      // now would drop them, so the rest of the grace is theirs.
      return until(() -> !unacknowledgedBytes(), deadline).compose(x -> {
        if (unacknowledgedBytes()) {
          LOG.warn("shutdown: clients had not acknowledged every byte after {} ms; closing anyway", grace.toMillis());
        }
        return close();
      });
    });
  }

  private boolean unacknowledgedBytes() {
    return edges.stream().anyMatch(DetourEdge::unacknowledgedBytes);
  }

  /** Stops at once: sessions are cut, connections closed. */
  public Future<Void> close() {
    edges.forEach(DetourEdge::stopAccepting);
    coordinator.stopAccepting();
    coordinator.abortAll("server_shutdown", DetourErrorCodes.SERVER_SHUTDOWN);
    // The cut sessions end on their relay threads, writing their capture index lines and
    // publishing their records: the session log and the capture stay until they have.
    return until(coordinator::idle, System.nanoTime() + CUT_SESSIONS_END.toNanos()).compose(v -> undeployAll());
  }

  /**
   * Completes once {@code done} holds or at {@code deadline} ({@link System#nanoTime}); for
   * the stop: no continued session runs and every record is out, no byte is unacknowledged.
   */
  private Future<Void> until(java.util.function.BooleanSupplier done, long deadline) {
    if (done.getAsBoolean()) {
      return Future.succeededFuture();
    }
    Promise<Void> drained = Promise.promise();
    // No initial delay of 0: a timer that fires before setPeriodic returns cannot be cancelled
    // from its own handler (Vert.x 5.0.7 throws a NullPointerException and the stop hangs).
    vertx.setPeriodic(DRAIN_POLL_MILLIS, id -> {
      if (done.getAsBoolean() || System.nanoTime() >= deadline) {
        vertx.cancelTimer(id);
        drained.complete();
      }
    });
    return drained.future();
  }

  private static void closeQuietly(AutoCloseable closeable) {
    try {
      closeable.close();
    } catch (Exception e) {
      LOG.debug("closing {}: {}", closeable, e.toString());
    }
  }

  /** Watching stops first: a stopping Vert.x can no longer read files. */
  private void closeWatchers() {
    closeables.forEach(StreamDetourServer::closeQuietly);
    closeables.clear();
  }

  private Future<Void> undeployAll() {
    closeWatchers();
    Future<Void> edgeStopped = Future.join(edgeDeployments.stream().map(vertx::undeploy).toList()).mapEmpty();
    edgeDeployments.clear();
    return edgeStopped.eventually(() -> {
      coordinator.close();
      headerTimer.shutdownNow();
      List<Future<Void>> rest = new ArrayList<>(deployments.stream().map(vertx::undeploy).toList());
      deployments.clear();
      rest.add(plugins.undeploy(vertx));
      return Future.join(rest);
    }).eventually(() -> {
      closeQuietly(pairing);
      cluster.close();
      return Future.succeededFuture();
    }).mapEmpty();
  }

  /** The node as the admin API sees it. */
  private final class State implements NodeState {

    @Override
    public String edgeAddress() {
      InetSocketAddress address = quicAddress();
      return address == null ? null : address.getAddress().getHostAddress() + ":" + address.getPort();
    }

    @Override
    public boolean accepting() {
      return edges.get(0).accepting();
    }

    @Override
    public int configVersion() {
      return configStatus().version();
    }

    @Override
    public String configError() {
      return configStatus().lastError();
    }

    @Override
    public JsonObject configSource() {
      return config.get().config().source();
    }

    @Override
    public List<String> restartPending() {
      return ConfigWatcher.restartOnlyChanges(started, config.get().config());
    }

    @Override
    public String adminToken() {
      return config.get().config().admin().token();
    }

    @Override
    public List<RunningSession> sessions() {
      return coordinator.sessions();
    }

    @Override
    public boolean pairingInstance() {
      return config.get().config().pairing().local();
    }

    @Override
    public int pairingInstancesKnown() {
      return pairing.instancesKnown();
    }

    @Override
    public JsonArray plugins() {
      return plugins.status();
    }

    @Override
    public int cut(String taskId) {
      return coordinator.cut(taskId, "admin_cut");
    }
  }
}
