package io.streamdetour.codec;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.UUID;

/** Writes PPv2 headers byte by byte for the tests, with knobs to break them. */
final class Ppv2 {

    static final byte[] SIGNATURE = hex("0D0A0D0A000D0A515549540A");

    private int versionCommand = 0x21;
    private int family;
    private byte[] addressBlock = new byte[0];
    private final ByteArrayOutputStream tlvs = new ByteArrayOutputStream();
    private Integer lengthField;

    static Ppv2 tcp4(String source, int sourcePort, String destination, int destinationPort) {
        Ppv2 h = new Ppv2();
        h.family = 0x11;
        h.addressBlock = concat(ip(source), ip(destination), u16(sourcePort), u16(destinationPort));
        return h;
    }

    static Ppv2 tcp6(String source, int sourcePort, String destination, int destinationPort) {
        Ppv2 h = new Ppv2();
        h.family = 0x21;
        h.addressBlock = concat(ip(source), ip(destination), u16(sourcePort), u16(destinationPort));
        return h;
    }

    static Ppv2 unspec() {
        Ppv2 h = new Ppv2();
        h.family = 0x00;
        return h;
    }

    /** The north header of today's g3proxy: E2 (if a user), E3, E0, E5, E4, E6. */
    static Ppv2 g3North(Ppv2 h, String user, UUID task, String upstream, int matchId,
            String protocol, long payloadLength) {
        if (user != null) {
            h.tlv(0xE2, user);
        }
        return h.tlv(0xE3, uuid(task))
                .tlv(0xE0, upstream)
                .tlv(0xE5, u16(matchId))
                .tlv(0xE4, protocol)
                .tlv(0xE6, u32(payloadLength));
    }

    Ppv2 versionCommand(int value) {
        versionCommand = value;
        return this;
    }

    Ppv2 family(int value) {
        family = value;
        return this;
    }

    Ppv2 tlv(int type, byte[] value) {
        tlvs.write(type);
        tlvs.writeBytes(u16(value.length));
        tlvs.writeBytes(value);
        return this;
    }

    Ppv2 tlv(int type, String utf8) {
        return tlv(type, utf8.getBytes(StandardCharsets.UTF_8));
    }

    /** Bytes after the TLVs, counted in the length field. */
    Ppv2 raw(byte... bytes) {
        tlvs.writeBytes(bytes);
        return this;
    }

    /** Overrides the computed length field. */
    Ppv2 lengthField(int value) {
        lengthField = value;
        return this;
    }

    byte[] build() {
        byte[] body = concat(addressBlock, tlvs.toByteArray());
        int length = lengthField != null ? lengthField : body.length;
        return concat(SIGNATURE, new byte[] {(byte) versionCommand, (byte) family}, u16(length), body);
    }

    static byte[] u16(int v) {
        return new byte[] {(byte) (v >>> 8), (byte) v};
    }

    static byte[] u32(long v) {
        return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    static byte[] uuid(UUID id) {
        byte[] b = new byte[16];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (id.getMostSignificantBits() >>> (56 - 8 * i));
            b[8 + i] = (byte) (id.getLeastSignificantBits() >>> (56 - 8 * i));
        }
        return b;
    }

    static byte[] hex(String hex) {
        return HexFormat.of().parseHex(hex.replace(" ", ""));
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    private static byte[] ip(String literal) {
        try {
            return InetAddress.getByName(literal).getAddress(); // literals only: no lookup
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }
}
