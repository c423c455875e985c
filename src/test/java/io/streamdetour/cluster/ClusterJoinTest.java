package io.streamdetour.cluster;

import io.streamdetour.StreamDetourServer;
import io.streamdetour.TestCluster;
import io.streamdetour.TestConfigs;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.metrics.DetourMetrics;
import io.streamdetour.relay.InspectorRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A node that cannot join its cluster says why and does not start. */
class ClusterJoinTest {

  private static ServerConfig config(Path dir, JsonObject cluster) throws Exception {
    Vertx loader = Vertx.vertx();
    try {
      return TestConfigs.forTest(loader, dir, new JsonObject().put("cluster", cluster));
    } finally {
      loader.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aTakenMemberPortFailsTheJoinNamingIt(@TempDir Path dir) throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      int port = taken.getLocalPort();
      ServerConfig config = config(dir, TestCluster.clusterSection(port, port));
      assertThatThrownBy(() -> ClusterJoin.start(config.cluster(), DetourMetrics.newRegistry())
          .await(60, TimeUnit.SECONDS))
          .isInstanceOf(ClusterJoin.ClusterJoinException.class)
          .hasMessageContaining("cannot join the cluster as 127.0.0.1:" + port)
          .hasMessageContaining(String.valueOf(port));
    }
  }

  @Test
  void noReachableMemberWithinTheJoinTimeoutFailsClearly(@TempDir Path dir) throws Exception {
    // A short TCP-IP connection timeout, so the node gives up on the closed port quickly.
    Path hazelcast = dir.resolve("hazelcast.yaml");
    try (InputStream embedded = getClass().getClassLoader().getResourceAsStream(ClusterJoin.DEFAULT_HAZELCAST_CONFIG)) {
      Files.writeString(hazelcast, new String(embedded.readAllBytes(), StandardCharsets.UTF_8)
          .replace("connection-timeout-seconds: 5", "connection-timeout-seconds: 1"));
    }
    int own = TestCluster.freeTcpPort();
    int closed = TestCluster.freeTcpPort();
    ServerConfig config = config(dir, TestCluster.clusterSection(own, closed)
        .put("hazelcast-config", hazelcast.toString()).put("min-size", 2).put("join-timeout", "1s"));
    assertThatThrownBy(() -> ClusterJoin.start(config.cluster(), DetourMetrics.newRegistry())
        .await(60, TimeUnit.SECONDS))
        .isInstanceOf(ClusterJoin.ClusterJoinException.class)
        .hasMessageContaining("joined no cluster of cluster.min-size 2")
        .hasMessageContaining("127.0.0.1:" + closed);
    // It left again: its port is free.
    try (ServerSocket again = new ServerSocket(own, 1, InetAddress.getLoopbackAddress())) {
      assertThat(again.getLocalPort()).isEqualTo(own);
    }
  }

  @Test
  void aClusteredConfigurationNeedsAClusteredVertx(@TempDir Path dir) throws Exception {
    ServerConfig config = config(dir, new JsonObject().put("enabled", true));
    Vertx vertx = Vertx.vertx();
    try {
      assertThatThrownBy(() -> StreamDetourServer.start(vertx, config, new InspectorRegistry()).await(30, TimeUnit.SECONDS))
          .hasMessageContaining("cluster.enabled is true but this Vert.x is not clustered");
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aSingleNodeMustRunItsOwnPairing(@TempDir Path dir) throws Exception {
    Vertx loader = Vertx.vertx();
    try {
      assertThatThrownBy(() -> TestConfigs.forTest(loader, dir,
          new JsonObject().put("pairing", new JsonObject().put("local", false))))
          .hasMessageContaining("pairing.local: false needs cluster.enabled");
    } finally {
      loader.close().await(10, TimeUnit.SECONDS);
    }
  }
}
