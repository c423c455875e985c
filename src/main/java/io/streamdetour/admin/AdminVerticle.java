package io.streamdetour.admin;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.NodeCut;
import io.streamdetour.bus.NodeSessions;
import io.streamdetour.bus.NodeStatus;
import io.streamdetour.bus.RunningSession;
import io.streamdetour.bus.SessionCut;
import io.streamdetour.bus.SessionQuery;
import io.streamdetour.cluster.Membership;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.Status;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.healthchecks.HealthCheckHandler;
import io.vertx.micrometer.PrometheusScrapingHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The admin HTTP API (vertx-web): health (vertx-health-check), Prometheus metrics
 * (vertx-micrometer-metrics), running sessions, the effective configuration. Sessions and node
 * states are those of the whole cluster: every node is asked on its own address
 * ({@link NodeAgentVerticle}), within {@code cluster.request-timeout}, and the answer names the
 * nodes that did not answer. Nothing here blocks the event loop.
 */
public final class AdminVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(AdminVerticle.class);
  /** Keys whose values never leave the server. */
  private static final Pattern SECRET = Pattern.compile("(?i).*(token|password|secret|passphrase).*");
  private static final String REDACTED = "<redacted>";

  private final String host;
  private final int port;
  private final NodeState node;
  private final PrometheusMeterRegistry registry;
  private final Membership membership;
  private final Duration requestTimeout;
  private ClusterFanOut cluster;
  private HttpServer server;

  public AdminVerticle(String host, int port, NodeState node, PrometheusMeterRegistry registry, Membership membership,
      Duration requestTimeout) {
    this.host = host;
    this.port = port;
    this.node = node;
    this.registry = registry;
    this.membership = membership;
    this.requestTimeout = requestTimeout;
  }

  @Override
  public Future<?> start() {
    cluster = new ClusterFanOut(vertx, membership, requestTimeout);
    Router router = Router.router(vertx);
    router.route().handler(this::authorize);
    router.get("/health/live").handler(HealthCheckHandler.create(vertx)
        .register("event-loop", promise -> promise.complete(Status.OK())));
    HealthCheckHandler ready = HealthCheckHandler.create(vertx);
    if (membership.clustered()) {
      ready.register("cluster", promise -> {
        JsonObject data = new JsonObject().put("node", membership.nodeId()).put("joined", membership.joined())
            .put("members", membership.joined() ? membership.nodes().size() : 0);
        promise.complete(membership.joined() ? Status.OK(data) : Status.KO(data));
      });
    }
    router.get("/health/ready").handler(ready
        .register("quic-edge", promise -> {
          String address = node.edgeAddress();
          JsonObject data = new JsonObject().put("address", address).put("accepting", node.accepting());
          promise.complete(address != null && node.accepting() ? Status.OK(data) : Status.KO(data));
        })
        .register("config", promise -> {
          String error = node.configError();
          JsonObject data = new JsonObject().put("version", node.configVersion()).put("last_error", error);
          promise.complete(error == null ? Status.OK(data) : Status.KO(data));
        })
        .register("pairing", promise -> {
          int known = node.pairingInstancesKnown();
          JsonObject data = new JsonObject().put("local", node.pairingInstance()).put("instances", known);
          promise.complete(known > 0 ? Status.OK(data) : Status.KO(data));
        }));
    router.get("/metrics").handler(PrometheusScrapingHandler.create(registry));
    router.get("/sessions").handler(this::listSessions);
    router.delete("/sessions/:taskId").handler(this::cutSession);
    router.get("/config").handler(this::showConfig);
    router.get("/cluster").handler(this::showCluster);
    return vertx.createHttpServer().requestHandler(router).listen(port, host).map(s -> {
      server = s;
      LOG.info("admin API on http://{}:{}/ (health, metrics, sessions, config, cluster){}", host, s.actualPort(),
          node.adminToken().isEmpty() ? "" : ", bearer token required");
      return s;
    });
  }

  public InetSocketAddress address() {
    return new InetSocketAddress(host, server.actualPort());
  }

  /** With a token configured, every request carries it; compared in constant time. */
  private void authorize(RoutingContext ctx) {
    String token = node.adminToken();
    if (token.isEmpty()) {
      ctx.next();
      return;
    }
    String header = ctx.request().getHeader(HttpHeaders.AUTHORIZATION);
    byte[] given = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
        ? header.substring(7).trim().getBytes(StandardCharsets.UTF_8) : new byte[0];
    if (MessageDigest.isEqual(given, token.getBytes(StandardCharsets.UTF_8))) {
      ctx.next();
    } else {
      ctx.response().setStatusCode(401).putHeader("WWW-Authenticate", "Bearer realm=\"stream-detour\"")
          .end();
    }
  }

  /** {@code ?user=&upstream=&protocol=&task_id=}: each given filter must match; every node is asked. */
  private void listSessions(RoutingContext ctx) {
    SessionQuery query = new SessionQuery(ctx.queryParams().get("user"), ctx.queryParams().get("upstream"),
        ctx.queryParams().get("protocol"), ctx.queryParams().get("task_id"));
    cluster.<NodeSessions>ask(Addresses.NODE_SESSIONS, query).onComplete(done -> {
      ClusterFanOut.Gathered<NodeSessions> gathered = done.result();
      List<RunningSession> matching = gathered.answers().values().stream()
          .flatMap(n -> n.sessions().stream()).sorted(Comparator.comparing(RunningSession::started)).toList();
      JsonArray list = new JsonArray();
      matching.forEach(s -> list.add(s.toJson()));
      json(ctx, 200, new JsonObject().put("count", matching.size()).put("sessions", list)
          .put("nodes", nodes(gathered)));
    });
  }

  /** Which nodes were asked and which did not answer in time: a partial answer says so. */
  private static JsonObject nodes(ClusterFanOut.Gathered<?> gathered) {
    return new JsonObject().put("answered", new JsonArray(List.copyOf(gathered.answers().keySet())))
        .put("missing", new JsonArray(gathered.missing()));
  }

  private void cutSession(RoutingContext ctx) {
    String taskId = ctx.pathParam("taskId");
    cluster.<NodeCut>ask(Addresses.NODE_CUT, new SessionCut(taskId)).onComplete(done -> {
      ClusterFanOut.Gathered<NodeCut> gathered = done.result();
      int cut = gathered.answers().values().stream().mapToInt(NodeCut::cut).sum();
      JsonObject byNode = new JsonObject();
      gathered.answers().values().stream().filter(n -> n.cut() > 0).forEach(n -> byNode.put(n.node(), n.cut()));
      if (cut == 0) {
        json(ctx, 404, new JsonObject().put("error", "no running session of task " + taskId)
            .put("nodes", nodes(gathered)));
      } else {
        LOG.info("admin: {} session(s) of task {} cut at {}'s request, on nodes {}", cut, taskId,
            ctx.request().remoteAddress(), byNode.fieldNames());
        json(ctx, 200, new JsonObject().put("task_id", taskId).put("cut", cut).put("by_node", byNode)
            .put("nodes", nodes(gathered)));
      }
    });
  }

  /**
   * Every node's state and configuration version; {@code config_drift} is true when the nodes
   * that answered do not all run the same configuration.
   */
  private void showCluster(RoutingContext ctx) {
    cluster.<NodeStatus>ask(Addresses.NODE_STATUS, new JsonObject()).onComplete(done -> {
      ClusterFanOut.Gathered<NodeStatus> gathered = done.result();
      JsonArray list = new JsonArray();
      gathered.answers().values().forEach(s -> list.add(s.toJson().put("self", s.node().equals(membership.nodeId()))));
      boolean drift = gathered.answers().values().stream().map(NodeStatus::configDigest).distinct().count() > 1;
      json(ctx, 200, new JsonObject().put("node", membership.nodeId()).put("clustered", membership.clustered())
          .put("members", list.size() + gathered.missing().size()).put("config_drift", drift)
          .put("nodes", list).put("missing", new JsonArray(gathered.missing())));
    });
  }

  private void showConfig(RoutingContext ctx) {
    json(ctx, 200, new JsonObject()
        .put("version", node.configVersion())
        .put("last_error", node.configError())
        .put("restart_pending", new JsonArray(node.restartPending()))
        .put("plugins", node.plugins())
        .put("config", redact(node.configSource())));
  }

  /** A copy with the value of every secret key replaced, in objects at any depth, lists included. */
  static JsonObject redact(JsonObject source) {
    JsonObject copy = new JsonObject();
    for (Map.Entry<String, Object> entry : source) {
      Object value = entry.getValue();
      if (SECRET.matcher(entry.getKey()).matches() && value != null && !String.valueOf(value).isEmpty()) {
        copy.put(entry.getKey(), REDACTED);
      } else {
        copy.put(entry.getKey(), redactValue(value));
      }
    }
    return copy;
  }

  private static Object redactValue(Object value) {
    if (value instanceof JsonObject object) {
      return redact(object);
    }
    if (value instanceof JsonArray array) {
      JsonArray copy = new JsonArray();
      array.forEach(item -> copy.add(redactValue(item)));
      return copy;
    }
    return value;
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .end(body.encodePrettily());
  }

  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture() : server.close();
  }
}
