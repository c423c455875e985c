package io.streamdetour.bus;

import io.vertx.core.json.JsonObject;

import java.util.Locale;

/**
 * Which running sessions an admin request asks each node for; a null filter matches anything.
 *
 * @param upstream {@code host:port} exactly, or a host alone (any port), case-insensitive
 */
public record SessionQuery(String user, String upstream, String protocol, String taskId) {

  public boolean matches(RunningSession s) {
    return (user == null || user.equals(s.user()))
        && (upstream == null || upstreamMatches(s.upstream(), upstream))
        && (protocol == null || protocol.equalsIgnoreCase(s.protocol()))
        && (taskId == null || taskId.equalsIgnoreCase(s.taskId()));
  }

  private static boolean upstreamMatches(String upstream, String filter) {
    String u = upstream.toLowerCase(Locale.ROOT);
    String f = filter.toLowerCase(Locale.ROOT);
    return u.equals(f) || u.startsWith(f) && u.length() > f.length() && u.charAt(f.length()) == ':'
        && u.indexOf(':', f.length() + 1) < 0;
  }

  public JsonObject toJson() {
    return new JsonObject().put("user", user).put("upstream", upstream).put("protocol", protocol)
        .put("task_id", taskId);
  }

  public static SessionQuery fromJson(JsonObject json) {
    return new SessionQuery(json.getString("user"), json.getString("upstream"), json.getString("protocol"),
        json.getString("task_id"));
  }
}
