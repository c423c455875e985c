package io.streamdetour.testclient;

import io.streamdetour.codec.Action;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.UUID;

/**
 * One client-remote session as g3proxy would detour it.
 *
 * @param protocol       TLV E4, e.g. {@code http_2} or {@code websocket}
 * @param upstream       TLV E0, {@code host:port} (see {@link #hostPort})
 * @param username       TLV E2, or null to leave it out (g3proxy without client auth)
 * @param payload        bytes after the north header, or null for the protocol's default
 * @param bytesEachWay   data sent on north and on south after a continue
 * @param chunkSize      size of each data write
 * @param expectedAction the reply this session must get to be ok
 * @param endLikeG3      end the data phase as g3proxy ends a relay (spec section 6, "Relay ending")
 * @param taskId         TLV E3, or null for a random UUID v4
 */
public record SessionSpec(
        String protocol,
        String upstream,
        String username,
        byte[] payload,
        long bytesEachWay,
        int chunkSize,
        Action expectedAction,
        boolean endLikeG3,
        UUID taskId) {

    public static final String DEFAULT_UPSTREAM = "example.com:443";
    public static final int DEFAULT_CHUNK_SIZE = 16 * 1024;

    /** What g3proxy sends for a websocket upgrade of {@code /chat} to example.com (lower-case header names). */
    public static final String DEFAULT_WEBSOCKET_PAYLOAD = "/chat\r\n"
            + "host: example.com\r\n"
            + "origin: https://example.com\r\n"
            + "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "sec-websocket-version: 13\r\n";

    public SessionSpec {
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(upstream, "upstream");
        Objects.requireNonNull(expectedAction, "expectedAction");
        if (bytesEachWay < 0) {
            throw new IllegalArgumentException("bytesEachWay < 0: " + bytesEachWay);
        }
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunkSize <= 0: " + chunkSize);
        }
        payload = payload == null ? null : payload.clone();
    }

    /** An http_2 session to example.com:443 expecting continue and relaying {@code bytesEachWay} each way. */
    public static SessionSpec continueWith(long bytesEachWay) {
        return new SessionSpec("http_2", DEFAULT_UPSTREAM, null, null, bytesEachWay, DEFAULT_CHUNK_SIZE,
                Action.CONTINUE, false, null);
    }

    /** {@code host:port}, an IPv6 literal in brackets as g3proxy writes TLV E0. */
    public static String hostPort(String host, int port) {
        boolean ipv6Literal = host.indexOf(':') >= 0 && !host.startsWith("[");
        return (ipv6Literal ? "[" + host + "]" : host) + ":" + port;
    }

    /** The payload to send: the given one, or g3proxy's for the protocol (websocket upgrade lines, else none). */
    public byte[] effectivePayload() {
        if (payload != null) {
            return payload.clone();
        }
        return "websocket".equals(protocol)
                ? DEFAULT_WEBSOCKET_PAYLOAD.getBytes(StandardCharsets.US_ASCII)
                : new byte[0];
    }

    @Override
    public byte[] payload() {
        return payload == null ? null : payload.clone();
    }

    public SessionSpec withProtocol(String newProtocol) {
        return new SessionSpec(newProtocol, upstream, username, payload, bytesEachWay, chunkSize, expectedAction, endLikeG3, taskId);
    }

    public SessionSpec withUpstream(String newUpstream) {
        return new SessionSpec(protocol, newUpstream, username, payload, bytesEachWay, chunkSize, expectedAction, endLikeG3, taskId);
    }

    public SessionSpec withUsername(String newUsername) {
        return new SessionSpec(protocol, upstream, newUsername, payload, bytesEachWay, chunkSize, expectedAction, endLikeG3, taskId);
    }

    public SessionSpec withPayload(byte[] newPayload) {
        return new SessionSpec(protocol, upstream, username, newPayload, bytesEachWay, chunkSize, expectedAction, endLikeG3, taskId);
    }

    public SessionSpec withBytesEachWay(long newBytesEachWay) {
        return new SessionSpec(protocol, upstream, username, payload, newBytesEachWay, chunkSize, expectedAction, endLikeG3, taskId);
    }

    public SessionSpec withChunkSize(int newChunkSize) {
        return new SessionSpec(protocol, upstream, username, payload, bytesEachWay, newChunkSize, expectedAction, endLikeG3, taskId);
    }

    public SessionSpec withExpectedAction(Action newExpectedAction) {
        return new SessionSpec(protocol, upstream, username, payload, bytesEachWay, chunkSize, newExpectedAction, endLikeG3, taskId);
    }

    public SessionSpec withEndLikeG3(boolean newEndLikeG3) {
        return new SessionSpec(protocol, upstream, username, payload, bytesEachWay, chunkSize, expectedAction, newEndLikeG3, taskId);
    }

    public SessionSpec withTaskId(UUID newTaskId) {
        return new SessionSpec(protocol, upstream, username, payload, bytesEachWay, chunkSize, expectedAction, endLikeG3, newTaskId);
    }
}
