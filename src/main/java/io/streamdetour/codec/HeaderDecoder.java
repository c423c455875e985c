package io.streamdetour.codec;

import io.streamdetour.codec.HeaderException.Kind;
import io.streamdetour.codec.ProxyAddresses.Family;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.CharacterCodingException;
import java.util.Arrays;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.UUID;

/**
 * Decodes the PPv2 headers of the north and south streams from byte arrays, in two steps so the
 * caller knows how much to read: {@link #headerLength} on the 16-byte preamble, then {@link
 * #decode} on the whole header. Stateless and thread-safe. Offsets in error messages count from
 * the start of the header.
 */
public final class HeaderDecoder {

    public static final int PREAMBLE_BYTES = 16;

    private static final byte[] SIGNATURE = {
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
    };
    private static final int COMMAND_LOCAL = 0x0;
    private static final int TLV_HEADER_BYTES = 3;

    private static final int TLV_UPSTREAM = 0xE0;
    private static final int TLV_TLS_NAME = 0xE1;
    private static final int TLV_USERNAME = 0xE2;
    private static final int TLV_TASK_ID = 0xE3;
    private static final int TLV_PROTOCOL = 0xE4;
    private static final int TLV_MATCH_ID = 0xE5;
    private static final int TLV_PAYLOAD_LENGTH = 0xE6;
    private static final String[] TLV_NAMES = {
        "upstream", "TLS name", "username", "task id", "protocol", "match id", "payload length"
    };

    // Custom TLVs seen so far, one bit per type (bit 0 = 0xE0), to catch repeats and absences.
    private static final int NORTH_MARKERS =
            bit(TLV_UPSTREAM) | bit(TLV_TASK_ID) | bit(TLV_PROTOCOL) | bit(TLV_PAYLOAD_LENGTH);
    private static final int NORTH_REQUIRED = NORTH_MARKERS | bit(TLV_MATCH_ID);

    private final HeaderLimits limits;

    public HeaderDecoder(HeaderLimits limits) {
        this.limits = Objects.requireNonNull(limits, "limits");
    }

    /**
     * Validates the 16-byte preamble at {@code offset} (signature, version 2, command PROXY or
     * LOCAL, family TCP/UDP over IPv4/IPv6 or UNSPEC) and returns the whole header length, 16 +
     * the length field.
     *
     * @throws HeaderException TRUNCATED with fewer than 16 bytes, HEADER_TOO_LARGE beyond
     *                         {@link HeaderLimits#maxHeaderBytes()}, or the preamble's fault
     */
    public int headerLength(byte[] buf, int offset) throws HeaderException {
        if (buf.length - offset < PREAMBLE_BYTES) {
            throw new HeaderException(Kind.TRUNCATED, "preamble needs " + PREAMBLE_BYTES
                    + " bytes, have " + (buf.length - offset));
        }
        for (int i = 0; i < SIGNATURE.length; i++) {
            if (buf[offset + i] != SIGNATURE[i]) {
                throw new HeaderException(Kind.BAD_SIGNATURE, String.format(
                        "signature byte %d is 0x%02X, expected 0x%02X",
                        i, buf[offset + i] & 0xFF, SIGNATURE[i]));
            }
        }
        int versionCommand = buf[offset + 12] & 0xFF;
        if (versionCommand >>> 4 != 2) {
            throw new HeaderException(Kind.BAD_VERSION, String.format(
                    "version %d (byte 12 is 0x%02X), expected 2", versionCommand >>> 4, versionCommand));
        }
        if ((versionCommand & 0x0F) > 1) {
            throw new HeaderException(Kind.BAD_COMMAND, String.format(
                    "command 0x%X (byte 12 is 0x%02X), expected PROXY 0x1 or LOCAL 0x0",
                    versionCommand & 0x0F, versionCommand));
        }
        addressBlockBytes(buf[offset + 13] & 0xFF);
        int length = PREAMBLE_BYTES + u16(buf, offset + 14);
        if (length > limits.maxHeaderBytes()) {
            throw new HeaderException(Kind.HEADER_TOO_LARGE, "header is " + length
                    + " bytes, limit " + limits.maxHeaderBytes());
        }
        return length;
    }

