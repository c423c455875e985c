package io.streamdetour.bus;

import io.vertx.core.json.JsonObject;

/** How many sessions one node cut for a {@link SessionCut}. */
public record NodeCut(String node, int cut) {

  public JsonObject toJson() {
    return new JsonObject().put("node", node).put("cut", cut);
  }

  public static NodeCut fromJson(JsonObject json) {
    return new NodeCut(json.getString("node"), json.getInteger("cut"));
  }
}
