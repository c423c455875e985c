package io.streamdetour.codec;

/**
 * Caps on what a peer may make the server buffer before the reply: the whole PPv2 header
 * (preamble included) and the north payload.
 */
public record HeaderLimits(int maxHeaderBytes, int maxPayloadBytes) {

    public static final HeaderLimits DEFAULT = new HeaderLimits(4096, 65536);

    public HeaderLimits {
        if (maxHeaderBytes < HeaderDecoder.PREAMBLE_BYTES) {
            throw new IllegalArgumentException("maxHeaderBytes " + maxHeaderBytes
                    + " is below the " + HeaderDecoder.PREAMBLE_BYTES + "-byte preamble");
        }
        if (maxPayloadBytes < 0) {
            throw new IllegalArgumentException("maxPayloadBytes " + maxPayloadBytes + " is negative");
        }
    }
}
