package io.streamdetour.policy;

import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.ProxyAddresses;
import io.streamdetour.codec.Upstream;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/** North headers for policy tests. */
final class Headers {

  /** The upgrade lines g3proxy sends today, byte for byte. */
  static final String G3_WEBSOCKET_PAYLOAD = "/chat\r\nhost: example.com\r\norigin: https://example.com\r\n"
      + "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n";

  private Headers() {}

  static NorthHeader north(String protocol, String upstream, String user) {
    return north(protocol, upstream, user, ProxyAddresses.NONE, "");
  }

  static NorthHeader fromClient(String client, String upstream) {
    return north("http_2", upstream, null, addresses(client), "");
  }

  static NorthHeader websocket(String upstream, String payload) {
    return north("websocket", upstream, null, ProxyAddresses.NONE, payload);
  }

  static NorthHeader north(String protocol, String upstream, String user, ProxyAddresses addresses, String payload) {
    byte[] bytes = payload.getBytes(StandardCharsets.UTF_8);
    return new NorthHeader(addresses, Upstream.parse(upstream), user, UUID.randomUUID(), protocol, 7, null,
        bytes.length, bytes);
  }

  /** PROXY addresses with {@code client} (an IP literal) as the source. */
  static ProxyAddresses addresses(String client) {
    try {
      InetAddress source = InetAddress.getByName(client);
      boolean v4 = source.getAddress().length == 4;
      InetAddress listener = InetAddress.getByName(v4 ? "192.0.2.254" : "2001:db8::fe");
      return new ProxyAddresses(v4 ? ProxyAddresses.Family.INET : ProxyAddresses.Family.INET6,
          new InetSocketAddress(source, 50000), new InetSocketAddress(listener, 3128));
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(client, e);
    }
  }
}