    /**
     * Decodes the complete header in {@code buf[offset .. offset + length)}, {@code length} being
     * what {@link #headerLength} returned. A header with any of the TLVs 0xE0, 0xE3, 0xE4, 0xE6 is
     * a {@link NorthHeader} (payload not attached yet); one with only 0xE5 of those is a {@link
     * SouthHeader}.
     *
     * @throws HeaderException          what is wrong with the header
     * @throws IllegalArgumentException when {@code length} exceeds the header's declared length,
     *                                  which only a caller's bug can cause
     */
    public StreamHeader decode(byte[] buf, int offset, int length) throws HeaderException {
        int available = Math.min(length, buf.length - offset);
        if (available < PREAMBLE_BYTES) {
            throw new HeaderException(Kind.TRUNCATED, "preamble needs " + PREAMBLE_BYTES
                    + " bytes, have " + available);
        }
        int declared = headerLength(buf, offset);
        if (available < declared) {
            throw new HeaderException(Kind.TRUNCATED, "header declares " + declared
                    + " bytes, have " + available);
        }
        if (length > declared) {
            throw new IllegalArgumentException("length " + length
                    + " exceeds the header's declared " + declared + " bytes");
        }
        int family = buf[offset + 13] & 0xFF;
        int block = addressBlockBytes(family);
        if (declared - PREAMBLE_BYTES < block) {
            throw new HeaderException(Kind.ADDRESS_OVERRUN, String.format(
                    "length field %d is shorter than the %d-byte address block of family 0x%02X",
                    declared - PREAMBLE_BYTES, block, family));
        }
        // LOCAL: the sender's own connection; its addresses, if any, are to be ignored (PPv2 2.2).
        ProxyAddresses addresses = (buf[offset + 12] & 0x0F) == COMMAND_LOCAL
                ? ProxyAddresses.NONE
                : addresses(buf, offset + PREAMBLE_BYTES, block);
        return decodeTlvs(buf, offset, offset + PREAMBLE_BYTES + block, offset + declared, addresses);
    }

    private StreamHeader decodeTlvs(byte[] buf, int header, int start, int end,
            ProxyAddresses addresses) throws HeaderException {
        Upstream upstream = null;
        String tlsName = null;
        String username = null;
        UUID taskId = null;
        String protocol = null;
        int matchId = 0;
        long payloadLength = 0;
        int seen = 0;
        int p = start;
        while (p < end) {
            if (end - p < TLV_HEADER_BYTES) {
                throw new HeaderException(Kind.TLV_OVERRUN, String.format(
                        "%d trailing byte(s) at offset %d cannot hold a TLV header",
                        end - p, p - header));
            }
            int type = buf[p] & 0xFF;
            int len = u16(buf, p + 1);
            int value = p + TLV_HEADER_BYTES;
            if (len > end - value) {
                throw new HeaderException(Kind.TLV_OVERRUN, String.format(
                        "TLV 0x%02X at offset %d claims %d bytes, %d left",
                        type, p - header, len, end - value));
            }
            if (type >= TLV_UPSTREAM && type <= TLV_PAYLOAD_LENGTH) {
                if ((seen & bit(type)) != 0) {
                    throw badTlv(type, p - header, "is repeated");
                }
                seen |= bit(type);
                switch (type) {
                    case TLV_UPSTREAM -> {
                        try {
                            upstream = Upstream.parse(utf8(buf, value, len, type, p - header));
                        } catch (IllegalArgumentException e) {
                            throw badTlv(type, p - header, "does not parse: " + e.getMessage());
                        }
                    }
                    case TLV_TLS_NAME -> tlsName = utf8(buf, value, len, type, p - header);
                    case TLV_USERNAME -> username = utf8(buf, value, len, type, p - header);
                    case TLV_TASK_ID -> {
                        checkSize(type, p - header, len, 16);
                        taskId = new UUID(u64(buf, value), u64(buf, value + 8));
                    }
                    case TLV_PROTOCOL -> {
                        protocol = utf8(buf, value, len, type, p - header);
                        if (protocol.isEmpty()) {
                            throw badTlv(type, p - header, "is empty");
                        }
                    }
                    case TLV_MATCH_ID -> {
                        checkSize(type, p - header, len, 2);
                        matchId = u16(buf, value);
                    }
                    case TLV_PAYLOAD_LENGTH -> {
                        checkSize(type, p - header, len, 4);
                        payloadLength = (long) u16(buf, value) << 16 | u16(buf, value + 2);
                    }
                }
            }
            p = value + len;
        }

        if ((seen & NORTH_MARKERS) != 0) {
            if ((seen & NORTH_REQUIRED) != NORTH_REQUIRED) {
                throw new HeaderException(Kind.MISSING_TLV, "north header lacks TLV "
                        + describe(NORTH_REQUIRED & ~seen));
            }
            if (payloadLength > limits.maxPayloadBytes()) {
                throw new HeaderException(Kind.PAYLOAD_TOO_LARGE, "payload length "
                        + payloadLength + " exceeds the limit of " + limits.maxPayloadBytes());
            }
            return new NorthHeader(addresses, upstream, username, taskId, protocol, matchId,
                    tlsName, (int) payloadLength, new byte[0]);
        }
        if ((seen & bit(TLV_MATCH_ID)) == 0) {
            throw new HeaderException(Kind.MISSING_TLV,
                    "header has no match id TLV 0xE5 and no north TLV 0xE0, 0xE3, 0xE4 or 0xE6");
        }
        return new SouthHeader(addresses, matchId);
    }

