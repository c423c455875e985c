package io.streamdetour;

import io.streamdetour.cluster.ClusterJoin;
import io.streamdetour.config.ConfigException;
import io.streamdetour.config.ConfigLoader;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.relay.InspectorRegistry;
import io.streamdetour.tls.TlsIdentity;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.streamdetour.metrics.DetourMetrics;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Command line: {@code stream-detour [--conf FILE] [--cluster]}. Without {@code --conf} the
 * embedded defaults apply, overlaid by {@code conf/stream-detour.yaml} if present, then by system
 * properties and environment variables; {@code --cluster} sets {@code cluster.enabled}. SIGTERM
 * and SIGINT stop it gracefully. Exit codes: 2 invalid configuration, 3 could not join the
 * cluster, 1 any other failure to start.
 */
public final class StreamDetourMain {

  private static final Logger LOG = LoggerFactory.getLogger(StreamDetourMain.class);

  private static final int CONFIG_LOAD_SECONDS = 30;
  private static final String USAGE = "usage: stream-detour [--conf FILE] [--cluster]";

  private StreamDetourMain() {}

  public static void main(String[] args) throws Exception {
    Path confFile = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--conf" -> {
          if (i + 1 >= args.length) {
            usage("--conf needs a file");
          }
          confFile = Path.of(args[++i]);
        }
        case "--cluster" -> System.setProperty("stream-detour.cluster.enabled", "true");
        case "-h", "--help" -> {
          System.out.println(USAGE);
          return;
        }
        default -> usage("unknown argument " + args[i]);
      }
    }
    if (Runtime.version().feature() < 24) {
      LOG.warn("running on Java {}: before JDK 24 a virtual thread blocked in Kwik's stream reads pins its"
          + " carrier thread, and a few hundred idle sessions can stall the server; use JDK 24 or newer",
          Runtime.version().feature());
    }
    ServerConfig config;
    // The configuration says whether the node's Vert.x is clustered, so it is read first, apart.
    Vertx loader = Vertx.vertx();
    try {
      config = ConfigLoader.load(loader, confFile).await(CONFIG_LOAD_SECONDS, TimeUnit.SECONDS);
    } catch (ConfigException e) {
      e.problems().forEach(p -> LOG.error("config: {}", p));
      System.err.println("stream-detour: invalid configuration, not started (" + e.problems().size() + " problems above)");
      System.exit(2);
      return;
    } catch (TimeoutException e) {
      // Only a starved machine gets here: reading a local file and the environment takes milliseconds.
      LOG.error("config: not read within {} s (is the machine overloaded?)", CONFIG_LOAD_SECONDS);
      System.exit(2);
      return;
    } catch (Exception e) {
      LOG.error("config: cannot be read: {}", e.toString());
      System.exit(2);
      return;
    } finally {
      loader.close();
    }
    PrometheusMeterRegistry registry = DetourMetrics.newRegistry();
    Vertx vertx;
    if (config.cluster().enabled()) {
      try {
        vertx = ClusterJoin.start(config.cluster(), registry)
            .await(config.cluster().joinTimeout().toMillis() + 60_000, TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        LOG.error("cluster: {}", e.getMessage());
        System.err.println("stream-detour: could not join the cluster, not started: " + e.getMessage());
        System.exit(3);
        return;
      }
    } else {
      vertx = DetourMetrics.vertxBuilder(new VertxOptions(), registry).build();
    }
    StreamDetourServer server;
    try {
      server = StreamDetourServer.start(vertx, config, new InspectorRegistry(), registry).await(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.error("stream-detour could not start: {}", e.getMessage(), e);
      vertx.close();
      System.exit(1);
      return;
    }
    server.watch(confFile);
    System.out.println(status(server, confFile));
    System.out.println(g3proxySnippet(server.quicAddress(), server.tlsIdentity()));
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      LOG.info("stopping: no new sessions; {} running get up to {} ms", server.activeSessions(),
          config.shutdown().grace().toMillis());
      try {
        server.shutdown().await(config.shutdown().grace().toMillis() + 10_000, TimeUnit.MILLISECONDS);
        vertx.close().await(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        LOG.warn("shutdown did not finish cleanly: {}", e.toString());
      }
      LOG.info("stopped");
    }, "shutdown"));
  }

  /** What is listening where, on which configuration: printed once at start. */
  static String status(StreamDetourServer server, Path confFile) {
    ServerConfig config = server.config();
    InetSocketAddress admin = server.adminAddress();
    String file = confFile != null ? confFile.toString()
        : java.nio.file.Files.exists(ConfigLoader.DEFAULT_FILE) ? ConfigLoader.DEFAULT_FILE.toString() : "embedded defaults";
    List<String> quic = new ArrayList<>();
    List<ServerConfig.Quic> listeners = config.quic().all();
    for (int i = 0; i < listeners.size(); i++) {
      ServerConfig.Quic l = listeners.get(i);
      quic.add((l.edge() == ServerConfig.Edge.NETTY ? "  QUIC (Netty edge)      udp " : "  QUIC (g3proxy detour)  udp ")
          + hostPort(server.quicAddresses().get(i)) + (l.edge() == ServerConfig.Edge.NETTY
              ? ", ALPN " + l.alpn() + " only, " + l.sockets() + " socket(s)"
              : l.alpn().isEmpty() ? ", no ALPN" : ", no ALPN or " + l.alpn()));
    }
    return String.join("\n",
        "stream-detour is running",
        String.join("\n", quic),
        "  admin API              " + (admin == null ? "off" : "http://" + hostPort(admin)
            + "/  (/health/ready, /metrics, /sessions, /config, /cluster)" + (config.admin().token().isEmpty() ? "" : ", bearer token")),
        "  cluster                " + (config.cluster().enabled() ? "node " + server.nodeId() + ", "
            + server.clusterMembers() + " member(s), pairing " + (config.pairing().local() ? "here" : "elsewhere")
            : "off (single node)"),
        "  configuration          " + file + ", version " + server.configStatus().version()
            + (config.reload().scanPeriod().isZero() ? ", not watched" : ", watched every " + config.reload().scanPeriod().toMillis() + " ms"),
        "  session log            " + (config.audit().file().isEmpty() ? "logger stream-detour.sessions" : config.audit().file()),
        "  policy                 " + config.policy().rules().size() + " rules, default " + config.policy().defaultAction().name().toLowerCase());
  }

  private static String hostPort(InetSocketAddress address) {
    String host = address.getAddress() != null ? address.getAddress().getHostAddress() : address.getHostString();
    return host.contains(":") ? "[" + host + "]:" + address.getPort() : host + ":" + address.getPort();
  }

  /** The lines an operator pastes into g3proxy's auditor config to use this server. */
  static String g3proxySnippet(InetSocketAddress address, TlsIdentity identity) {
    String host = address.getAddress().isAnyLocalAddress() ? "127.0.0.1" : address.getAddress().getHostAddress();
    String peer = host.contains(":") ? "[" + host + "]:" + address.getPort() : host + ":" + address.getPort();
    // g3proxy checks tls_name, else the peer IP: a DNS SAN keeps both quinn and rustls happy.
    String tlsName = identity.subjectAltNames().stream().filter(n -> !n.contains(":") && !n.matches("[0-9.]+"))
        .findFirst().orElse(host);
    String ca = identity.generatedCertificate() != null
        ? identity.generatedCertificate().toString() : "/path/to/the/ca/of/your/certificate.pem";
    return String.join("\n",
        "# g3proxy auditor config for this server (paste under your auditor):",
        "stream_detour_service:",
        "  peer: " + peer,
        "  tls_client:",
        "    ca_certificate: " + ca,
        "  tls_name: " + tlsName);
  }

  private static void usage(String problem) {
    System.err.println("stream-detour: " + problem + "\n" + USAGE);
    System.exit(64);
  }
}
