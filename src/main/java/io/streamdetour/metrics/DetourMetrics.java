package io.streamdetour.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.streamdetour.codec.Action;
import io.streamdetour.codec.HeaderException;
import io.streamdetour.relay.Direction;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The server's own meters, named {@code stream_detour_*} in Prometheus, in the same registry as
 * Vert.x's ({@code vertx_*}, from vertx-micrometer-metrics). Hot-path meters are looked up once.
 */
public final class DetourMetrics {

  /** The protocols g3proxy detours; their counters exist from the start, at zero. */
  private static final List<String> PROTOCOLS = List.of("http_2", "websocket", "smtp", "imap");
  /**
   * The protocol label of any other value a peer sends: one series per string a peer makes up
   * would grow the registry without bound.
   */
  static final String OTHER_PROTOCOL = "other";

  private final MeterRegistry registry;
  private final Counter bytesNorth;
  private final Counter bytesSouth;
  private final Counter pairingTimeouts;
  private final Timer decisionLatency;
  private final Counter pairingLocal;
  private final Counter pairingRemote;
  private final Timer pairingRoundTrip;
  /**
   * Counters of the per-session meters by their tags: a Micrometer builder and registry lookup
   * per session showed in the setup profile. Bounded: the protocol label is one of five values,
   * the end reasons are the server's own.
   */
  private final Map<String, Counter> sessionCounters = new ConcurrentHashMap<>();
  private final Map<String, Counter> endedCounters = new ConcurrentHashMap<>();

