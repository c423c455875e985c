package io.streamdetour.codec;

import java.nio.charset.CharacterCodingException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The north payload of a {@code websocket} session: the resource name and the upgrade's request
 * and response headers. Names are held lower-cased; values keep their order and repeats
 * ({@code sec-websocket-extensions} may repeat).
 */
public record WebSocketUpgrade(String resource, Map<String, List<String>> headers) {

    public WebSocketUpgrade {
        Objects.requireNonNull(resource, "resource");
        Map<String, List<String>> copy = new LinkedHashMap<>();
        headers.forEach((name, values) -> copy
                .computeIfAbsent(name.toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                .addAll(values));
        copy.replaceAll((name, values) -> List.copyOf(values));
        headers = Collections.unmodifiableMap(copy);
    }

    /**
     * Parses UTF-8 lines ending in CRLF: the resource, then {@code name: value} lines (value
     * trimmed). One empty line at the end, as closes an HTTP header block, is tolerated, and so is
     * a last line without CRLF.
     *
     * @throws HeaderException BAD_PAYLOAD with the line at fault
     */
    public static WebSocketUpgrade parse(byte[] payload) throws HeaderException {
        String text;
        try {
            text = Utf8.decode(payload, 0, payload.length);
        } catch (CharacterCodingException e) {
            throw bad("is not valid UTF-8");
        }
        if (text.isEmpty()) {
            throw bad("is empty, expected a resource line");
        }
        String resource = null;
        Map<String, List<String>> headers = new LinkedHashMap<>();
        int pos = 0;
        for (int lineNo = 1; pos < text.length(); lineNo++) {
            int crlf = text.indexOf("\r\n", pos);
            int end = crlf < 0 ? text.length() : crlf;
            String line = text.substring(pos, end);
            pos = crlf < 0 ? end : end + 2;
            // A bare CR or LF would let one line read as two to a later HTTP consumer.
            if (line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0) {
                throw bad("line " + lineNo + " contains a bare CR or LF");
            }
            if (lineNo == 1) {
                if (line.isEmpty()) {
                    throw bad("has an empty resource line");
                }
                resource = line;
                continue;
            }
            if (line.isEmpty() && pos == text.length()) {
                break;
            }
            int colon = line.indexOf(':');
            if (colon < 0) {
                throw bad("line " + lineNo + " has no ':'");
            }
            String name = line.substring(0, colon);
            if (name.isEmpty()
                    || Character.isWhitespace(name.charAt(0))
                    || Character.isWhitespace(name.charAt(name.length() - 1))) {
                throw bad("line " + lineNo + " has an empty or space-padded header name '" + name + "'");
            }
            headers.computeIfAbsent(name.toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                    .add(line.substring(colon + 1).trim());
        }
        return new WebSocketUpgrade(resource, headers);
    }

    /** The first value of a header, name matched case-insensitively. */
    public Optional<String> header(String name) {
        List<String> values = headers(name);
        return values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
    }

    /** All values of a header in order, name matched case-insensitively; empty when absent. */
    public List<String> headers(String name) {
        return headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
    }

    private static HeaderException bad(String what) {
        return new HeaderException(HeaderException.Kind.BAD_PAYLOAD, "websocket payload " + what);
    }
}
