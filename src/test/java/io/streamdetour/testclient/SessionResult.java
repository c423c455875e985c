package io.streamdetour.testclient;

import io.streamdetour.codec.Action;

/**
 * What one session saw.
 *
 * @param matchId               the match id the session used, -1 if it got no slot
 * @param action                the reply's action, null without a valid reply
 * @param decisionLatencyNanos  from writing the north header to having read the reply, -1 without a reply
 * @param northSha256Equal      SHA-256 of the north echo equals that of what was sent on north
 * @param southSha256Equal      the same for south; with {@code endLikeG3} the south echo is cut on purpose,
 *                              so only its prefix is checked and this may be false in an ok session
 * @param errorKind             null when the session is ok
 * @param error                 a message for {@code errorKind}, null when ok
 */
public record SessionResult(
        int matchId,
        Action action,
        long decisionLatencyNanos,
        long bytesSentNorth,
        long bytesSentSouth,
        long bytesEchoedNorth,
        long bytesEchoedSouth,
        boolean northSha256Equal,
        boolean southSha256Equal,
        ErrorKind errorKind,
        String error) {

    /** A session that failed before it had a slot (match id -1). */
    static SessionResult failedEarly(ErrorKind kind, String message) {
        return new SessionResult(-1, null, -1, 0, 0, 0, 0, false, false, kind, message);
    }

    /** The expected action came back and, after a continue, all data was echoed intact. */
    public boolean ok() {
        return errorKind == null;
    }
}
