package io.streamdetour.testclient;

import tech.kwik.core.ConnectionListener;
import tech.kwik.core.ConnectionTerminatedEvent;
import tech.kwik.core.QuicClientConnection;
import tech.kwik.core.QuicStream;
import tech.kwik.core.impl.QuicClientConnectionImpl;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One QUIC connection to the detour server, numbering its sessions as g3proxy does: count = first, first + 1, ...,
 * match id = count & 0xFFFF; after {@code reuseLimit} sessions it takes no more and, once they have all ended,
 * closes with application error 0, reason "finished".
 */
public final class DetourConnection {

    public static final long FINISHED_CODE = 0;
    public static final String FINISHED_REASON = "finished";

    private final QuicClientConnection quic;
    private final long firstCount;
    private final int reuseLimit;
    private final CompletableFuture<ConnectionTerminatedEvent> terminated = new CompletableFuture<>();
    private final Object streamOrder = new Object();
    private int sessionsTaken;
    private long sessionsNumbered;
    private int sessionsActive;
    private boolean closing;

    DetourConnection(QuicClientConnection quic, long firstCount, int reuseLimit) {
        this.quic = quic;
        this.firstCount = firstCount;
        this.reuseLimit = reuseLimit;
        quic.setConnectionListener(new ConnectionListener() {
            @Override
            public void disconnected(ConnectionTerminatedEvent event) {
                terminated.complete(event);
            }
        });
    }

    public QuicClientConnection quic() {
        return quic;
    }

    /** Connected, not closed by either side. */
    public boolean isOpen() {
        return !terminated.isDone() && quic.isConnected();
    }

    /** Waits for the connection to end (idle timeout, close by either side); empty if it is still open. */
    public Optional<ConnectionTerminatedEvent> awaitClosed(Duration timeout) {
        try {
            return Optional.of(terminated.get(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }

    public synchronized int sessionsTaken() {
        return sessionsTaken;
    }

    public synchronized int sessionsActive() {
        return sessionsActive;
    }

    /** Closes with application error 0, reason "finished", as g3proxy does after its reuse limit. */
    public void close() {
        close(FINISHED_CODE, FINISHED_REASON);
    }

    public void close(long applicationErrorCode, String reason) {
        synchronized (this) {
            if (closing) {
                return;
            }
            closing = true;
        }
        quic.close(applicationErrorCode, reason);
    }

    synchronized boolean hasFreeSlot() {
        return !closing && sessionsTaken < reuseLimit && isOpen();
    }

    /** Reserves room for one more session, false when this connection takes no more. */
    synchronized boolean reserve() {
        if (!hasFreeSlot()) {
            return false;
        }
        sessionsTaken++;
        sessionsActive++;
        return true;
    }

    /**
     * Numbers a reserved session and opens its north, then its south stream. One session at a time, as g3proxy's
     * connection task does, so that stream ids follow the counts, each north right before its south.
     */
    Slot openSession(Duration timeout) throws SessionFailure {
        synchronized (streamOrder) {
            try {
                long count = firstCount + sessionsNumbered++;
                QuicStream north = openStream(timeout);
                QuicStream south = openStream(timeout);
                return new Slot(this, count, north, south);
            } catch (SessionFailure e) {
                sessionEnded();
                throw e;
            }
        }
    }

    void sessionEnded() {
        boolean finished;
        synchronized (this) {
            sessionsActive--;
            finished = sessionsActive == 0 && sessionsTaken >= reuseLimit;
        }
        if (finished) {
            close();
        }
    }

    private QuicStream openStream(Duration timeout) throws SessionFailure {
        try {
            return Timed.call(timeout, () -> quic.createStream(true));
        } catch (TimeoutException e) {
            throw new SessionFailure(ErrorKind.STREAM_OPEN_TIMEOUT, "no stream within " + timeout);
        } catch (Exception e) {
            throw new SessionFailure(ErrorKind.STREAM_OPEN, "cannot open a stream", e);
        }
    }

    /** Keep-alive as g3proxy's quinn endpoint does it; Kwik's own keepAlive() stops after a fixed time. */
    void ping() {
        if (isOpen() && quic instanceof QuicClientConnectionImpl impl) {
            try {
                impl.ping();
            } catch (IllegalStateException notConnected) {
                // closed between the check and the ping: nothing to keep alive
            }
        }
    }

    /** One session on this connection: its number and its two streams. */
    record Slot(DetourConnection connection, long count, QuicStream north, QuicStream south) {

        int matchId() {
            return (int) (count & 0xFFFF);
        }

        void release() {
            connection.sessionEnded();
        }
    }
}
