package io.streamdetour.testclient;

import io.streamdetour.codec.Action;
import io.streamdetour.codec.DetourReply;
import tech.kwik.core.QuicStream;

import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.TimeoutException;

/** One session on one slot, step by step as g3proxy's detour client goes. */
final class SessionRun {

    private static final long STOP_SENDING_CODE = 0;

    private final ClientSettings settings;
    private final DetourConnection.Slot slot;
    private final SessionSpec spec;
    private final long seed;
    private final QuicStream north;
    private final QuicStream south;
    private Action action;
    private long decisionLatencyNanos = -1;
    private DataPhase.Outcome data = new DataPhase.Outcome(0, 0, 0, 0, false, false, null);

    SessionRun(ClientSettings settings, DetourConnection.Slot slot, SessionSpec spec, long seed) {
        this.settings = settings;
        this.slot = slot;
        this.spec = spec;
        this.seed = seed;
        this.north = slot.north();
        this.south = slot.south();
    }

    SessionResult run() {
        SessionFailure failure = null;
        try {
            action = exchangeHeader();
            if (action == Action.CONTINUE && spec.expectedAction() == Action.CONTINUE) {
                write(south.getOutputStream(), G3SouthHeader.of(settings, slot.matchId()).encode(),
                        ErrorKind.WRITE_HEADER);
                data = new DataPhase(north, south, spec, seed, settings.relayTimeout()).run();
                failure = data.failure();
            } else {
                if (action != spec.expectedAction()) {
                    failure = new SessionFailure(ErrorKind.UNEXPECTED_ACTION,
                            "expected " + spec.expectedAction() + ", got " + action);
                }
                finishAndStopReading();
            }
        } catch (SessionFailure e) {
            failure = e;
            finishAndStopReading();
        } finally {
            slot.release();
        }
        return result(failure);
    }

    /** Writes header and payload on north and reads the 4-byte reply. */
    private Action exchangeHeader() throws SessionFailure {
        byte[] payload = spec.effectivePayload();
        long started = System.nanoTime();
        byte[] header = G3NorthHeader.of(settings, spec, slot.matchId(), payload.length).encode();
        write(north.getOutputStream(), header, ErrorKind.WRITE_HEADER);
        if (payload.length > 0) {
            write(north.getOutputStream(), payload, ErrorKind.WRITE_PAYLOAD);
        }
        byte[] reply;
        try {
            reply = Timed.readExactly(north.getInputStream(), DetourReply.BYTES, settings.requestTimeout());
        } catch (TimeoutException e) {
            throw new SessionFailure(ErrorKind.REPLY_TIMEOUT, "no reply within " + settings.requestTimeout());
        } catch (EOFException e) {
            throw new SessionFailure(ErrorKind.REPLY_READ, "north ended before the reply: " + e.getMessage());
        } catch (Exception e) {
            throw new SessionFailure(ErrorKind.REPLY_READ, "cannot read the reply", e);
        }
        decisionLatencyNanos = System.nanoTime() - started;
        DetourReply decoded = DetourReply.decode(reply, 0);
        if (decoded.matchId() != slot.matchId()) {
            throw new SessionFailure(ErrorKind.INVALID_MATCH_ID,
                    "invalid match id " + decoded.matchId() + ", expected " + slot.matchId());
        }
        return decoded.action();
    }

    private static void write(OutputStream out, byte[] bytes, ErrorKind kind) throws SessionFailure {
        try {
            GuardedWrites.write(out, bytes);
        } catch (IOException e) {
            throw new SessionFailure(kind, "write failed", e);
        }
    }

    /** What g3proxy does after bypass, block or an error. */
    private void finishAndStopReading() {
        for (QuicStream stream : new QuicStream[] {north, south}) {
            try {
                GuardedWrites.finish(stream.getOutputStream());
            } catch (IOException ignored) {
                // already reset or the connection is gone: nothing to finish
            }
            stream.abortReading(STOP_SENDING_CODE);
        }
    }

    private SessionResult result(SessionFailure failure) {
        return new SessionResult(slot.matchId(), action, decisionLatencyNanos,
                data.sentNorth(), data.sentSouth(), data.echoedNorth(), data.echoedSouth(),
                data.northSha256Equal(), data.southSha256Equal(),
                failure == null ? null : failure.kind(), failure == null ? null : failure.getMessage());
    }
}
