package io.streamdetour.testclient;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.UUID;

/**
 * The north stream's PROXY v2 header exactly as g3proxy's detour client writes it:
 * TLVs E2 (username, only if set), E3, E0, E5, E4, E6, in that order.
 */
public record G3NorthHeader(
        InetSocketAddress client,
        InetSocketAddress proxy,
        String username,
        UUID taskId,
        String upstream,
        int matchId,
        String protocol,
        long payloadLength) {

    public static final int TLV_UPSTREAM = 0xE0;
    public static final int TLV_USERNAME = 0xE2;
    public static final int TLV_TASK_ID = 0xE3;
    public static final int TLV_PROTOCOL = 0xE4;
    public static final int TLV_MATCH_ID = 0xE5;
    public static final int TLV_PAYLOAD_LENGTH = 0xE6;

    public G3NorthHeader {
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(proxy, "proxy");
        Objects.requireNonNull(taskId, "taskId");
        Objects.requireNonNull(upstream, "upstream");
        Objects.requireNonNull(protocol, "protocol");
    }

    /** The header a client with these settings writes for this spec and match id (random task id unless set). */
    static G3NorthHeader of(ClientSettings settings, SessionSpec spec, int matchId, int payloadLength) {
        UUID taskId = spec.taskId() == null ? UUID.randomUUID() : spec.taskId();
        return new G3NorthHeader(settings.clientAddress(), settings.proxyAddress(), spec.username(), taskId,
                spec.upstream(), matchId, spec.protocol(), payloadLength);
    }

    public byte[] encode() {
        ProxyV2Writer writer = new ProxyV2Writer(client, proxy);
        if (username != null) {
            writer.tlv(TLV_USERNAME, username.getBytes(StandardCharsets.UTF_8));
        }
        return writer.tlv(TLV_TASK_ID, uuidBytes(taskId))
                .tlv(TLV_UPSTREAM, upstream.getBytes(StandardCharsets.UTF_8))
                .tlvU16(TLV_MATCH_ID, matchId)
                .tlv(TLV_PROTOCOL, protocol.getBytes(StandardCharsets.UTF_8))
                .tlvU32(TLV_PAYLOAD_LENGTH, payloadLength)
                .toBytes();
    }

    public G3NorthHeader withMatchId(int newMatchId) {
        return new G3NorthHeader(client, proxy, username, taskId, upstream, newMatchId, protocol, payloadLength);
    }

    public G3NorthHeader withPayloadLength(long newPayloadLength) {
        return new G3NorthHeader(client, proxy, username, taskId, upstream, matchId, protocol, newPayloadLength);
    }

    private static byte[] uuidBytes(UUID uuid) {
        return ByteBuffer.allocate(16)
                .putLong(uuid.getMostSignificantBits())
                .putLong(uuid.getLeastSignificantBits())
                .array();
    }
}
