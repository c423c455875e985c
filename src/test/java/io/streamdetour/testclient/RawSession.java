package io.streamdetour.testclient;

import io.streamdetour.codec.DetourReply;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * A session slot (match id) on a pooled connection with its north and south streams opened and nothing sent,
 * for tests that write their own bytes. Closing it finishes both send sides, stops reading and frees the slot.
 */
public final class RawSession implements AutoCloseable {

    private static final long STOP_SENDING_CODE = 0;

    private final ClientSettings settings;
    private final DetourConnection.Slot slot;
    private final RawStream north;
    private final RawStream south;
    private boolean closed;

    RawSession(ClientSettings settings, DetourConnection.Slot slot) {
        this.settings = settings;
        this.slot = slot;
        this.north = new RawStream(slot.north());
        this.south = new RawStream(slot.south());
    }

    public int matchId() {
        return slot.matchId();
    }

    /** The session number on its connection; the match id is its low 16 bits. */
    public long count() {
        return slot.count();
    }

    public DetourConnection connection() {
        return slot.connection();
    }

    public RawStream north() {
        return north;
    }

    public RawStream south() {
        return south;
    }

    /** The north header g3proxy would write for this slot and spec (random task id unless the spec has one). */
    public G3NorthHeader northHeader(SessionSpec spec) {
        return G3NorthHeader.of(settings, spec, matchId(), spec.effectivePayload().length);
    }

    /** The south header g3proxy writes after a continue. */
    public byte[] southHeader() {
        return G3SouthHeader.of(settings, matchId()).encode();
    }

    /** Writes this slot's north header for the spec, then its payload. */
    public void writeNorthHeader(SessionSpec spec) throws IOException {
        north.write(northHeader(spec).encode());
        byte[] payload = spec.effectivePayload();
        if (payload.length > 0) {
            north.write(payload);
        }
    }

    /** The 4-byte reply on north, decoded as g3proxy does (unknown actions read as block). */
    public DetourReply readReply(Duration timeout) throws IOException, TimeoutException {
        return DetourReply.decode(north.read(DetourReply.BYTES, timeout), 0);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (RawStream stream : new RawStream[] {north, south}) {
            try {
                stream.finish();
            } catch (IOException ignored) {
                // already finished or reset by the test: nothing left to finish
            }
            stream.abortReading(STOP_SENDING_CODE);
        }
        slot.release();
    }
}
