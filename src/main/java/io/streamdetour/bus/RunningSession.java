package io.streamdetour.bus;

import io.vertx.core.json.JsonObject;

import java.time.Instant;

/** A continued session still relaying, as the admin API lists it; {@code node} runs it. */
public record RunningSession(
    String node,
    String taskId,
    String user,
    String upstream,
    String protocol,
    String rule,
    int configVersion,
    String client,
    String connection,
    int matchId,
    boolean paired,
    long bytesNorth,
    long bytesSouth,
    Instant started) {

  public JsonObject toJson() {
    return new JsonObject()
        .put("node", node)
        .put("task_id", taskId)
        .put("user", user)
        .put("upstream", upstream)
        .put("protocol", protocol)
        .put("rule", rule)
        .put("config_version", configVersion)
        .put("client", client)
        .put("connection", connection)
        .put("match_id", matchId)
        .put("paired", paired)
        .put("bytes_north", bytesNorth)
        .put("bytes_south", bytesSouth)
        .put("started", started.toString());
  }

  public static RunningSession fromJson(JsonObject json) {
    return new RunningSession(json.getString("node"), json.getString("task_id"), json.getString("user"),
        json.getString("upstream"), json.getString("protocol"), json.getString("rule"),
        json.getInteger("config_version"), json.getString("client"), json.getString("connection"),
        json.getInteger("match_id"), json.getBoolean("paired"), json.getLong("bytes_north"),
        json.getLong("bytes_south"), Instant.parse(json.getString("started")));
  }
}
