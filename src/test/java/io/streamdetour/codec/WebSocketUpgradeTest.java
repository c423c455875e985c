package io.streamdetour.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class WebSocketUpgradeTest {

    private static WebSocketUpgrade parse(String payload) throws HeaderException {
        return WebSocketUpgrade.parse(payload.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void theExactPayloadG3proxySends() throws Exception {
        WebSocketUpgrade ws = parse("/chat\r\nhost: example.com\r\norigin: https://example.com\r\n"
                + "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n");

        assertThat(ws.resource()).isEqualTo("/chat");
        assertThat(ws.headers()).containsExactly(
                Map.entry("host", List.of("example.com")),
                Map.entry("origin", List.of("https://example.com")),
                Map.entry("sec-websocket-key", List.of("dGhlIHNhbXBsZSBub25jZQ==")),
                Map.entry("sec-websocket-version", List.of("13")));
        assertThat(ws.header("origin")).contains("https://example.com");
    }

    @Test
    void namesMatchCaseInsensitively() throws Exception {
        WebSocketUpgrade ws = parse("/x?y=1\r\nHost: a.example\r\nSec-WebSocket-Protocol: chat\r\n");

        assertThat(ws.headers()).containsOnlyKeys("host", "sec-websocket-protocol");
        assertThat(ws.header("host")).contains("a.example");
        assertThat(ws.header("HOST")).contains("a.example");
        assertThat(ws.header("sec-websocket-protocol")).contains("chat");
        assertThat(ws.header("Sec-WebSocket-Protocol")).contains("chat");
    }

    @Test
    void repeatedHeadersKeepAllValuesInOrder() throws Exception {
        WebSocketUpgrade ws = parse("/chat\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                + "sec-websocket-extensions: permessage-deflate\r\n"
                + "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n");

        assertThat(ws.headers("sec-websocket-extensions"))
                .containsExactly("permessage-deflate", "x-webkit-deflate-frame");
        assertThat(ws.header("sec-websocket-extensions")).contains("permessage-deflate");
        assertThat(ws.header("sec-websocket-accept")).contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    @Test
    void absentHeaders() throws Exception {
        WebSocketUpgrade ws = parse("/chat\r\n");

        assertThat(ws.headers()).isEmpty();
        assertThat(ws.header("host")).isEmpty();
        assertThat(ws.headers("host")).isEmpty();
    }

    @Test
    void valuesAreTrimmedAndMayBeEmptyOrHoldColons() throws Exception {
        WebSocketUpgrade ws = parse("/chat\r\nhost:example.com:8080  \r\nsec-websocket-protocol:\r\n"
                + "origin: \t https://example.com \r\n");

        assertThat(ws.header("host")).contains("example.com:8080");
        assertThat(ws.header("sec-websocket-protocol")).contains("");
        assertThat(ws.header("origin")).contains("https://example.com");
    }

    @Test
    void aTrailingEmptyLineAndAMissingFinalCrlfAreTolerated() throws Exception {
        WebSocketUpgrade expected = parse("/chat\r\nhost: a\r\n");

        assertThat(parse("/chat\r\nhost: a\r\n\r\n")).isEqualTo(expected);
        assertThat(parse("/chat\r\nhost: a")).isEqualTo(expected);
        assertThat(parse("/chat").resource()).isEqualTo("/chat");
    }

    @Test
    void utf8Values() throws Exception {
        assertThat(parse("/caf\u00e9\r\norigin: https://b\u00fccher.example\r\n").header("origin"))
                .contains("https://b\u00fccher.example");
    }

    static Stream<Arguments> malformedPayloads() {
        return Stream.of(
                arguments("", "websocket payload is empty, expected a resource line"),
                arguments("\r\n", "websocket payload has an empty resource line"),
                arguments("\r\nhost: a\r\n", "websocket payload has an empty resource line"),
                arguments("/chat\r\nhost example.com\r\n", "websocket payload line 2 has no ':'"),
                arguments("/chat\r\n\r\nhost: a\r\n", "websocket payload line 2 has no ':'"),
                arguments("/chat\r\nhost: a\r\n\r\n\r\n", "websocket payload line 3 has no ':'"),
                arguments("/chat\r\n: a\r\n",
                        "websocket payload line 2 has an empty or space-padded header name ''"),
                arguments("/chat\r\nhost : a\r\n",
                        "websocket payload line 2 has an empty or space-padded header name 'host '"),
                arguments("/chat\r\nhost: a\nx-evil: b\r\n",
                        "websocket payload line 2 contains a bare CR or LF"),
                arguments("/chat\rhost: a\r\n", "websocket payload line 1 contains a bare CR or LF"));
    }

    @ParameterizedTest
    @MethodSource
    void malformedPayloads(String payload, String message) {
        assertThatThrownBy(() -> parse(payload))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(HeaderException.Kind.BAD_PAYLOAD);
                    assertThat(e).hasMessage(message);
                });
    }

    @Test
    void malformedUtf8() {
        byte[] payload = {'/', 'a', (byte) 0xC3, '(', '\r', '\n'};

        assertThatThrownBy(() -> WebSocketUpgrade.parse(payload))
                .isInstanceOfSatisfying(HeaderException.class, e -> {
                    assertThat(e.kind()).isEqualTo(HeaderException.Kind.BAD_PAYLOAD);
                    assertThat(e).hasMessage("websocket payload is not valid UTF-8");
                });
    }

    @Test
    void constructorLowerCasesMergesAndFreezesHeaders() {
        WebSocketUpgrade ws = new WebSocketUpgrade("/chat", Map.of(
                "Sec-WebSocket-Extensions", List.of("a"),
                "HOST", List.of("h")));

        assertThat(ws.headers()).containsOnlyKeys("sec-websocket-extensions", "host");
        assertThat(ws.headers("Host")).containsExactly("h");
        assertThatThrownBy(() -> ws.headers().put("x", List.of()))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> ws.headers("host").add("y"))
                .isInstanceOf(UnsupportedOperationException.class);
    }
}
