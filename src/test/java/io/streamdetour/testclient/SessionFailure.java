package io.streamdetour.testclient;

/** A session step that failed, with the kind it is counted as. */
final class SessionFailure extends Exception {

    private static final long serialVersionUID = 1L;

    private final ErrorKind kind;

    SessionFailure(ErrorKind kind, String message) {
        super(message);
        this.kind = kind;
    }

    SessionFailure(ErrorKind kind, String message, Throwable cause) {
        super(message + ": " + cause, cause);
        this.kind = kind;
    }

    ErrorKind kind() {
        return kind;
    }
}
