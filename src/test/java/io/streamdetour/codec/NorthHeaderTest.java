package io.streamdetour.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class NorthHeaderTest {

    private static final UUID TASK = UUID.fromString("01234567-89ab-cdef-0011-223344556677");
    private static final byte[] WS_PAYLOAD = ("/chat\r\nhost: example.com\r\n"
            + "sec-websocket-version: 13\r\n").getBytes(StandardCharsets.UTF_8);

    private static NorthHeader header(String protocol, int payloadLength) {
        return new NorthHeader(ProxyAddresses.NONE, new Upstream("example.com", 443), null, TASK,
                protocol, 1, null, payloadLength, new byte[0]);
    }

    @Test
    void payloadIsCopiedInAndOut() {
        byte[] bytes = {1, 2, 3};
        NorthHeader h = header("websocket", 3).withPayload(bytes);

        bytes[0] = 9;
        assertThat(h.payload()).containsExactly(1, 2, 3);

        h.payload()[1] = 9;
        assertThat(h.payload()).containsExactly(1, 2, 3);
        assertThat(h.payload()).isNotSameAs(h.payload());
    }

    @Test
    void withPayloadKeepsTheOtherFieldsAndLeavesTheOriginalAlone() {
        NorthHeader h = header("websocket", WS_PAYLOAD.length);

        NorthHeader attached = h.withPayload(WS_PAYLOAD);

        assertThat(attached.payload()).isEqualTo(WS_PAYLOAD);
        assertThat(attached.payloadLength()).isEqualTo(WS_PAYLOAD.length);
        assertThat(attached.upstream()).isEqualTo(h.upstream());
        assertThat(h.payload()).isEmpty();
    }

    @Test
    void withPayloadRequiresTheDeclaredLength() {
        NorthHeader h = header("websocket", 4);

        assertThatThrownBy(() -> h.withPayload(new byte[3]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("payload has 3 bytes, the header declares 4");
    }

    @Test
    void constructorRejectsInconsistentValues() {
        assertThatThrownBy(() -> new NorthHeader(ProxyAddresses.NONE, new Upstream("a", 1), null, TASK,
                "http_2", 65536, null, 0, new byte[0])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new NorthHeader(ProxyAddresses.NONE, new Upstream("a", 1), null, TASK,
                "http_2", 0, null, 2, new byte[1])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new NorthHeader(ProxyAddresses.NONE, null, null, TASK,
                "http_2", 0, null, 0, new byte[0])).isInstanceOf(NullPointerException.class);
    }

    @Test
    void equalityIsByPayloadContent() {
        NorthHeader a = header("websocket", 3).withPayload(new byte[] {1, 2, 3});
        NorthHeader b = header("websocket", 3).withPayload(new byte[] {1, 2, 3});
        NorthHeader c = header("websocket", 3).withPayload(new byte[] {1, 2, 4});

        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b).isNotEqualTo(c);
        assertThat(a.toString()).contains("payload=3 bytes").contains("upstream=example.com:443");
    }

    @Test
    void webSocketIsParsedFromThePayload() throws Exception {
        NorthHeader h = header("websocket", WS_PAYLOAD.length).withPayload(WS_PAYLOAD);

        WebSocketUpgrade ws = h.webSocket().orElseThrow();

        assertThat(ws.resource()).isEqualTo("/chat");
        assertThat(ws.header("Host")).contains("example.com");
    }

    @Test
    void webSocketIsEmptyForOtherProtocols() throws Exception {
        assertThat(header("http_2", 0).webSocket()).isEmpty();
        assertThat(header("smtp", 0).webSocket()).isEmpty();
    }

    @Test
    void webSocketBeforeThePayloadIsAttachedIsACallerBug() {
        assertThatThrownBy(() -> header("websocket", 10).webSocket())
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void malformedWebSocketPayloadIsBadPayload() {
        byte[] bad = "/chat\r\nno colon here\r\n".getBytes(StandardCharsets.UTF_8);
        NorthHeader h = header("websocket", bad.length).withPayload(bad);

        assertThatThrownBy(h::webSocket)
                .isInstanceOfSatisfying(HeaderException.class,
                        e -> assertThat(e.kind()).isEqualTo(HeaderException.Kind.BAD_PAYLOAD));
    }
}
