package io.streamdetour;

import com.hazelcast.core.HazelcastInstance;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/**
 * Clustered nodes for one test class, in this JVM: each its own clustered Vert.x on Hazelcast,
 * bound to 127.0.0.1, joining by TCP-IP through the first node (multicast off, as in
 * cluster/hazelcast.yaml). Closing it stops every node still running.
 */
public final class TestCluster implements AutoCloseable {

  private final List<RunningServer> nodes = new ArrayList<>();
  private int firstPort;

  /** Starts one more node with {@code overrides}; it joins the nodes already running. */
  public RunningServer add(JsonObject overrides) throws Exception {
    int port = freeTcpPort();
    if (nodes.isEmpty()) {
      firstPort = port;
    }
    JsonObject config = overrides.copy();
    config.put("cluster", clusterSection(port, firstPort).mergeIn(config.getJsonObject("cluster", new JsonObject())));
    RunningServer node = RunningServer.startClustered(config);
    nodes.add(node);
    return node;
  }

  /** Overrides of a node that runs a pairing instance or not, taking the Java test client's ALPN. */
  public static JsonObject pairingNode(boolean local, String pairingTimeout) {
    return RunningServer.acceptingTestAlpn()
        .put("pairing", new JsonObject().put("local", local).put("timeout", pairingTimeout));
  }

  /** The {@code cluster} section of a node on {@code port} that joins through {@code seedPort}. */
  public static JsonObject clusterSection(int port, int seedPort) {
    JsonArray members = new JsonArray().add("127.0.0.1:" + seedPort);
    if (port != seedPort) {
      members.add("127.0.0.1:" + port);
    }
    return new JsonObject().put("enabled", true).put("host", "127.0.0.1").put("port", port)
        .put("members", members).put("join-timeout", "30s")
        // Admin views ask every node; on a loaded machine a node may take more than the default 2 s.
        .put("request-timeout", "10s");
  }

  public static int freeTcpPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /**
   * Ends {@code node}'s cluster membership the way a crash does: Hazelcast stops at once, without
   * leaving gracefully, and the others see the member go. Its server is closed afterwards.
   */
  public void crash(RunningServer node) throws Exception {
    hazelcast(node).getLifecycleService().terminate();
    nodes.remove(node);
    node.close();
  }

  public static HazelcastInstance hazelcast(RunningServer node) {
    return ((HazelcastClusterManager) ((VertxInternal) node.vertx).clusterManager()).getHazelcastInstance();
  }

  @Override
  public void close() throws Exception {
    Exception first = null;
    for (RunningServer node : nodes.reversed()) {
      try {
        node.close();
      } catch (Exception e) {
        first = first == null ? e : first;
      }
    }
    nodes.clear();
    if (first != null) {
      throw first;
    }
  }
}
