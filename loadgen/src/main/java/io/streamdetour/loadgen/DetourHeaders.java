package io.streamdetour.loadgen;

import io.netty.buffer.ByteBuf;
import java.io.ByteArrayOutputStream;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The PROXY v2 headers g3proxy's detour client writes, built once as templates: per session only
 * the task id and the match id change, so writing one is a copy and two patches.
 *
 * <p>North: signature, {@code 0x21}, {@code 0x11} (TCP4) or {@code 0x21} (TCP6), length, the
 * address block, then TLVs {@code E2} username (only if set), {@code E3} task id (16 bytes),
 * {@code E0} upstream {@code host:port}, {@code E5} match id (u16), {@code E4} protocol,
 * {@code E6} payload length (u32), then the payload. South: the same address block and only
 * {@code E5}.
 */
final class DetourHeaders {

  static final byte[] SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
  static final int TLV_UPSTREAM = 0xE0;
  static final int TLV_USERNAME = 0xE2;
  static final int TLV_TASK_ID = 0xE3;
  static final int TLV_PROTOCOL = 0xE4;
  static final int TLV_MATCH_ID = 0xE5;
  static final int TLV_PAYLOAD_LENGTH = 0xE6;
  /** g3's encoder refuses a header longer than this. */
  static final int MAX_HEADER_BYTES = 536;

  private final byte[] north;
  private final int northTaskIdAt;
  private final int northMatchIdAt;
  private final byte[] south;
  private final int southMatchIdAt;

  DetourHeaders(InetSocketAddress client, InetSocketAddress proxy, String username, String upstream,
      String protocol, byte[] payload) {
    byte[] addresses = addressBlock(client, proxy);
    int family = client.getAddress() instanceof Inet4Address ? 0x11 : 0x21;

    ByteArrayOutputStream tlvs = new ByteArrayOutputStream();
    if (username != null) {
      tlv(tlvs, TLV_USERNAME, username.getBytes(StandardCharsets.UTF_8));
    }
    int taskIdAt = 16 + addresses.length + tlvs.size() + 3;
    tlv(tlvs, TLV_TASK_ID, new byte[16]);
    tlv(tlvs, TLV_UPSTREAM, upstream.getBytes(StandardCharsets.UTF_8));
    int matchIdAt = 16 + addresses.length + tlvs.size() + 3;
    tlv(tlvs, TLV_MATCH_ID, new byte[2]);
    tlv(tlvs, TLV_PROTOCOL, protocol.getBytes(StandardCharsets.UTF_8));
    tlv(tlvs, TLV_PAYLOAD_LENGTH, u32(payload.length));
    byte[] header = header(family, addresses, tlvs.toByteArray());
    if (header.length > MAX_HEADER_BYTES) {
      throw new IllegalArgumentException("north header is " + header.length + " bytes, g3proxy's limit is "
          + MAX_HEADER_BYTES + ": shorten --username or --upstream");
    }
    north = new byte[header.length + payload.length];
    System.arraycopy(header, 0, north, 0, header.length);
    System.arraycopy(payload, 0, north, header.length, payload.length);
    northTaskIdAt = taskIdAt;
    northMatchIdAt = matchIdAt;

    ByteArrayOutputStream southTlvs = new ByteArrayOutputStream();
    tlv(southTlvs, TLV_MATCH_ID, new byte[2]);
    south = header(family, addresses, southTlvs.toByteArray());
    southMatchIdAt = 16 + addresses.length + 3;
  }

  /** North header and payload with a fresh random (version 4) task id and this match id. */
  void writeNorth(int matchId, ByteBuf dst) {
    int start = dst.writerIndex();
    dst.writeBytes(north);
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long high = (random.nextLong() & ~0xF000L) | 0x4000L;
    long low = (random.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    dst.setLong(start + northTaskIdAt, high);
    dst.setLong(start + northTaskIdAt + 8, low);
    dst.setShort(start + northMatchIdAt, matchId);
  }

  void writeSouth(int matchId, ByteBuf dst) {
    int start = dst.writerIndex();
    dst.writeBytes(south);
    dst.setShort(start + southMatchIdAt, matchId);
  }

  int northLength() {
    return north.length;
  }

  int southLength() {
    return south.length;
  }

  private static byte[] header(int family, byte[] addresses, byte[] tlvs) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(SIGNATURE);
    out.write(0x21);
    out.write(family);
    int length = addresses.length + tlvs.length;
    out.write(length >>> 8);
    out.write(length);
    out.writeBytes(addresses);
    out.writeBytes(tlvs);
    return out.toByteArray();
  }

  private static byte[] addressBlock(InetSocketAddress client, InetSocketAddress proxy) {
    if (client.isUnresolved() || proxy.isUnresolved()) {
      throw new IllegalArgumentException("PROXY header addresses must be IP addresses: " + client + ", " + proxy);
    }
    if ((client.getAddress() instanceof Inet4Address) != (proxy.getAddress() instanceof Inet4Address)) {
      throw new IllegalArgumentException("client and server addresses of the PROXY header differ in family: "
          + client + ", " + proxy);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(client.getAddress().getAddress());
    out.writeBytes(proxy.getAddress().getAddress());
    out.write(client.getPort() >>> 8);
    out.write(client.getPort());
    out.write(proxy.getPort() >>> 8);
    out.write(proxy.getPort());
    return out.toByteArray();
  }

  private static void tlv(ByteArrayOutputStream out, int type, byte[] value) {
    if (value.length > 0xFFFF) {
      throw new IllegalArgumentException("TLV 0x" + Integer.toHexString(type) + " value too long");
    }
    out.write(type);
    out.write(value.length >>> 8);
    out.write(value.length);
    out.writeBytes(value);
  }

  private static byte[] u32(long value) {
    return new byte[] {(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
  }
}
