package io.streamdetour.bus;

import io.streamdetour.codec.Action;
import io.vertx.core.json.JsonObject;

import java.util.Objects;

/**
 * The policy's answer for one north stream: the action g3proxy gets, and how the session is
 * examined when it continues.
 *
 * @param rule the name of the rule that matched; {@code default} when none did, {@code fallback}
 *     when the policy did not answer in time
 */
public record Decision(Action action, String rule, SessionOptions options) {

  public Decision {
    Objects.requireNonNull(action, "action");
    Objects.requireNonNull(rule, "rule");
    Objects.requireNonNull(options, "options");
  }

  /** A decision with no session options. */
  public Decision(Action action, String rule) {
    this(action, rule, SessionOptions.NONE);
  }

  public JsonObject toJson() {
    return new JsonObject().put("action", action.name().toLowerCase()).put("rule", rule)
        .put("options", options.toJson());
  }

  public static Decision fromJson(JsonObject json) {
    return new Decision(Action.parse(json.getString("action")), json.getString("rule"),
        SessionOptions.fromJson(json.getJsonObject("options")));
  }
}
