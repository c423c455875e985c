package io.streamdetour.bus;

import io.vertx.core.json.JsonObject;

/**
 * One node as {@code /cluster} shows it.
 *
 * @param configDigest a digest of the settings every node should share (how sessions are decided
 *     and relayed): nodes that would treat a session alike show the same digest, whatever their
 *     version numbers and addresses
 * @param pairing whether the node runs a pairing instance
 */
public record NodeStatus(String node, String edgeAddress, boolean accepting, int configVersion, String configDigest,
    String configError, boolean pairing, int sessions) {

  public JsonObject toJson() {
    return new JsonObject().put("node", node).put("quic", edgeAddress).put("accepting", accepting)
        .put("config_version", configVersion).put("config_digest", configDigest).put("config_error", configError)
        .put("pairing", pairing).put("sessions", sessions);
  }

  public static NodeStatus fromJson(JsonObject json) {
    return new NodeStatus(json.getString("node"), json.getString("quic"), json.getBoolean("accepting"),
        json.getInteger("config_version"), json.getString("config_digest"), json.getString("config_error"),
        json.getBoolean("pairing"), json.getInteger("sessions"));
  }
}
