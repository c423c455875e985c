package io.streamdetour.testclient;

import java.security.MessageDigest;
import java.util.Arrays;

/** Checks an echo, as it is read, against the data sent on the same stream. */
final class EchoCheck {

    private final TestData sent;
    private final long sentLength;
    private final MessageDigest digest = Sha256.newDigest();
    private byte[] expected = new byte[0];
    private volatile long received;
    private long firstMismatch = -1;

    EchoCheck(TestData sent, long sentLength) {
        this.sent = sent;
        this.sentLength = sentLength;
    }

    void accept(byte[] buffer, int length) {
        digest.update(buffer, 0, length);
        int comparable = (int) Math.max(0, Math.min(length, sentLength - received));
        if (firstMismatch < 0 && comparable > 0) {
            if (expected.length < comparable) {
                expected = new byte[Math.max(comparable, buffer.length)];
            }
            sent.fill(received, expected, comparable);
            int at = Arrays.mismatch(buffer, 0, comparable, expected, 0, comparable);
            if (at >= 0) {
                firstMismatch = received + at;
            }
        }
        received += length;
    }

    long received() {
        return received;
    }

    byte[] sha256() {
        return digest.digest();
    }

    /** For an echo read to EOF: it must be exactly what was sent. */
    void verifyComplete(String direction) throws SessionFailure {
        verifyPrefix(direction);
        if (received < sentLength) {
            throw new SessionFailure(ErrorKind.SHORT_DATA,
                    direction + " echo ended after " + received + " of " + sentLength + " bytes");
        }
    }

    /** For an echo cut on purpose: what came back must be a prefix of what was sent. */
    void verifyPrefix(String direction) throws SessionFailure {
        if (firstMismatch >= 0) {
            throw new SessionFailure(ErrorKind.DATA_MISMATCH,
                    direction + " echo differs from what was sent at byte " + firstMismatch);
        }
        if (received > sentLength) {
            throw new SessionFailure(ErrorKind.EXCESS_DATA,
                    direction + " echo has " + received + " bytes, " + sentLength + " were sent");
        }
    }
}
