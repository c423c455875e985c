package io.streamdetour.codec;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Strict UTF-8 decoding: new String(bytes, UTF_8) would silently replace malformed input. */
final class Utf8 {

    private Utf8() {
    }

    static String decode(byte[] buf, int offset, int length) throws CharacterCodingException {
        int end = offset + length;
        for (int i = offset; i < end; i++) {
            if (buf[i] < 0) {
                // A decoder per call: CharsetDecoder is stateful, and non-ASCII values are rare.
                return StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(buf, offset, length))
                        .toString();
            }
        }
        // All ASCII, which UTF-8 and Latin-1 encode alike; Latin-1 is the JDK's cheapest decode.
        return new String(buf, offset, length, StandardCharsets.ISO_8859_1);
    }
}
