package io.streamdetour.testclient;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The connections of one client. A session takes a slot on the connection with room left that runs the fewest
 * sessions; a new connection is opened while fewer than {@code connections} have room.
 */
final class ConnectionPool implements AutoCloseable {

    private final ClientSettings settings;
    private final QuicConnector connector;
    private final List<DetourConnection> pooled = new ArrayList<>();
    private final List<DetourConnection> held = new ArrayList<>();
    private final ScheduledExecutorService keepAlive;
    private int opened;
    private boolean closed;

    ConnectionPool(ClientSettings settings) throws IOException {
        this.settings = settings;
        this.connector = new QuicConnector(settings);
        this.keepAlive = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("detour-keep-alive").factory());
        long interval = settings.keepAliveInterval().toMillis();
        if (interval > 0) {
            keepAlive.scheduleWithFixedDelay(this::pingAll, interval, interval, TimeUnit.MILLISECONDS);
        }
    }

    /** Opens the streams of the next session, on a connection with room (a new one if need be). */
    DetourConnection.Slot openSession() throws SessionFailure {
        return reserveConnection().openSession(settings.streamOpenTimeout());
    }

    private synchronized DetourConnection reserveConnection() throws SessionFailure {
        checkOpen();
        pooled.removeIf(connection -> !connection.isOpen());
        List<DetourConnection> withRoom = pooled.stream().filter(DetourConnection::hasFreeSlot).toList();
        if (withRoom.size() >= settings.connections()) {
            DetourConnection leastBusy = withRoom.stream()
                    .min(Comparator.comparingInt(DetourConnection::sessionsActive))
                    .orElseThrow();
            if (leastBusy.reserve()) {
                return leastBusy;
            }
        }
        DetourConnection fresh = connect();
        pooled.add(fresh);
        if (!fresh.reserve()) {
            throw new SessionFailure(ErrorKind.CONNECT, "new connection closed at once");
        }
        return fresh;
    }

    /** A connection that takes no pooled sessions, e.g. to hold it idle; closed with the pool. */
    synchronized DetourConnection connectHeld() throws SessionFailure {
        checkOpen();
        DetourConnection connection = connect();
        held.add(connection);
        return connection;
    }

    synchronized int connectionsOpened() {
        return opened;
    }

    private void checkOpen() throws SessionFailure {
        if (closed) {
            throw new SessionFailure(ErrorKind.CONNECT, "client is closed");
        }
    }

    private DetourConnection connect() throws SessionFailure {
        try {
            DetourConnection connection =
                    new DetourConnection(connector.connect(), settings.firstCount(), settings.reuseLimit());
            opened++;
            return connection;
        } catch (IOException | RuntimeException e) {
            throw new SessionFailure(ErrorKind.CONNECT,
                    "cannot connect to " + settings.host() + ":" + settings.port(), e);
        }
    }

    private void pingAll() {
        snapshot().forEach(DetourConnection::ping);
    }

    private synchronized List<DetourConnection> snapshot() {
        List<DetourConnection> all = new ArrayList<>(pooled);
        all.addAll(held);
        return all;
    }

    @Override
    public void close() {
        List<DetourConnection> all;
        synchronized (this) {
            closed = true;
            all = snapshot();
            pooled.clear();
            held.clear();
        }
        keepAlive.shutdownNow();
        all.forEach(DetourConnection::close);
    }
}
