package io.streamdetour.testclient;

import java.io.ByteArrayOutputStream;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/** Builds a PROXY v2 header byte by byte, in the layout g3proxy's encoder uses. */
final class ProxyV2Writer {

    static final byte[] SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    static final int VERSION_PROXY = 0x21;
    static final int TCP4 = 0x11;
    static final int TCP6 = 0x21;

    private final ByteArrayOutputStream body = new ByteArrayOutputStream();
    private final int family;

    ProxyV2Writer(InetSocketAddress client, InetSocketAddress proxy) {
        InetAddress src = client.getAddress();
        InetAddress dst = proxy.getAddress();
        if (src == null || dst == null) {
            throw new IllegalArgumentException("unresolved address in PROXY header: " + client + ", " + proxy);
        }
        if (src instanceof Inet4Address && dst instanceof Inet4Address) {
            family = TCP4;
        } else if (src instanceof Inet6Address && dst instanceof Inet6Address) {
            family = TCP6;
        } else {
            throw new IllegalArgumentException("client and proxy address families differ: " + client + ", " + proxy);
        }
        body.writeBytes(src.getAddress());
        body.writeBytes(dst.getAddress());
        writeU16(body, client.getPort());
        writeU16(body, proxy.getPort());
    }

    ProxyV2Writer tlv(int type, byte[] value) {
        body.write(type);
        writeU16(body, value.length);
        body.writeBytes(value);
        return this;
    }

    ProxyV2Writer tlvU16(int type, int value) {
        byte[] bytes = new byte[2];
        bytes[0] = (byte) (value >>> 8);
        bytes[1] = (byte) value;
        return tlv(type, bytes);
    }

    ProxyV2Writer tlvU32(int type, long value) {
        byte[] bytes = new byte[4];
        for (int i = 0; i < 4; i++) {
            bytes[i] = (byte) (value >>> (24 - 8 * i));
        }
        return tlv(type, bytes);
    }

    byte[] toBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 + body.size());
        out.writeBytes(SIGNATURE);
        out.write(VERSION_PROXY);
        out.write(family);
        writeU16(out, body.size());
        out.writeBytes(body.toByteArray());
        return out.toByteArray();
    }

    private static void writeU16(ByteArrayOutputStream out, int value) {
        out.write(value >>> 8);
        out.write(value);
    }
}
