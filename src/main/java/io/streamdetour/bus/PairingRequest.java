package io.streamdetour.bus;

import io.vertx.core.json.JsonObject;

/**
 * One half of a session asking to be joined with the other.
 *
 * @param node the node whose QUIC connection the half came on: when that node leaves the
 *     cluster, its waiting halves are dropped
 */
public record PairingRequest(PairingKey key, Half half, String node) {

  public enum Half { NORTH, SOUTH }

  public JsonObject toJson() {
    return key.toJson().put("half", half.name()).put("node", node);
  }

  public static PairingRequest fromJson(JsonObject json) {
    return new PairingRequest(PairingKey.fromJson(json), Half.valueOf(json.getString("half")), json.getString("node"));
  }
}