  public DetourMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.bytesNorth = bytes(Direction.NORTH);
    this.bytesSouth = bytes(Direction.SOUTH);
    this.pairingTimeouts = Counter.builder("stream.detour.pairing.timeouts")
        .description("Continued sessions whose other stream did not come within pairing.timeout")
        .register(registry);
    this.decisionLatency = Timer.builder("stream.detour.decision.duration")
        .description("Time from a decoded north header to its decision, fallbacks included")
        .serviceLevelObjectives(millis(0.1), millis(0.25), millis(0.5), millis(1), millis(2.5), millis(5),
            millis(10), millis(25), millis(50), millis(100), millis(250), millis(500), millis(1000), millis(2500))
        .register(registry);
    for (String protocol : PROTOCOLS) {
      for (Action action : Action.values()) {
        sessions(protocol, action);
      }
    }
    for (HeaderException.Kind kind : HeaderException.Kind.values()) {
      headerErrors(kind);
    }
    fallbacks("timeout");
    fallbacks("error");
    this.pairingLocal = pairingRequests("local");
    this.pairingRemote = pairingRequests("remote");
    this.pairingRoundTrip = Timer.builder("stream.detour.pairing.remote.duration")
        .description("A south half's pairing request to another node's instance, its north already waiting there:"
            + " the cluster round trip of pairing")
        .serviceLevelObjectives(millis(0.25), millis(0.5), millis(1), millis(2.5), millis(5), millis(10), millis(25),
            millis(50), millis(100), millis(250), millis(1000))
        .register(registry);
    limitRejections("per-user");
    limitRejections("per-upstream");
  }

  /** A Prometheus registry for one node. */
  public static PrometheusMeterRegistry newRegistry() {
    return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  }

  /**
   * A Vert.x builder whose own metrics (event bus, HTTP, pools) go to {@code registry}. Each
   * node gets its own registry name, so nodes sharing a JVM (tests) keep their meters apart.
   */
  public static VertxBuilder vertxBuilder(VertxOptions options, PrometheusMeterRegistry registry) {
    // JVM meters too (heap, GC, threads, process CPU): what a load test reads next to ours.
    options.setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true).setJvmMetricsEnabled(true)
        .setRegistryName("stream-detour-" + UUID.randomUUID()));
    return Vertx.builder().with(options).withMetrics(new MicrometerMetricsFactory(registry));
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** Gauges read on scrape: whatever they read must be cheap and thread-safe. */
  public void gauges(Supplier<Number> activeSessions, Supplier<Number> connections, Supplier<Number> configVersion,
      Supplier<Number> configValid, Supplier<Number> captureBytes, Supplier<Number> captureErrors,
      Supplier<Number> udpSendErrors, Supplier<Number> handshakesDropped) {
    gauge("stream.detour.sessions.active", "Continued sessions relaying now", activeSessions);
    gauge("stream.detour.connections", "QUIC connections open", connections);
    gauge("stream.detour.config.version", "Version of the configuration in force (1 at start)", configVersion);
    gauge("stream.detour.config.valid", "0 while the configuration file holds a change that was refused or cannot be read, else 1", configValid);
    gauge("stream.detour.capture.bytes", "Bytes of captured content counted against capture.max-total-bytes",
        captureBytes);
    // A function counter holds its object weakly (a gauge's supplier is held strongly): a
    // supplier of its own would be collected and the counter would stay at its last value.
    // The registry lives as long as anything scrapes it.
    FunctionCounter.builder("stream.detour.capture.errors", registry, r -> captureErrors.get().doubleValue())
        .description("Sessions whose capture stopped on a write error (disk full, read-only, ...)")
        .register(registry);
    FunctionCounter.builder("stream.detour.udp.send.errors", registry, r -> udpSendErrors.get().doubleValue())
        .description("UDP sends that failed (Kwik edge), each taken as a lost datagram that QUIC sends again")
        .register(registry);
    FunctionCounter.builder("stream.detour.quic.handshakes.dropped", registry, r -> handshakesDropped.get().doubleValue())
        .description("Datagrams that would start a QUIC connection, dropped over quic.max-handshake-rate")
        .register(registry);
  }

  private void gauge(String name, String description, Supplier<Number> value) {
    Gauge.builder(name, value).description(description).register(registry);
  }

  public void decided(String protocol, Action action, Duration latency) {
    String label = PROTOCOLS.contains(protocol) ? protocol : OTHER_PROTOCOL;
    sessionCounters.computeIfAbsent(label + "/" + action.name(), k -> sessions(label, action)).increment();
    decisionLatency.record(latency);
  }

  /** The policy failed ({@code error}) or did not answer in time ({@code timeout}). */
  public void fallback(String reason) {
    fallbacks(reason).increment();
  }

  public void received(Direction direction, int bytes) {
    (direction == Direction.NORTH ? bytesNorth : bytesSouth).increment(bytes);
  }

  public void headerError(HeaderException.Kind kind) {
    headerErrors(kind).increment();
  }

  public void pairingTimeout() {
    pairingTimeouts.increment();
  }

  public void sessionEnded(String end) {
    endedCounters.computeIfAbsent(end, e -> Counter.builder("stream.detour.sessions.ended")
        .description("Sessions ended, by how they ended").tag("end", e).register(registry)).increment();
  }

  /** A half of a session sent to this node's pairing instance ({@code local}) or another node's. */
  public void pairingRequest(boolean local) {
    (local ? pairingLocal : pairingRemote).increment();
  }

  public void pairingRemoteRoundTrip(Duration duration) {
    pairingRoundTrip.record(duration);
  }

  /** A session that a cap of {@code limits} ({@code per-user}, {@code per-upstream}) refused. */
  public void limitRejected(String limit) {
    limitRejections(limit).increment();
  }

  /** Members of the cluster this node sees (1 when not clustered), halves waiting in its pairing instance. */
  public void clusterGauges(Supplier<Number> members, Supplier<Number> pairingWaiting) {
    gauge("stream.detour.cluster.members", "Members of the cluster this node sees (1 when not clustered)", members);
    gauge("stream.detour.pairing.waiting", "Session halves waiting for their partner in this node's pairing instance",
        pairingWaiting);
  }

  private Counter pairingRequests(String instance) {
    return Counter.builder("stream.detour.pairing.requests")
        .description("Session halves sent to a pairing instance, on this node (local) or another (remote)")
        .tag("instance", instance).register(registry);
  }

  private Counter limitRejections(String limit) {
    return Counter.builder("stream.detour.limit.rejections")
        .description("Sessions refused by a cluster-wide cap of limits (per-user, per-upstream)")
        .tag("limit", limit).register(registry);
  }

  private Counter sessions(String protocol, Action action) {
    return Counter.builder("stream.detour.sessions").description("North streams decided, by protocol and action")
        .tag("protocol", protocol).tag("action", action.name().toLowerCase(Locale.ROOT)).register(registry);
  }

  private Counter headerErrors(HeaderException.Kind kind) {
    return Counter.builder("stream.detour.header.errors").description("Streams reset for a bad or late header")
        .tag("kind", kind.name().toLowerCase(Locale.ROOT)).register(registry);
  }

  private Counter fallbacks(String reason) {
    return Counter.builder("stream.detour.decision.fallbacks")
        .description("Decisions made by decision.fallback because the policy failed or was late")
        .tag("reason", reason).register(registry);
  }

  private Counter bytes(Direction direction) {
    return Counter.builder("stream.detour.relay.bytes").baseUnit("bytes")
        .description("Bytes received from g3proxy on relayed sessions: north client to remote, south remote to client")
        .tag("direction", direction.name().toLowerCase(Locale.ROOT)).register(registry);
  }

  private static Duration millis(double ms) {
    return Duration.ofNanos((long) (ms * 1_000_000));
  }
}
