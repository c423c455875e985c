package io.streamdetour.admin;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.streamdetour.bus.RunningSession;
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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The admin HTTP API (vertx-web): health (vertx-health-check), Prometheus metrics
 * (vertx-micrometer-metrics), running sessions, the effective configuration. Everything here
 * answers from memory, on the event loop.
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
  private HttpServer server;

  public AdminVerticle(String host, int port, NodeState node, PrometheusMeterRegistry registry) {
    this.host = host;
    this.port = port;
    this.node = node;
    this.registry = registry;
  }

  @Override
  public Future<?> start() {
    Router router = Router.router(vertx);
    router.route().handler(this::authorize);
    router.get("/health/live").handler(HealthCheckHandler.create(vertx)
        .register("event-loop", promise -> promise.complete(Status.OK())));
    router.get("/health/ready").handler(HealthCheckHandler.create(vertx)
        .register("quic-edge", promise -> {
          String address = node.edgeAddress();
          JsonObject data = new JsonObject().put("address", address).put("accepting", node.accepting());
          promise.complete(address != null && node.accepting() ? Status.OK(data) : Status.KO(data));
        })
        .register("config", promise -> {
          String error = node.configError();
          JsonObject data = new JsonObject().put("version", node.configVersion()).put("last_error", error);
          promise.complete(error == null ? Status.OK(data) : Status.KO(data));
        }));
    router.get("/metrics").handler(PrometheusScrapingHandler.create(registry));
    router.get("/sessions").handler(this::listSessions);
    router.delete("/sessions/:taskId").handler(this::cutSession);
    router.get("/config").handler(this::showConfig);
    return vertx.createHttpServer().requestHandler(router).listen(port, host).map(s -> {
      server = s;
      LOG.info("admin API on http://{}:{}/ (health, metrics, sessions, config){}", host, s.actualPort(),
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

  /** {@code ?user=&upstream=&protocol=&task_id=}: each given filter must match. */
  private void listSessions(RoutingContext ctx) {
    String user = ctx.queryParams().get("user");
    String upstream = ctx.queryParams().get("upstream");
    String protocol = ctx.queryParams().get("protocol");
    String taskId = ctx.queryParams().get("task_id");
    List<RunningSession> matching = node.sessions().stream()
        .filter(s -> user == null || user.equals(s.user()))
        .filter(s -> upstream == null || upstreamMatches(s.upstream(), upstream))
        .filter(s -> protocol == null || protocol.equalsIgnoreCase(s.protocol()))
        .filter(s -> taskId == null || taskId.equalsIgnoreCase(s.taskId()))
        .toList();
    JsonArray list = new JsonArray();
    matching.forEach(s -> list.add(s.toJson()));
    json(ctx, 200, new JsonObject().put("count", matching.size()).put("sessions", list));
  }

  /** {@code host:port} exactly, or the host alone (any port), case-insensitive. */
  private static boolean upstreamMatches(String upstream, String filter) {
    String u = upstream.toLowerCase(Locale.ROOT);
    String f = filter.toLowerCase(Locale.ROOT);
    return u.equals(f) || u.startsWith(f) && u.length() > f.length() && u.charAt(f.length()) == ':'
        && u.indexOf(':', f.length() + 1) < 0;
  }

  private void cutSession(RoutingContext ctx) {
    String taskId = ctx.pathParam("taskId");
    int cut = node.cut(taskId);
    if (cut == 0) {
      json(ctx, 404, new JsonObject().put("error", "no running session of task " + taskId));
    } else {
      LOG.info("admin: {} session(s) of task {} cut at {}'s request", cut, taskId, ctx.request().remoteAddress());
      json(ctx, 200, new JsonObject().put("task_id", taskId).put("cut", cut));
    }
  }

  private void showConfig(RoutingContext ctx) {
    json(ctx, 200, new JsonObject()
        .put("version", node.configVersion())
        .put("last_error", node.configError())
        .put("restart_pending", new JsonArray(node.restartPending()))
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
