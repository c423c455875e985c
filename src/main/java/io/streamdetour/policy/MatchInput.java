package io.streamdetour.policy;

import io.netty.util.NetUtil;
import io.streamdetour.codec.HeaderException;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.WebSocketUpgrade;
import io.streamdetour.config.ServerConfig;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Arrays;

/**
 * One north header as the matchers compare it, for one decision. What only some matchers need
 * (addresses, the websocket upgrade) is derived on first use and kept, so a header is parsed at
 * most once however many rules look at it. Not thread-safe: one instance per decision.
 */
final class MatchInput {

  private static final byte[] V4_MAPPED_PREFIX = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xFF, (byte) 0xFF};

  private final NorthHeader header;
  private final String protocol;
  private final String host;
  private final int port;
  private final String user;
  private byte[] hostAddress;
  private boolean hostAddressRead;
  private byte[] clientAddress;
  private boolean clientAddressRead;
  private WebSocketUpgrade webSocket;
  private boolean webSocketRead;

  MatchInput(NorthHeader header) {
    this.header = header;
    this.protocol = header.protocol();
    this.host = ServerConfig.Match.hostName(header.upstream().host());
    this.port = header.upstream().port();
    this.user = header.username();
  }

  String protocol() {
    return protocol;
  }

  /** The upstream host, lower-cased, without a trailing dot. */
  String host() {
    return host;
  }

  int port() {
    return port;
  }

  /** Null when g3proxy sent no username. */
  String user() {
    return user;
  }

  /** The upstream host's address bytes when it is an IP literal, else null. */
  byte[] hostAddress() {
    if (!hostAddressRead) {
      hostAddressRead = true;
      byte[] literal = NetUtil.createByteArrayFromIpAddressString(host);
      hostAddress = literal == null ? null : unmapped(literal);
    }
    return hostAddress;
  }

  /** The client's address bytes from the PROXY header, null for UNSPEC and LOCAL headers. */
  byte[] clientAddress() {
    if (!clientAddressRead) {
      clientAddressRead = true;
      InetSocketAddress source = header.addresses().source();
      InetAddress address = source == null ? null : source.getAddress();
      clientAddress = address == null ? null : unmapped(address.getAddress());
    }
    return clientAddress;
  }

  /** The websocket upgrade; null for other protocols and for a payload that does not parse. */
  WebSocketUpgrade webSocket() {
    if (!webSocketRead) {
      webSocketRead = true;
      try {
        webSocket = header.webSocket().orElse(null);
      } catch (HeaderException e) {
        webSocket = null;
      }
    }
    return webSocket;
  }

  /**
   * An IPv4-mapped IPv6 address (::ffff:10.1.2.3) as its IPv4 address: a dual-stack listener
   * reports IPv4 clients that way, and an IPv4 block should still match them.
   */
  private static byte[] unmapped(byte[] address) {
    boolean mapped = address.length == 16
        && Arrays.equals(address, 0, V4_MAPPED_PREFIX.length, V4_MAPPED_PREFIX, 0, V4_MAPPED_PREFIX.length);
    return mapped ? Arrays.copyOfRange(address, 12, 16) : address;
  }
}
