package io.streamdetour.cluster;

import io.streamdetour.ServerCommand;
import io.streamdetour.admin.PrometheusText;
import io.streamdetour.testclient.QuinnClient;
import io.streamdetour.testclient.QuinnResult;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The lab of {@code cluster/vip-lab.sh} driven from a test: three nodes in network namespaces
 * behind one VIP (nftables DNAT by jhash of the 4-tuple), each node its own JVM started from
 * the test classpath. Its namespaces carry this JVM's pid, so runs in parallel never share one;
 * {@link #close()} removes them with every process in them.
 */
final class VipLab implements AutoCloseable {

  static final int NODES = 3;
  private static final Path SCRIPT = Path.of("cluster", "vip-lab.sh").toAbsolutePath();
  private static final Duration COMMAND_WAIT = Duration.ofSeconds(60);
  /** Three fresh JVMs forming a Hazelcast cluster on two busy cores. */
  private static final Duration START_WAIT = Duration.ofSeconds(150);

  private final Map<String, String> env = new LinkedHashMap<>();
  private final String prefix;
  private final Path state;
  private final List<String> clientArgs;

  private VipLab(String prefix, Map<String, String> nodeEnv) {
    this.prefix = prefix;
    this.state = Path.of("target", "vip-lab", prefix).toAbsolutePath();
    env.put("SDLAB_PREFIX", prefix);
    env.put("SDLAB_STATE", state.toString());
    // As bin/stream-detour starts a node, from the test classpath; the script adds --cluster.
    env.put("SDLAB_NODE_CMD", String.join(" ", ServerCommand.of(List.of())));
    env.put("SDLAB_READY_TIMEOUT", String.valueOf(START_WAIT.toSeconds() - 10));
    env.put("SDLAB_STOP_WAIT", "5");
    env.putAll(nodeEnv);
    Map<String, String> lab = new LinkedHashMap<>();
    for (String line : run(COMMAND_WAIT, "env").split("\n")) {
      int equals = line.indexOf('=');
      if (equals > 0) {
        lab.put(line.substring(0, equals), line.substring(equals + 1));
      }
    }
    clientArgs = List.of("--server", lab.get("SDLAB_VIP"), "--ca-cert", lab.get("SDLAB_CA"),
        "--server-name", lab.get("SDLAB_TLS_NAME"));
  }

  /**
   * Why the lab cannot run here, or null when it can: it needs root, iproute2's
   * {@code ip netns}, nftables, openssl and the quinn client.
   */
  static String unavailableReason() {
    if (!isRoot()) {
      return "the VIP lab needs root (network namespaces, nftables); CI runs as root";
    }
    for (String[] tool : new String[][] {{"ip", "netns", "list"}, {"nft", "--version"}, {"openssl", "version"}}) {
      if (!succeeds(tool)) {
        return "the VIP lab needs `" + String.join(" ", tool) + "` (Debian: iproute2, nftables, openssl;"
            + " .ci/run installs them)";
      }
    }
    String probe = "sdprobe" + ProcessHandle.current().pid();
    if (!succeeds("ip", "netns", "add", probe)) {
      return "cannot create a network namespace here (no CAP_SYS_ADMIN?)";
    }
    succeeds("ip", "netns", "del", probe);
    return QuinnClient.binary().isPresent() ? null
        : "the quinn client is not built; set -Dinterop.client=PATH (bin/test and .ci/run do)";
  }

  /**
   * Creates the namespaces and the balancer; {@code nodeEnv} reaches every node
   * ({@code STREAM_DETOUR_*}) or one ({@code SDLAB_NODE_ENV_<n>}).
   */
  static VipLab up(Map<String, String> nodeEnv) {
    return up("sdvt", nodeEnv);
  }

  /** As {@link #up(Map)}, its namespaces and state (node logs) named after {@code name}. */
  static VipLab up(String name, Map<String, String> nodeEnv) {
    VipLab lab = new VipLab(name + ProcessHandle.current().pid(), nodeEnv);
    try {
      lab.run(COMMAND_WAIT, "up");
      return lab;
    } catch (RuntimeException | Error e) {
      lab.close();
      throw e;
    }
  }

  /** Starts every node and waits until each is ready and sees all three members. */
  void startNodes() {
    run(START_WAIT, "start-nodes");
  }

  void kill(int node) {
    run(COMMAND_WAIT, "kill-node", String.valueOf(node));
  }

  /** One round of the health check: the nodes whose readiness answers 200 are in the map. */
  void check() {
    run(COMMAND_WAIT, "check");
  }

  /** {@code 4tuple} or {@code cid}: how the balancer picks the node of a new flow. */
  void routing(String mode) {
    run(COMMAND_WAIT, "routing", mode);
  }

  /** Short-header packets whose connection id names node {@code id}, each a new flow to the VIP. */
  void probeConnectionId(int id, int count) {
    run(COMMAND_WAIT, "probe-cid", String.valueOf(id), String.valueOf(count));
  }

  /** NAT rebinding at the client: its flows to the VIP leave from new source ports from now on. */
  void rebind() {
    run(COMMAND_WAIT, "rebind");
  }

  /** The router drops {@code permille} of the QUIC datagrams it forwards each way, at random. */
  void loss(int permille) {
    run(COMMAND_WAIT, "loss", String.valueOf(permille));
  }

  /** Each node's own firewall drops {@code permille} of the QUIC datagrams it sends (EPERM to the sender). */
  void sendErrors(int permille) {
    run(COMMAND_WAIT, "send-errors", String.valueOf(permille));
  }

  /** The nodes in the balancer's map, as nftables has it. */
  List<Integer> mapped() {
    return Arrays.stream(run(COMMAND_WAIT, "mapped").trim().split("\\s+")).filter(s -> !s.isEmpty())
        .map(Integer::valueOf).toList();
  }

  /** New flows (QUIC connections) the balancer sent to each node so far. */
  Map<Integer, Long> flows() {
    Map<Integer, Long> flows = new LinkedHashMap<>();
    for (String line : run(COMMAND_WAIT, "flows").split("\n")) {
      String[] parts = line.trim().split("\\s+");
      flows.put(Integer.valueOf(parts[0].substring("node".length())), Long.valueOf(parts[1]));
    }
    return flows;
  }

  /** A GET on node {@code node}'s admin API (bound inside its namespace), from the router's. */
  JsonObject admin(int node, String path) {
    return new JsonObject(run(COMMAND_WAIT, "admin", String.valueOf(node), path));
  }

  PrometheusText metrics(int node) {
    return PrometheusText.parse(run(COMMAND_WAIT, "admin", String.valueOf(node), "/metrics"));
  }

  /** An untagged meter's value summed over every node. */
  double metricOnAllNodes(String name) {
    double sum = 0;
    for (int n = 1; n <= NODES; n++) {
      sum += metrics(n).value(name);
    }
    return sum;
  }

  /** Node {@code node}'s session log, one JSON object per ended session. */
  List<JsonObject> sessionLog(int node) throws IOException {
    Path log = state.resolve("node" + node).resolve("sessions.log");
    if (!Files.exists(log)) {
      return List.of();
    }
    return Files.readAllLines(log).stream().filter(l -> !l.isBlank()).map(JsonObject::new).toList();
  }

  /** The quinn client in the client namespace, at the VIP, verifying the nodes' shared certificate. */
  QuinnResult client(Duration timeout, String... args) {
    List<String> all = new ArrayList<>(clientArgs);
    all.addAll(Arrays.asList(args));
    return QuinnClient.runVia(List.of("ip", "netns", "exec", prefix + "-client"), all, timeout);
  }

  /** Stops every process in the lab's namespaces and deletes them; never throws. */
  @Override
  public void close() {
    try {
      run(COMMAND_WAIT, "down");
    } catch (RuntimeException | Error e) {
      System.err.println("vip lab " + prefix + ": down failed: " + e.getMessage());
    }
  }

  private String run(Duration timeout, String... args) {
    List<String> command = new ArrayList<>(List.of("bash", SCRIPT.toString()));
    command.addAll(Arrays.asList(args));
    try {
      Path out = Files.createTempFile("vip-lab", ".out");
      Path err = Files.createTempFile("vip-lab", ".err");
      try {
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        builder.environment().putAll(env);
        Process process = builder.start();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
          throw new AssertionError("vip-lab.sh " + String.join(" ", args) + ": no end within " + timeout
              + "\n" + Files.readString(err));
        }
        if (process.exitValue() != 0) {
          throw new AssertionError("vip-lab.sh " + String.join(" ", args) + ": exit " + process.exitValue()
              + "\n" + Files.readString(err) + Files.readString(out));
        }
        return Files.readString(out, StandardCharsets.UTF_8);
      } finally {
        Files.deleteIfExists(out);
        Files.deleteIfExists(err);
      }
    } catch (IOException e) {
      throw new AssertionError("vip-lab.sh " + String.join(" ", args) + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  private static boolean isRoot() {
    try {
      return Files.readAllLines(Path.of("/proc/self/status")).stream()
          .filter(l -> l.startsWith("Uid:")).findFirst()
          .map(l -> l.split("\\s+")[1].equals("0")).orElse(false);
    } catch (IOException e) {
      return false; // not Linux
    }
  }

  static boolean succeeds(String... command) {
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      return process.waitFor(10, TimeUnit.SECONDS) && process.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
