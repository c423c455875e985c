package io.streamdetour.bus;

import io.streamdetour.codec.Action;
import io.vertx.core.json.JsonObject;

/**
 * The policy's answer for one north stream.
 *
 * @param rule the name of the rule that matched; {@code default} when none did, {@code fallback}
 *     when the policy did not answer in time
 */
public record Decision(Action action, String rule) {

  public JsonObject toJson() {
    return new JsonObject().put("action", action.name().toLowerCase()).put("rule", rule);
  }

  public static Decision fromJson(JsonObject json) {
    return new Decision(Action.parse(json.getString("action")), json.getString("rule"));
  }
}
