package io.streamdetour.codec;

/**
 * Application error codes the server uses for RESET_STREAM / STOP_SENDING / CONNECTION_CLOSE.
 * 0 is an orderly end, as g3proxy uses it; the server's failure codes sit together in 0x2xx.
 */
public final class DetourErrorCodes {

    public static final long NO_ERROR = 0;
    /** The north or south header was malformed. */
    public static final long HEADER_ERROR = 0x201;
    /** The header, or the north payload, did not arrive in time. */
    public static final long HEADER_TIMEOUT = 0x202;
    /** A south stream could not be paired with a north stream. */
    public static final long PAIRING_FAILED = 0x203;
    /** The session was torn down because its other stream failed. */
    public static final long SESSION_ABORTED = 0x204;
    public static final long IDLE_TIMEOUT = 0x205;
    public static final long SERVER_SHUTDOWN = 0x206;
    /** A configured limit (connections, a rule's byte cap) was exceeded. */
    public static final long LIMIT_EXCEEDED = 0x207;
    /** An operator cut the session (the admin API). */
    public static final long CUT_BY_OPERATOR = 0x208;
    public static final long INTERNAL_ERROR = 0x2FF;

    private DetourErrorCodes() {
    }
}
