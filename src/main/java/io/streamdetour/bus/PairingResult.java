package io.streamdetour.bus;

import io.vertx.core.json.JsonObject;

/** How a pairing request ended. */
public record PairingResult(Outcome outcome, String detail) {

  public enum Outcome {
    /** Both halves are here. */
    PAIRED,
    /** The other half did not come within pairing.timeout. */
    TIMED_OUT,
    /** The same half of the same key is already waiting. */
    DUPLICATE,
    /** The waiting half went away (its stream ended). */
    CANCELLED,
    /** The node of the pairing instance that held this half left the cluster. */
    LOST
  }

  public JsonObject toJson() {
    return new JsonObject().put("outcome", outcome.name()).put("detail", detail);
  }

  public static PairingResult fromJson(JsonObject json) {
    return new PairingResult(Outcome.valueOf(json.getString("outcome")), json.getString("detail"));
  }
}
