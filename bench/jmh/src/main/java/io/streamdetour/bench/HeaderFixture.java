package io.streamdetour.bench;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * Headers as g3proxy's detour client writes them (TLVs E2 if a user, E3, E0, E5, E4, E6, in
 * that order; the south stream's with E5 alone), each shape in many variants (task ids, match
 * ids, hosts, ports, client addresses) from a fixed seed, so every run decodes the same bytes.
 */
public final class HeaderFixture {

  /** The shapes measured: address family, username, protocol (websocket carries a payload). */
  public enum Shape {
    IPV4(false, false, "http_2"),
    IPV4_USER(false, true, "http_2"),
    IPV6(true, false, "http_2"),
    IPV6_USER(true, true, "http_2"),
    WEBSOCKET(false, true, "websocket"),
    SOUTH(false, false, null);

    final boolean ipv6;
    final boolean user;
    final String protocol;

    Shape(boolean ipv6, boolean user, String protocol) {
      this.ipv6 = ipv6;
      this.user = user;
      this.protocol = protocol;
    }
  }

  private static final byte[] SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
  private static final String[] HOSTS = {"www.example.com", "api.shop.example.net", "cdn-17.media.example.org",
      "mail.corp.example", "login.example-bank.com", "203.0.113.7", "[2001:db8::42]"};

  private final Random random = new Random(7);

  private HeaderFixture() {}

  /** {@code count} headers of {@code shape}. */
  static byte[][] headers(Shape shape, int count) {
    HeaderFixture fixture = new HeaderFixture();
    byte[][] headers = new byte[count][];
    for (int i = 0; i < count; i++) {
      headers[i] = fixture.header(shape, i);
    }
    return headers;
  }

  /** The websocket upgrade lines g3proxy sends after the north header (lower-case names). */
  static byte[] websocketPayload(int i) {
    return ("/chat/room-" + i + "\r\n"
        + "host: chat.example.com\r\n"
        + "origin: https://chat.example.com\r\n"
        + "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        + "sec-websocket-version: 13\r\n"
        + "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        + "sec-websocket-protocol: chat\r\n"
        + "sec-websocket-extensions: permessage-deflate\r\n").getBytes(StandardCharsets.US_ASCII);
  }

  private byte[] header(Shape shape, int i) {
    ByteBuffer body = ByteBuffer.allocate(512);
    byte[] client = new byte[shape.ipv6 ? 16 : 4];
    random.nextBytes(client);
    byte[] proxy = shape.ipv6 ? new byte[] {0x20, 0x01, 0x0d, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
        : new byte[] {(byte) 198, 51, 100, 1};
    body.put(client).put(proxy).putShort((short) (1024 + random.nextInt(60_000))).putShort((short) 443);
    int matchId = i & 0xFFFF;
    if (shape.protocol == null) {
      tlv(body, 0xE5, ByteBuffer.allocate(2).putShort((short) matchId).array());
    } else {
      if (shape.user) {
        tlv(body, 0xE2, ascii("user" + random.nextInt(10_000) + "@corp"));
      }
      tlv(body, 0xE3, ByteBuffer.allocate(16).putLong(random.nextLong()).putLong(random.nextLong()).array());
      tlv(body, 0xE0, ascii(HOSTS[i % HOSTS.length] + ":" + (i % 3 == 0 ? 8443 : 443)));
      tlv(body, 0xE5, ByteBuffer.allocate(2).putShort((short) matchId).array());
      tlv(body, 0xE4, ascii(shape.protocol));
      int payload = shape == Shape.WEBSOCKET ? websocketPayload(i).length : 0;
      tlv(body, 0xE6, ByteBuffer.allocate(4).putInt(payload).array());
    }
    body.flip();
    ByteBuffer header = ByteBuffer.allocate(16 + body.remaining());
    header.put(SIGNATURE).put((byte) 0x21).put((byte) (shape.ipv6 ? 0x21 : 0x11)).putShort((short) body.remaining())
        .put(body);
    return header.array();
  }

  private static void tlv(ByteBuffer out, int type, byte[] value) {
    out.put((byte) type).putShort((short) value.length).put(value);
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
