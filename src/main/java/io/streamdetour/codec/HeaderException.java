package io.streamdetour.codec;

import java.util.Objects;

/** A header the server cannot accept; the message says exactly what was wrong, with numbers. */
public final class HeaderException extends Exception {

    private static final long serialVersionUID = 1L;

    public enum Kind {
        BAD_SIGNATURE,
        BAD_VERSION,
        BAD_COMMAND,
        BAD_FAMILY,
        HEADER_TOO_LARGE,
        /** Fewer bytes than the preamble or the length field promise. */
        TRUNCATED,
        /** The length field does not cover the address block its family requires. */
        ADDRESS_OVERRUN,
        /** A TLV, or a TLV header, runs past the end of the header. */
        TLV_OVERRUN,
        /** A known TLV with a wrong size, bad UTF-8, an unparsable value or a repeat. */
        BAD_TLV,
        MISSING_TLV,
        PAYLOAD_TOO_LARGE,
        /** The stream ended inside the payload (raised by the stream reader). */
        PAYLOAD_TRUNCATED,
        /** A payload that does not parse for its protocol. */
        BAD_PAYLOAD,
        /** The header did not arrive in time (raised by the stream reader). */
        TIMEOUT,
        /** The stream ended before any byte (raised by the stream reader). */
        EMPTY
    }

    private final Kind kind;

    public HeaderException(Kind kind, String message) {
        // No stack trace: the cause is the peer's bytes, which the message describes, and a
        // misbehaving peer must not make each rejection cost a stack walk.
        super(message, null, false, false);
        this.kind = Objects.requireNonNull(kind, "kind");
    }

    public Kind kind() {
        return kind;
    }
}
