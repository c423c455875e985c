package io.streamdetour.bus;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/** One node's answer to a {@link SessionQuery}: its running sessions that match. */
public record NodeSessions(String node, List<RunningSession> sessions) {

  public NodeSessions {
    sessions = List.copyOf(sessions);
  }

  public JsonObject toJson() {
    JsonArray list = new JsonArray();
    sessions.forEach(s -> list.add(s.toJson()));
    return new JsonObject().put("node", node).put("sessions", list);
  }

  public static NodeSessions fromJson(JsonObject json) {
    return new NodeSessions(json.getString("node"), json.getJsonArray("sessions").stream()
        .map(s -> RunningSession.fromJson((JsonObject) s)).toList());
  }
}
