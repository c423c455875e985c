package io.streamdetour.loadgen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The headers byte for byte as g3proxy's detour client writes them (TLVs E2, E3, E0, E5, E4, E6). */
class DetourHeadersTest {

  private static final byte[] PAYLOAD = "/chat\r\nhost: example.com\r\n".getBytes(StandardCharsets.US_ASCII);

  private final DetourHeaders headers = new DetourHeaders(
      new InetSocketAddress("192.0.2.1", 50000), new InetSocketAddress("198.51.100.1", 443),
      "alice", "example.com:443", "websocket", PAYLOAD);

  @Test
  void northHeaderIsG3proxys() {
    ByteBuf buf = Unpooled.buffer();
    headers.writeNorth(0x1234, buf);
    byte[] written = ByteBufUtil.getBytes(buf);
    byte[] taskId = new byte[16];
    // The task id is random: take it from what was written, check its UUID v4 bits, compare the rest.
    int taskIdAt = 16 + 12 + (3 + 5) + 3;
    System.arraycopy(written, taskIdAt, taskId, 0, 16);
    assertEquals(0x40, taskId[6] & 0xF0, "UUID version 4");
    assertEquals(0x80, taskId[8] & 0xC0, "UUID variant");

    ByteArrayOutputStream tlvs = new ByteArrayOutputStream();
    tlvs.writeBytes(HexFormat.of().parseHex("e20005"));
    tlvs.writeBytes("alice".getBytes(StandardCharsets.US_ASCII));
    tlvs.writeBytes(HexFormat.of().parseHex("e30010"));
    tlvs.writeBytes(taskId);
    tlvs.writeBytes(HexFormat.of().parseHex("e0000f"));
    tlvs.writeBytes("example.com:443".getBytes(StandardCharsets.US_ASCII));
    tlvs.writeBytes(HexFormat.of().parseHex("e500021234"));
    tlvs.writeBytes(HexFormat.of().parseHex("e40009"));
    tlvs.writeBytes("websocket".getBytes(StandardCharsets.US_ASCII));
    tlvs.writeBytes(HexFormat.of().parseHex("e600040000001a"));
    ByteArrayOutputStream expected = new ByteArrayOutputStream();
    expected.writeBytes(HexFormat.of().parseHex("0d0a0d0a000d0a515549540a" + "21" + "11"));
    int length = 12 + tlvs.size();
    expected.write(length >>> 8);
    expected.write(length);
    expected.writeBytes(HexFormat.of().parseHex("c0000201" + "c6336401" + "c350" + "01bb"));
    expected.writeBytes(tlvs.toByteArray());
    expected.writeBytes(PAYLOAD);
    assertArrayEquals(expected.toByteArray(), written);
    assertEquals(written.length, headers.northLength());
  }

  @Test
  void southHeaderHasTheAddressesAndOnlyTheMatchId() {
    ByteBuf buf = Unpooled.buffer();
    headers.writeSouth(0xBEEF, buf);
    assertEquals("0d0a0d0a000d0a515549540a" + "2111" + "0011" + "c0000201c6336401c35001bb" + "e50002beef",
        ByteBufUtil.hexDump(buf));
    assertEquals(buf.readableBytes(), headers.southLength());
  }

  @Test
  void taskIdsDifferPerSession() {
    ByteBuf first = Unpooled.buffer();
    ByteBuf second = Unpooled.buffer();
    headers.writeNorth(0, first);
    headers.writeNorth(0, second);
    assertEquals(first.readableBytes(), second.readableBytes());
    assertEquals(false, first.equals(second));
  }

  @Test
  void ipv6AddressesGiveTcp6() {
    DetourHeaders v6 = new DetourHeaders(new InetSocketAddress("2001:db8::1", 1), new InetSocketAddress("::1", 2),
        null, "[::1]:443", "http_2", new byte[0]);
    ByteBuf buf = Unpooled.buffer();
    v6.writeSouth(1, buf);
    assertEquals(0x21, buf.getUnsignedByte(13));
    assertEquals(36 + 5, buf.getUnsignedShort(14));
  }

  @Test
  void refusesAHeaderLongerThanG3proxysLimit() {
    assertThrows(IllegalArgumentException.class, () -> new DetourHeaders(new InetSocketAddress("192.0.2.1", 1),
        new InetSocketAddress("198.51.100.1", 2), "u".repeat(500), "example.com:443", "http_2", new byte[0]));
  }
}
