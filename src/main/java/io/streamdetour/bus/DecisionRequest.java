package io.streamdetour.bus;

import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.ProxyAddresses;
import io.streamdetour.codec.Upstream;
import io.vertx.core.json.JsonObject;

import java.net.InetSocketAddress;
import java.util.Base64;
import java.util.UUID;

/** A decoded north header waiting for its continue / bypass / block decision. */
public record DecisionRequest(String connectionId, long streamId, NorthHeader header) {

  public JsonObject toJson() {
    ProxyAddresses addresses = header.addresses();
    return new JsonObject()
        .put("connection", connectionId)
        .put("stream", streamId)
        .put("taskId", header.taskId().toString())
        .put("protocol", header.protocol())
        .put("upstream", header.upstream().toString())
        .put("user", header.username())
        .put("matchId", header.matchId())
        .put("tlsName", header.tlsName())
        .put("family", addresses.family().name())
        .put("client", address(addresses.source()))
        .put("proxy", address(addresses.destination()))
        .put("payload", Base64.getEncoder().encodeToString(header.payload()));
  }

  public static DecisionRequest fromJson(JsonObject json) {
    byte[] payload = Base64.getDecoder().decode(json.getString("payload", ""));
    ProxyAddresses.Family family = ProxyAddresses.Family.valueOf(json.getString("family"));
    ProxyAddresses addresses = family == ProxyAddresses.Family.UNSPEC
        ? ProxyAddresses.NONE
        : new ProxyAddresses(family, parseAddress(json.getString("client")), parseAddress(json.getString("proxy")));
    NorthHeader header = new NorthHeader(addresses, Upstream.parse(json.getString("upstream")),
        json.getString("user"), UUID.fromString(json.getString("taskId")), json.getString("protocol"),
        json.getInteger("matchId"), json.getString("tlsName"), payload.length, payload);
    return new DecisionRequest(json.getString("connection"), json.getLong("stream"), header);
  }

  /** {@code host:port} with IPv6 in brackets, or null when there is no address. */
  public static String address(InetSocketAddress address) {
    if (address == null) {
      return null;
    }
    return new Upstream(address.getAddress().getHostAddress(), address.getPort()).toString();
  }

  private static InetSocketAddress parseAddress(String text) {
    Upstream parsed = Upstream.parse(text);
    return new InetSocketAddress(parsed.host(), parsed.port());
  }
}
