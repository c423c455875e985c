package io.streamdetour.bus;

import io.vertx.core.json.JsonObject;

/** An operator's request to cut the sessions of one g3proxy task id, wherever they run. */
public record SessionCut(String taskId) {

  public JsonObject toJson() {
    return new JsonObject().put("task_id", taskId);
  }

  public static SessionCut fromJson(JsonObject json) {
    return new SessionCut(json.getString("task_id"));
  }
}
