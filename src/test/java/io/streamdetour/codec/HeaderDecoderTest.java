package io.streamdetour.codec;

import static io.streamdetour.codec.Ppv2.hex;
import static io.streamdetour.codec.Ppv2.u16;
import static io.streamdetour.codec.Ppv2.u32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.streamdetour.codec.HeaderException.Kind;
import io.streamdetour.codec.ProxyAddresses.Family;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HeaderDecoderTest {

    private static final UUID TASK = UUID.fromString("01234567-89ab-cdef-0011-223344556677");

    private final HeaderDecoder decoder = new HeaderDecoder(HeaderLimits.DEFAULT);

    // ---- north headers as g3proxy sends them ----

    @Test
    void ipv4NorthHeaderExactlyAsG3proxySendsIt() throws Exception {
        byte[] bytes = hex("0D0A0D0A000D0A515549540A 21 11 004E"
                + "C0A80001 C0A8000B DC04 01BB" // 192.168.0.1:56324 -> 192.168.0.11:443
                + "E2 0005 616C696365" // username "alice"
                + "E3 0010 0123456789ABCDEF0011223344556677" // task id
                + "E0 000F 6578616D706C652E636F6D3A343433" // upstream "example.com:443"
                + "E5 0002 0007" // match id 7
                + "E4 0006 687474705F32" // protocol "http_2"
                + "E6 0004 00000000"); // payload length 0

        assertThat(decoder.headerLength(bytes, 0)).isEqualTo(94).isEqualTo(bytes.length);
        NorthHeader north = (NorthHeader) decoder.decode(bytes, 0, 94);

        assertThat(north.addresses()).isEqualTo(new ProxyAddresses(Family.INET,
                new InetSocketAddress(InetAddress.getByAddress(new byte[] {(byte) 192, (byte) 168, 0, 1}), 56324),
                new InetSocketAddress(InetAddress.getByAddress(new byte[] {(byte) 192, (byte) 168, 0, 11}), 443)));
        assertThat(north.addresses().source().getAddress()).isInstanceOf(Inet4Address.class);
        assertThat(north.upstream()).isEqualTo(new Upstream("example.com", 443));
        assertThat(north.username()).isEqualTo("alice");
        assertThat(north.user()).contains("alice");
        assertThat(north.taskId()).isEqualTo(TASK);
        assertThat(north.protocol()).isEqualTo("http_2");
        assertThat(north.matchId()).isEqualTo(7);
        assertThat(north.tlsName()).isNull();
        assertThat(north.serverName()).isEmpty();
        assertThat(north.payloadLength()).isZero();
        assertThat(north.payload()).isEmpty();
    }

    @Test
    void ipv6NorthHeaderAsG3proxySendsItWithoutUsername() throws Exception {
        byte[] bytes = Ppv2.g3North(Ppv2.tcp6("2001:db8::1", 56324, "2001:db8::11", 443),
                null, TASK, "[2001:db8::99]:8443", 513, "websocket", 120).build();

        assertThat(decoder.headerLength(bytes, 0)).isEqualTo(bytes.length);
        NorthHeader north = (NorthHeader) decode(bytes);

        assertThat(north.addresses().family()).isEqualTo(Family.INET6);
        assertThat(north.addresses().source())
                .isEqualTo(new InetSocketAddress(InetAddress.getByName("2001:db8::1"), 56324));
        assertThat(north.addresses().destination())
                .isEqualTo(new InetSocketAddress(InetAddress.getByName("2001:db8::11"), 443));
        assertThat(north.upstream()).isEqualTo(new Upstream("2001:db8::99", 8443));
        assertThat(north.username()).isNull();
        assertThat(north.user()).isEmpty();
        assertThat(north.taskId()).isEqualTo(TASK);
        assertThat(north.protocol()).isEqualTo("websocket");
        assertThat(north.matchId()).isEqualTo(513);
        assertThat(north.payloadLength()).isEqualTo(120);
        assertThat(north.payload()).isEmpty();
    }

    @Test
    void ipv4MappedIpv6AddressKeepsTheDeclaredFamily() throws Exception {
        byte[] mapped = hex("00000000000000000000FFFF01020304");
        Ppv2 h = Ppv2.unspec().family(0x21);
        byte[] bytes = Ppv2.g3North(h.raw(Ppv2.concat(mapped, mapped, u16(1), u16(2))),
                null, TASK, "a:1", 0, "smtp", 0).build();

        StreamHeader header = decode(bytes);

        assertThat(header.addresses().family()).isEqualTo(Family.INET6);
        assertThat(header.addresses().source().getAddress()).isInstanceOf(Inet6Address.class);
        assertThat(header.addresses().source().getAddress().getAddress()).isEqualTo(mapped);
        assertThat(header.addresses().destination().getPort()).isEqualTo(2);
    }

    @Test
    void tlvsInAnotherOrderDecodeAlike() throws Exception {
        byte[] g3Order = Ppv2.g3North(Ppv2.tcp4("10.0.0.1", 1000, "10.0.0.2", 2000),
                "bob", TASK, "example.com:443", 9, "imap", 0).build();
        byte[] reversed = Ppv2.tcp4("10.0.0.1", 1000, "10.0.0.2", 2000)
                .tlv(0xE6, u32(0))
                .tlv(0xE4, "imap")
                .tlv(0xE5, u16(9))
                .tlv(0xE0, "example.com:443")
                .tlv(0xE3, Ppv2.uuid(TASK))
                .tlv(0xE2, "bob")
                .build();

        assertThat(decode(reversed)).isEqualTo(decode(g3Order));
    }

    @Test
    void unknownTlvsAreSkipped() throws Exception {
        byte[] bytes = Ppv2.tcp4("10.0.0.1", 1000, "10.0.0.2", 2000)
                .tlv(0x01, "h2") // ALPN
                .tlv(0xE3, Ppv2.uuid(TASK))
                .tlv(0x03, hex("DEADBEEF")) // CRC32C, not checked
                .tlv(0xE0, "example.com:443")
                .tlv(0xEE, hex("E0000FE5")) // unknown custom type whose value looks like TLVs
                .tlv(0xE5, u16(1))
                .tlv(0xE7, new byte[0])
                .tlv(0xE4, "smtp")
                .tlv(0xE6, u32(0))
                .tlv(0x04, new byte[0]) // NOOP, zero length, last
                .build();

        NorthHeader north = (NorthHeader) decode(bytes);

        assertThat(north.upstream()).hasToString("example.com:443");
        assertThat(north.protocol()).isEqualTo("smtp");
        assertThat(north.matchId()).isEqualTo(1);
    }

    @Test
    void localCommandWithTlvsHasNoAddresses() throws Exception {
        byte[] bytes = Ppv2.g3North(Ppv2.unspec().versionCommand(0x20),
                null, TASK, "example.com:443", 3, "http_2", 0).build();

        NorthHeader north = (NorthHeader) decode(bytes);

        assertThat(north.addresses()).isSameAs(ProxyAddresses.NONE);
        assertThat(north.upstream()).hasToString("example.com:443");
        assertThat(north.matchId()).isEqualTo(3);
    }

    @Test
    void localCommandSkipsTheAddressBlockItsFamilyDeclares() throws Exception {
        byte[] bytes = Ppv2.g3North(Ppv2.tcp4("10.0.0.1", 1000, "10.0.0.2", 2000).versionCommand(0x20),
                null, TASK, "example.com:443", 3, "http_2", 0).build();

        NorthHeader north = (NorthHeader) decode(bytes);

        assertThat(north.addresses()).isSameAs(ProxyAddresses.NONE);
        assertThat(north.taskId()).isEqualTo(TASK);
    }

    @Test
    void unspecFamilyWithTlvs() throws Exception {
        byte[] bytes = Ppv2.g3North(Ppv2.unspec(), "carol", TASK, "1.2.3.4:25", 4, "smtp", 0).build();

        assertThat(Arrays.copyOfRange(bytes, 12, 14)).containsExactly(0x21, 0x00);
        NorthHeader north = (NorthHeader) decode(bytes);

        assertThat(north.addresses()).isEqualTo(ProxyAddresses.NONE);
        assertThat(north.upstream()).isEqualTo(new Upstream("1.2.3.4", 25));
        assertThat(north.user()).contains("carol");
    }

    @ParameterizedTest
    @ValueSource(ints = {0x12, 0x22})
    void udpFamiliesReadLikeTcp(int family) throws Exception {
        Ppv2 h = family == 0x12
                ? Ppv2.tcp4("10.0.0.1", 1000, "10.0.0.2", 2000)
                : Ppv2.tcp6("::1", 1000, "::2", 2000);
        byte[] bytes = h.family(family).tlv(0xE5, u16(5)).build();

        StreamHeader header = decode(bytes);

        assertThat(header.addresses().family()).isEqualTo(family == 0x12 ? Family.INET : Family.INET6);
        assertThat(header.addresses().destination().getPort()).isEqualTo(2000);
    }

    @Test
    void tlsNameIsExposed() throws Exception {
        byte[] bytes = Ppv2.g3North(Ppv2.unspec(), null, TASK, "example.com:443", 0, "http_2", 0)
                .tlv(0xE1, "www.example.com")
                .build();

        NorthHeader north = (NorthHeader) decode(bytes);

        assertThat(north.tlsName()).isEqualTo("www.example.com");
        assertThat(north.serverName()).contains("www.example.com");
    }

    @Test
    void nonAsciiUtf8ValuesDecode() throws Exception {
        byte[] bytes = Ppv2.g3North(Ppv2.unspec(), "jürgen", TASK, "bücher.example:443", 0, "http_2", 0)
                .build();

        NorthHeader north = (NorthHeader) decode(bytes);

        assertThat(north.username()).isEqualTo("jürgen");
        assertThat(north.upstream().host()).isEqualTo("bücher.example");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 65535})
    void matchIdExtremes(int matchId) throws Exception {
        byte[] north = Ppv2.g3North(Ppv2.unspec(), null, TASK, "a:1", matchId, "http_2", 0).build();
        byte[] south = Ppv2.unspec().tlv(0xE5, u16(matchId)).build();

        assertThat(decode(north).matchId()).isEqualTo(matchId);
        assertThat(decode(south).matchId()).isEqualTo(matchId);
    }

    @Test
    void decodesAtAnOffsetInALargerBuffer() throws Exception {
        byte[] header = Ppv2.g3North(Ppv2.tcp4("10.0.0.1", 1000, "10.0.0.2", 2000),
                null, TASK, "example.com:443", 77, "http_2", 0).build();
        byte[] buf = Ppv2.concat(hex("AABBCC"), header, hex("505249")); // junk before, "PRI" after

        int length = decoder.headerLength(buf, 3);
        StreamHeader decoded = decoder.decode(buf, 3, length);

        assertThat(length).isEqualTo(header.length);
        assertThat(decoded).isEqualTo(decode(header));
    }

    // ---- south headers ----

    @Test
    void southHeaderAsG3proxySendsIt() throws Exception {
        byte[] bytes = Ppv2.tcp4("192.168.0.1", 56324, "192.168.0.11", 443).tlv(0xE5, u16(7)).build();

        assertThat(bytes).hasSize(16 + 12 + 5);
        StreamHeader header = decode(bytes);

        assertThat(header).isEqualTo(new SouthHeader(new ProxyAddresses(Family.INET,
                new InetSocketAddress(InetAddress.getByName("192.168.0.1"), 56324),
                new InetSocketAddress(InetAddress.getByName("192.168.0.11"), 443)), 7));
    }

    @Test
    void southHeaderMayCarryUnknownTlvsAndTlsNameOrUsername() throws Exception {
        byte[] bytes = Ppv2.unspec()
                .tlv(0x01, "h2")
                .tlv(0xE2, "alice")
                .tlv(0xE5, u16(12))
                .tlv(0xE1, "example.com")
                .build();

        assertThat(decode(bytes)).isEqualTo(new SouthHeader(ProxyAddresses.NONE, 12));
    }

    // ---- limits ----

    @Test
    void payloadLengthAtTheLimitIsAccepted() throws Exception {
        HeaderDecoder small = new HeaderDecoder(new HeaderLimits(4096, 1000));
        byte[] bytes = Ppv2.g3North(Ppv2.unspec(), null, TASK, "a:1", 0, "websocket", 1000).build();

        assertThat(((NorthHeader) small.decode(bytes, 0, bytes.length)).payloadLength()).isEqualTo(1000);
    }

    @Test
    void payloadLengthAboveTheLimitIsRejected() {
        HeaderDecoder small = new HeaderDecoder(new HeaderLimits(4096, 1000));
        byte[] bytes = Ppv2.g3North(Ppv2.unspec(), null, TASK, "a:1", 0, "websocket", 1001).build();

        assertThatThrownBy(() -> small.decode(bytes, 0, bytes.length))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.PAYLOAD_TOO_LARGE);
                    assertThat(e).hasMessage("payload length 1001 exceeds the limit of 1000");
                });
    }

    @Test
    void payloadLengthBeyondIntRangeIsRejected() {
        byte[] bytes = Ppv2.g3North(Ppv2.unspec(), null, TASK, "a:1", 0, "websocket", 0xFFFFFFFFL).build();

        assertError(bytes, Kind.PAYLOAD_TOO_LARGE, "payload length 4294967295 exceeds the limit of 65536");
    }

    @Test
    void headerLengthLimit() throws Exception {
        HeaderDecoder small = new HeaderDecoder(new HeaderLimits(64, 0));
        byte[] atLimit = Ppv2.unspec().tlv(0xE5, u16(1)).tlv(0xEE, new byte[40]).build();
        byte[] overLimit = Ppv2.unspec().tlv(0xE5, u16(1)).tlv(0xEE, new byte[41]).build();

        assertThat(small.headerLength(atLimit, 0)).isEqualTo(64);
        assertThat(small.decode(atLimit, 0, 64)).isInstanceOf(SouthHeader.class);
        assertThatThrownBy(() -> small.headerLength(overLimit, 0))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.HEADER_TOO_LARGE);
                    assertThat(e).hasMessage("header is 65 bytes, limit 64");
                });
    }

    @Test
    void headerLengthLimitIsCheckedFromThePreambleAlone() {
        byte[] preamble = Arrays.copyOf(Ppv2.unspec().lengthField(0xFFFF).build(), 16);

        assertThatThrownBy(() -> decoder.headerLength(preamble, 0))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.HEADER_TOO_LARGE);
                    assertThat(e).hasMessage("header is 65551 bytes, limit 4096");
                });
    }

    @Test
    void limitsAreValidated() {
        assertThat(HeaderLimits.DEFAULT).isEqualTo(new HeaderLimits(4096, 65536));
        assertThatThrownBy(() -> new HeaderLimits(15, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new HeaderLimits(16, -1)).isInstanceOf(IllegalArgumentException.class);
    }

    // ---- preamble errors ----

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
    void badSignatureByte(int index) {
        byte[] bytes = Ppv2.unspec().tlv(0xE5, u16(1)).build();
        bytes[index] ^= 0x40;

        assertThatThrownBy(() -> decoder.headerLength(bytes, 0))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.BAD_SIGNATURE);
                    assertThat(e).hasMessage(String.format("signature byte %d is 0x%02X, expected 0x%02X",
                            index, bytes[index] & 0xFF, Ppv2.SIGNATURE[index]));
                });
        assertError(bytes, Kind.BAD_SIGNATURE, null);
    }

    @Test
    void badVersion() {
        assertError(Ppv2.unspec().versionCommand(0x31).build(), Kind.BAD_VERSION,
                "version 3 (byte 12 is 0x31), expected 2");
        assertError(Ppv2.unspec().versionCommand(0x11).build(), Kind.BAD_VERSION,
                "version 1 (byte 12 is 0x11), expected 2");
    }

    @Test
    void badCommand() {
        assertError(Ppv2.unspec().versionCommand(0x2F).build(), Kind.BAD_COMMAND,
                "command 0xF (byte 12 is 0x2F), expected PROXY 0x1 or LOCAL 0x0");
        assertError(Ppv2.unspec().versionCommand(0x22).build(), Kind.BAD_COMMAND, null);
    }

    @ParameterizedTest
    @ValueSource(ints = {0x31, 0x32, 0x01, 0x02, 0x10, 0x13, 0x20, 0x23, 0xFF})
    void badFamily(int family) {
        assertError(Ppv2.unspec().family(family).tlv(0xE5, u16(1)).build(), Kind.BAD_FAMILY,
                String.format("family byte 13 is 0x%02X, expected 0x11/0x12 (IPv4), 0x21/0x22 (IPv6)"
                        + " or 0x00 (UNSPEC)", family));
    }

    @Test
    void headerLengthNeedsTheWholePreamble() {
        byte[] bytes = Arrays.copyOf(Ppv2.unspec().build(), 15);

        assertThatThrownBy(() -> decoder.headerLength(bytes, 0))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.TRUNCATED);
                    assertThat(e).hasMessage("preamble needs 16 bytes, have 15");
                });
    }

    // ---- body errors ----

    @Test
    void decodeOfABufferShorterThanDeclaredIsTruncated() {
        byte[] bytes = Ppv2.tcp4("10.0.0.1", 1, "10.0.0.2", 2).tlv(0xE5, u16(1)).build();
        byte[] cut = Arrays.copyOf(bytes, bytes.length - 1);

        assertThatThrownBy(() -> decoder.decode(cut, 0, bytes.length))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.TRUNCATED);
                    assertThat(e).hasMessage("header declares 33 bytes, have 32");
                });
        assertThatThrownBy(() -> decoder.decode(bytes, 0, 32))
                .isInstanceOfSatisfying(HeaderException.class,
                        e -> assertThat(e).hasMessage("header declares 33 bytes, have 32"));
        assertThatThrownBy(() -> decoder.decode(bytes, 0, 10))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.TRUNCATED);
                    assertThat(e).hasMessage("preamble needs 16 bytes, have 10");
                });
    }

    @Test
    void decodeWithALengthBeyondTheHeaderIsACallerBug() {
        byte[] bytes = Ppv2.concat(Ppv2.unspec().tlv(0xE5, u16(1)).build(), new byte[4]);

        assertThatThrownBy(() -> decoder.decode(bytes, 0, bytes.length))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("length 25 exceeds the header's declared 21 bytes");
    }

    @Test
    void lengthFieldShorterThanTheAddressBlock() {
        byte[] ipv4 = Ppv2.tcp4("10.0.0.1", 1, "10.0.0.2", 2).lengthField(11).build();
        byte[] ipv6 = Ppv2.tcp6("::1", 1, "::2", 2).lengthField(35).build();
        byte[] ipv6Empty = Ppv2.tcp6("::1", 1, "::2", 2).lengthField(0).build();

        assertError(ipv4, Kind.ADDRESS_OVERRUN,
                "length field 11 is shorter than the 12-byte address block of family 0x11");
        assertError(ipv6, Kind.ADDRESS_OVERRUN,
                "length field 35 is shorter than the 36-byte address block of family 0x21");
        assertError(ipv6Empty, Kind.ADDRESS_OVERRUN, null);
    }

    @Test
    void tlvRunningPastTheEnd() {
        byte[] bytes = Ppv2.tcp4("10.0.0.1", 1, "10.0.0.2", 2)
                .tlv(0xE5, u16(1)) // offsets 28..32
                .tlv(0xEE, new byte[4]) // 33..39
                .raw(hex("E6 0068 00000000")) // at 40: claims 104 bytes, 4 present
                .build();

        assertError(bytes, Kind.TLV_OVERRUN, "TLV 0xE6 at offset 40 claims 104 bytes, 4 left");
    }

    @Test
    void tlvOverrunByOneByte() {
        byte[] bytes = Ppv2.unspec().tlv(0xE5, u16(1)).raw(hex("EE 0003 0000")).build();

        assertError(bytes, Kind.TLV_OVERRUN, "TLV 0xEE at offset 21 claims 3 bytes, 2 left");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void trailingBytesThatCannotHoldATlvHeader(int trailing) {
        byte[] bytes = Ppv2.unspec().tlv(0xE5, u16(1)).raw(new byte[trailing]).build();

        assertError(bytes, Kind.TLV_OVERRUN,
                trailing + " trailing byte(s) at offset 21 cannot hold a TLV header");
    }

    @Test
    void threeTrailingBytesAreAnEmptyTlv() throws Exception {
        byte[] bytes = Ppv2.unspec().tlv(0xE5, u16(1)).raw(new byte[3]).build();

        assertThat(decode(bytes)).isEqualTo(new SouthHeader(ProxyAddresses.NONE, 1));
    }

    @ParameterizedTest
    @ValueSource(ints = {0xE0, 0xE3, 0xE4, 0xE5, 0xE6})
    void northHeaderMissingARequiredTlv(int missing) {
        Ppv2 h = Ppv2.tcp4("10.0.0.1", 1, "10.0.0.2", 2);
        if (missing != 0xE3) {
            h.tlv(0xE3, Ppv2.uuid(TASK));
        }
        if (missing != 0xE0) {
            h.tlv(0xE0, "example.com:443");
        }
        if (missing != 0xE5) {
            h.tlv(0xE5, u16(1));
        }
        if (missing != 0xE4) {
            h.tlv(0xE4, "http_2");
        }
        if (missing != 0xE6) {
            h.tlv(0xE6, u32(0));
        }
        String name = switch (missing) {
            case 0xE0 -> "upstream";
            case 0xE3 -> "task id";
            case 0xE4 -> "protocol";
            case 0xE5 -> "match id";
            default -> "payload length";
        };

        assertError(h.build(), Kind.MISSING_TLV,
                String.format("north header lacks TLV 0x%02X (%s)", missing, name));
    }

    @Test
    void missingTlvsAreAllNamed() {
        byte[] bytes = Ppv2.unspec().tlv(0xE4, "http_2").build();

        assertError(bytes, Kind.MISSING_TLV, "north header lacks TLV 0xE0 (upstream), 0xE3 (task id),"
                + " 0xE5 (match id), 0xE6 (payload length)");
    }

    @Test
    void headerWithoutMatchIdOrNorthTlvs() {
        String message = "header has no match id TLV 0xE5 and no north TLV 0xE0, 0xE3, 0xE4 or 0xE6";

        assertError(Ppv2.tcp4("10.0.0.1", 1, "10.0.0.2", 2).build(), Kind.MISSING_TLV, message);
        assertError(Ppv2.unspec().tlv(0xE1, "x").tlv(0xE2, "y").tlv(0x01, "h2").build(),
                Kind.MISSING_TLV, message);
    }

    @ParameterizedTest
    @ValueSource(ints = {0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6})
    void repeatedCustomTlv(int type) {
        byte[] value = switch (type) {
            case 0xE3 -> Ppv2.uuid(TASK);
            case 0xE5 -> u16(1);
            case 0xE6 -> u32(0);
            default -> "example.com:443".getBytes();
        };
        byte[] bytes = Ppv2.g3North(Ppv2.unspec(), "u", TASK, "example.com:443", 1, "http_2", 0)
                .tlv(0xE1, "example.com")
                .tlv(type, value)
                .build();

        assertThatThrownBy(() -> decode(bytes))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.BAD_TLV);
                    assertThat(e.getMessage()).startsWith(String.format("TLV 0x%02X (", type))
                            .endsWith("is repeated");
                });
    }

    @Test
    void wrongSizeTaskId() {
        for (int size : new int[] {0, 15, 17}) {
            byte[] bytes = Ppv2.unspec().tlv(0xE3, new byte[size]).build();
            assertError(bytes, Kind.BAD_TLV,
                    "TLV 0xE3 (task id) at offset 16 has " + size + " bytes, expected 16");
        }
    }

    @Test
    void wrongSizeMatchId() {
        for (int size : new int[] {0, 1, 3, 4}) {
            byte[] bytes = Ppv2.unspec().tlv(0xE5, new byte[size]).build();
            assertError(bytes, Kind.BAD_TLV,
                    "TLV 0xE5 (match id) at offset 16 has " + size + " bytes, expected 2");
        }
    }

    @Test
    void wrongSizePayloadLength() {
        for (int size : new int[] {0, 2, 3, 8}) {
            byte[] bytes = Ppv2.unspec().tlv(0xE5, u16(0)).tlv(0xE6, new byte[size]).build();
            assertError(bytes, Kind.BAD_TLV,
                    "TLV 0xE6 (payload length) at offset 21 has " + size + " bytes, expected 4");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"C328", "C0AF", "80", "EDA080", "F4908080", "E282"})
    void malformedUtf8IsRejected(String badHex) {
        byte[] bad = hex("61" + badHex + "62");
        for (int type : new int[] {0xE0, 0xE1, 0xE2, 0xE4}) {
            byte[] bytes = Ppv2.unspec().tlv(type, bad).build();
            assertThatThrownBy(() -> decode(bytes))
                    .isInstanceOfSatisfying(HeaderException.class, e -> {
                        assertThat(e.kind()).isEqualTo(Kind.BAD_TLV);
                        assertThat(e.getMessage())
                                .startsWith(String.format("TLV 0x%02X (", type))
                                .endsWith("at offset 16 is not valid UTF-8");
                    });
        }
    }

    @Test
    void emptyProtocolIsRejected() {
        assertError(Ppv2.unspec().tlv(0xE4, "").build(), Kind.BAD_TLV,
                "TLV 0xE4 (protocol) at offset 16 is empty");
    }

    @Test
    void unknownProtocolIsAccepted() throws Exception {
        byte[] bytes = Ppv2.g3North(Ppv2.unspec(), null, TASK, "a:1", 0, "ftp_control", 0).build();

        assertThat(((NorthHeader) decode(bytes)).protocol()).isEqualTo("ftp_control");
    }

    @ParameterizedTest
    @ValueSource(strings = {"noport", "[::1", "host:99999", "", "host:", ":443", "::1:443"})
    void unparsableUpstream(String upstream) {
        byte[] bytes = Ppv2.unspec().tlv(0xE0, upstream).build();

        assertThatThrownBy(() -> decode(bytes))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.BAD_TLV);
                    assertThat(e.getMessage()).startsWith("TLV 0xE0 (upstream) at offset 16 does not parse: ");
                });
    }

    @Test
    void upstreamErrorSaysWhy() {
        assertError(Ppv2.unspec().tlv(0xE0, "host:99999").build(), Kind.BAD_TLV,
                "TLV 0xE0 (upstream) at offset 16 does not parse: upstream 'host:99999' has port 99999,"
                        + " above 65535");
    }

    @Test
    void headerExceptionCarriesKindAndMessageWithoutStackTrace() {
        HeaderException e = new HeaderException(Kind.TIMEOUT, "no header after 10 s");

        assertThat(e.kind()).isEqualTo(Kind.TIMEOUT);
        assertThat(e).hasMessage("no header after 10 s");
        assertThat(e.getStackTrace()).isEmpty();
    }

    private StreamHeader decode(byte[] bytes) throws HeaderException {
        return decoder.decode(bytes, 0, decoder.headerLength(bytes, 0));
    }

    /** Checks kind, and the exact message unless null. */
    private void assertError(byte[] bytes, Kind kind, String message) {
        assertThatThrownBy(() -> decode(bytes))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(kind);
                    if (message != null) {
                        assertThat(e).hasMessage(message);
                    }
                });
    }
}
