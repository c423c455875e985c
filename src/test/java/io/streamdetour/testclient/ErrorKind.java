package io.streamdetour.testclient;

/** Why a session failed; the names follow the quinn client's {@code err_<kind>} keys. */
public enum ErrorKind {
    CONNECT,
    STREAM_OPEN,
    STREAM_OPEN_TIMEOUT,
    WRITE_HEADER,
    WRITE_PAYLOAD,
    REPLY_READ,
    REPLY_TIMEOUT,
    INVALID_MATCH_ID,
    UNEXPECTED_ACTION,
    RELAY_WRITE,
    RELAY_READ,
    RELAY_TIMEOUT,
    DATA_MISMATCH,
    EXCESS_DATA,
    SHORT_DATA
}
