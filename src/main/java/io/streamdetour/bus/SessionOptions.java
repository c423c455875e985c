package io.streamdetour.bus;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/**
 * How a continued session is examined, as its rule's {@code options} say.
 *
 * @param inspectors names of the inspectors this session runs through, after those of
 *     {@code relay.inspectors}
 * @param capture whether the session's bytes are captured to files
 * @param byteCap bytes the session may carry, both directions together, before it is cut
 */
public record SessionOptions(List<String> inspectors, boolean capture, long byteCap) {

  /** For the default, fallbacks and rules without options: nothing extra, no capture, no cap. */
  public static final SessionOptions NONE = new SessionOptions(List.of(), false, Long.MAX_VALUE);

  public SessionOptions {
    inspectors = List.copyOf(inspectors);
    if (byteCap < 0) {
      throw new IllegalArgumentException("byte cap " + byteCap + " is negative");
    }
  }

  public JsonObject toJson() {
    return new JsonObject().put("inspectors", new JsonArray(inspectors)).put("capture", capture)
        .put("byte-cap", byteCap);
  }

  public static SessionOptions fromJson(JsonObject json) {
    if (json == null) {
      return NONE;
    }
    List<String> names = json.getJsonArray("inspectors", new JsonArray()).stream().map(String::valueOf).toList();
    return new SessionOptions(names, json.getBoolean("capture", false), json.getLong("byte-cap", Long.MAX_VALUE));
  }
}
