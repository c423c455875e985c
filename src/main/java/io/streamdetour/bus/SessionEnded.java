package io.streamdetour.bus;

import io.streamdetour.codec.NorthHeader;
import io.vertx.core.json.JsonObject;

/**
 * What the session log records once per session. Byte counts are what the server received
 * from g3proxy on each stream: north carries client to remote, south remote to client.
 */
public record SessionEnded(
    String taskId,
    String user,
    String upstream,
    String protocol,
    String action,
    String rule,
    int configVersion,
    String client,
    String connection,
    int matchId,
    long bytesNorth,
    long bytesSouth,
    long durationMillis,
    String end) {

  /** The record of a session on north header {@code header}, decided {@code decision} under config {@code configVersion}. */
  public static SessionEnded of(NorthHeader header, Decision decision, int configVersion, PairingKey key,
      long bytesNorth, long bytesSouth, long durationMillis, String end) {
    return new SessionEnded(header.taskId().toString(), header.username(), header.upstream().toString(),
        header.protocol(), decision.action().name().toLowerCase(), decision.rule(), configVersion,
        DecisionRequest.address(header.addresses().source()), key.connectionId(), key.matchId(),
        bytesNorth, bytesSouth, durationMillis, end);
  }

  public JsonObject toJson() {
    return new JsonObject()
        .put("task_id", taskId)
        .put("user", user)
        .put("upstream", upstream)
        .put("protocol", protocol)
        .put("action", action)
        .put("rule", rule)
        .put("config_version", configVersion)
        .put("client", client)
        .put("connection", connection)
        .put("match_id", matchId)
        .put("bytes_north", bytesNorth)
        .put("bytes_south", bytesSouth)
        .put("duration_ms", durationMillis)
        .put("end", end);
  }

  public static SessionEnded fromJson(JsonObject json) {
    return new SessionEnded(json.getString("task_id"), json.getString("user"), json.getString("upstream"),
        json.getString("protocol"), json.getString("action"), json.getString("rule"), json.getInteger("config_version"), json.getString("client"),
        json.getString("connection"), json.getInteger("match_id"), json.getLong("bytes_north"),
        json.getLong("bytes_south"), json.getLong("duration_ms"), json.getString("end"));
  }
}
