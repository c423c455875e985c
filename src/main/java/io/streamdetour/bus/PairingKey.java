package io.streamdetour.bus;

import io.vertx.core.json.JsonObject;

/**
 * What joins a south stream to its north: g3proxy's match ids are unique only within one QUIC
 * connection (and wrap past 65 535), so the key is (connection, match id).
 */
public record PairingKey(String connectionId, int matchId) {

  public JsonObject toJson() {
    return new JsonObject().put("connection", connectionId).put("matchId", matchId);
  }

  public static PairingKey fromJson(JsonObject json) {
    return new PairingKey(json.getString("connection"), json.getInteger("matchId"));
  }

  @Override
  public String toString() {
    return connectionId + "#" + matchId;
  }
}
