package io.streamdetour;

import io.streamdetour.config.ConfigLoader;
import io.streamdetour.config.ServerConfig;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Configurations for tests: the embedded defaults with some keys changed. */
public final class TestConfigs {

  private TestConfigs() {}

  /** The effective default tree, as the server would load it with no file and no overrides. */
  public static JsonObject defaultsJson(Vertx vertx) throws Exception {
    var retriever = ConfigLoader.retriever(vertx, null, 0);
    try {
      return retriever.getConfig().await(10, TimeUnit.SECONDS);
    } finally {
      retriever.close();
    }
  }

  /**
   * Defaults on ephemeral loopback ports (QUIC and admin), certificates, session log and capture
   * in {@code dir}, then {@code overrides}.
   */
  public static ServerConfig forTest(Vertx vertx, Path dir, JsonObject overrides) throws Exception {
    JsonObject json = defaultsJson(vertx);
    json.getJsonObject("quic").put("port", 0);
    json.getJsonObject("tls").put("generated-dir", dir.toString());
    json.getJsonObject("admin").put("port", 0);
    json.getJsonObject("audit").put("file", dir.resolve("sessions.log").toString());
    json.getJsonObject("capture").put("dir", dir.resolve("capture").toString());
    json.mergeIn(overrides, true);
    return ServerConfig.from(json);
  }
}
