package io.streamdetour.bus;

import io.vertx.core.json.JsonObject;

/** One half of a session asking to be joined with the other. */
public record PairingRequest(PairingKey key, Half half) {

  public enum Half { NORTH, SOUTH }

  public JsonObject toJson() {
    return key.toJson().put("half", half.name());
  }

  public static PairingRequest fromJson(JsonObject json) {
    return new PairingRequest(PairingKey.fromJson(json), Half.valueOf(json.getString("half")));
  }
}
