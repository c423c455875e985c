package io.streamdetour.testclient;

/**
 * What the server did on a stream within a wait, as the quinn client's fault tests classify it.
 *
 * @param bytes  what arrived (up to the 4 bytes of a reply), empty for RESET and SILENT
 * @param detail why it is RESET (the exception or "finished without a reply"), else null
 */
public record StreamOutcome(Kind kind, byte[] bytes, String detail) {

    public enum Kind {
        /** Bytes arrived: a reply, or part of one. */
        REPLY,
        /** The read failed (reset, connection gone) or the stream ended with 0 bytes. */
        RESET,
        /** Nothing within the wait. */
        SILENT
    }

    public StreamOutcome {
        bytes = bytes.clone();
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    static StreamOutcome reply(byte[] bytes) {
        return new StreamOutcome(Kind.REPLY, bytes, null);
    }

    static StreamOutcome reset(String detail) {
        return new StreamOutcome(Kind.RESET, new byte[0], detail);
    }

    static StreamOutcome silent() {
        return new StreamOutcome(Kind.SILENT, new byte[0], null);
    }
}
