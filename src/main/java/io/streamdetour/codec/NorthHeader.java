package io.streamdetour.codec;

import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * The header g3proxy sends first on the north stream. The decoder returns it with an empty
 * payload and {@code payloadLength} set; the stream reader reads that many bytes and attaches them
 * with {@link #withPayload}.
 *
 * @param username    TLV 0xE2, null when g3proxy has no client auth
 * @param protocol    TLV 0xE4: {@code http_2}, {@code websocket}, {@code smtp}, {@code imap}, or
 *                    whatever a newer g3proxy sends
 * @param tlsName     TLV 0xE1, null when absent (g3proxy does not send it today)
 * @param payload     empty until attached, then exactly {@code payloadLength} bytes
 */
public record NorthHeader(
        ProxyAddresses addresses,
        Upstream upstream,
        String username,
        UUID taskId,
        String protocol,
        int matchId,
        String tlsName,
        int payloadLength,
        byte[] payload)
        implements StreamHeader {

    public NorthHeader {
        Objects.requireNonNull(addresses, "addresses");
        Objects.requireNonNull(upstream, "upstream");
        Objects.requireNonNull(taskId, "taskId");
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(payload, "payload");
        if (matchId < 0 || matchId > 0xFFFF) {
            throw new IllegalArgumentException("match id " + matchId + " is outside 0..65535");
        }
        if (payloadLength < 0) {
            throw new IllegalArgumentException("payload length " + payloadLength + " is negative");
        }
        if (payload.length != 0 && payload.length != payloadLength) {
            throw new IllegalArgumentException("payload has " + payload.length
                    + " bytes, the header declares " + payloadLength);
        }
        // Copied in and out: a record's array component would otherwise be shared and mutable.
        payload = payload.clone();
    }

    @Override
    public byte[] payload() {
        return payload.clone();
    }

    public Optional<String> user() {
        return Optional.ofNullable(username);
    }

    public Optional<String> serverName() {
        return Optional.ofNullable(tlsName);
    }

    /** This header with its payload attached, which must be exactly {@code payloadLength} bytes. */
    public NorthHeader withPayload(byte[] payload) {
        if (payload.length != payloadLength) {
            throw new IllegalArgumentException("payload has " + payload.length
                    + " bytes, the header declares " + payloadLength);
        }
        return new NorthHeader(addresses, upstream, username, taskId, protocol, matchId, tlsName,
                payloadLength, payload);
    }

    /**
     * The WebSocket upgrade carried in the payload, parsed on each call (only the WebSocket policy
     * needs it); empty when the protocol is not {@code websocket}.
     *
     * @throws HeaderException       BAD_PAYLOAD when the payload does not parse
     * @throws IllegalStateException when the payload has not been attached yet
     */
    public Optional<WebSocketUpgrade> webSocket() throws HeaderException {
        if (!"websocket".equals(protocol)) {
            return Optional.empty();
        }
        if (payload.length != payloadLength) {
            throw new IllegalStateException("websocket payload of " + payloadLength
                    + " bytes is not attached yet");
        }
        return Optional.of(WebSocketUpgrade.parse(payload));
    }

    // equals, hashCode and toString by payload content, not by array identity.

    @Override
    public boolean equals(Object o) {
        return o instanceof NorthHeader h
                && addresses.equals(h.addresses)
                && upstream.equals(h.upstream)
                && Objects.equals(username, h.username)
                && taskId.equals(h.taskId)
                && protocol.equals(h.protocol)
                && matchId == h.matchId
                && Objects.equals(tlsName, h.tlsName)
                && payloadLength == h.payloadLength
                && Arrays.equals(payload, h.payload);
    }

    @Override
    public int hashCode() {
        return Objects.hash(addresses, upstream, username, taskId, protocol, matchId, tlsName,
                payloadLength, Arrays.hashCode(payload));
    }

    @Override
    public String toString() {
        return "NorthHeader[addresses=" + addresses + ", upstream=" + upstream
                + ", username=" + username + ", taskId=" + taskId + ", protocol=" + protocol
                + ", matchId=" + matchId + ", tlsName=" + tlsName
                + ", payloadLength=" + payloadLength + ", payload=" + payload.length + " bytes]";
    }
}