    /** Bytes of the address block for a family/transport byte; TCP and UDP read alike. */
    private static int addressBlockBytes(int family) throws HeaderException {
        return switch (family) {
            case 0x00 -> 0;
            case 0x11, 0x12 -> 12;
            case 0x21, 0x22 -> 36;
            default -> throw new HeaderException(Kind.BAD_FAMILY, String.format(
                    "family byte 13 is 0x%02X, expected 0x11/0x12 (IPv4), 0x21/0x22 (IPv6)"
                            + " or 0x00 (UNSPEC)", family));
        };
    }

    /** Source address, destination address, source port, destination port. */
    private static ProxyAddresses addresses(byte[] buf, int p, int block) {
        if (block == 0) {
            return ProxyAddresses.NONE;
        }
        int size = block == 12 ? 4 : 16;
        InetSocketAddress source = new InetSocketAddress(
                address(buf, p, size), u16(buf, p + 2 * size));
        InetSocketAddress destination = new InetSocketAddress(
                address(buf, p + size, size), u16(buf, p + 2 * size + 2));
        return new ProxyAddresses(size == 4 ? Family.INET : Family.INET6, source, destination);
    }

    /**
     * From raw bytes, so no name lookup. IPv6 goes through Inet6Address so that an IPv4-mapped
     * address keeps the family the header declared (InetAddress.getByAddress would unmap it).
     */
    private static InetAddress address(byte[] buf, int p, int size) {
        byte[] raw = Arrays.copyOfRange(buf, p, p + size);
        try {
            return size == 4 ? InetAddress.getByAddress(raw) : Inet6Address.getByAddress(null, raw, -1);
        } catch (UnknownHostException e) {
            throw new AssertionError("raw address of " + size + " bytes", e); // only for bad sizes
        }
    }

    private static String utf8(byte[] buf, int p, int len, int type, int at) throws HeaderException {
        try {
            return Utf8.decode(buf, p, len);
        } catch (CharacterCodingException e) {
            throw badTlv(type, at, "is not valid UTF-8");
        }
    }

    private static void checkSize(int type, int at, int len, int expected) throws HeaderException {
        if (len != expected) {
            throw badTlv(type, at, "has " + len + " bytes, expected " + expected);
        }
    }

    private static HeaderException badTlv(int type, int at, String what) {
        return new HeaderException(Kind.BAD_TLV, String.format(
                "TLV 0x%02X (%s) at offset %d %s", type, TLV_NAMES[type - TLV_UPSTREAM], at, what));
    }

    private static String describe(int bits) {
        StringJoiner names = new StringJoiner(", ");
        for (int type = TLV_UPSTREAM; type <= TLV_PAYLOAD_LENGTH; type++) {
            if ((bits & bit(type)) != 0) {
                names.add(String.format("0x%02X (%s)", type, TLV_NAMES[type - TLV_UPSTREAM]));
            }
        }
        return names.toString();
    }

    private static int bit(int type) {
        return 1 << (type - TLV_UPSTREAM);
    }

    private static int u16(byte[] buf, int p) {
        return (buf[p] & 0xFF) << 8 | buf[p + 1] & 0xFF;
    }

    private static long u64(byte[] buf, int p) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = v << 8 | buf[p + i] & 0xFF;
        }
        return v;
    }
}
