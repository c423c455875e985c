package io.streamdetour.testclient;

import io.streamdetour.codec.Action;
import io.streamdetour.codec.DetourReply;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A stream detour client that behaves on the wire as g3proxy's (spec section 6), on Kwik. Kwik insists on an
 * ALPN protocol, so unlike g3proxy this client always offers one ({@link #DEFAULT_ALPN} unless set).
 */
public final class DetourClient implements AutoCloseable {

    public static final String DEFAULT_ALPN = "g3-detour";
    public static final int DEFAULT_REUSE_LIMIT = 16;

    private final ClientSettings settings;
    private final ConnectionPool pool;
    private final AtomicLong sessionsStarted = new AtomicLong();

    private DetourClient(ClientSettings settings) throws IOException {
        this.settings = settings;
        this.pool = new ConnectionPool(settings);
    }

    public static Builder builder(String host, int port) {
        return new Builder(host, port);
    }

    /** Runs one session to its end; never throws for what the server does, the result says it. */
    public SessionResult runSession(SessionSpec spec) {
        long seed = settings.seed() * 1_000_003L + sessionsStarted.getAndIncrement();
        DetourConnection.Slot slot;
        try {
            slot = pool.openSession();
        } catch (SessionFailure e) {
            return SessionResult.failedEarly(e.kind(), e.getMessage());
        }
        return new SessionRun(settings, slot, spec, seed).run();
    }

    /** Runs the sessions on virtual threads, at most {@code concurrency} at once; results in the order of specs. */
    public List<SessionResult> runSessions(List<SessionSpec> specs, int concurrency) {
        Semaphore permits = new Semaphore(concurrency);
        SessionResult[] results = new SessionResult[specs.size()];
        List<Thread> threads = new ArrayList<>(specs.size());
        for (int i = 0; i < specs.size(); i++) {
            int index = i;
            permits.acquireUninterruptibly();
            threads.add(Thread.ofVirtual().name("detour-session-" + i).start(() -> {
                try {
                    results[index] = runSession(specs.get(index));
                } finally {
                    permits.release();
                }
            }));
        }
        long deadline = System.nanoTime() + settings.sessionLimit().toNanos();
        for (int i = 0; i < threads.size(); i++) {
            Timed.join(threads.get(i), Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            if (results[i] == null) {
                results[i] = SessionResult.failedEarly(ErrorKind.RELAY_TIMEOUT,
                        "session did not end within " + settings.sessionLimit());
            }
        }
        return List.of(results);
    }

    /** Takes the next slot on a pooled connection and opens its two streams, sending nothing. */
    public RawSession openRaw() throws IOException {
        try {
            return new RawSession(settings, pool.openSession());
        } catch (SessionFailure e) {
            throw new IOException(e.kind() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Opens a session as g3proxy does after a continue: north header, the reply (which must be
     * continue), then the south header; both streams are then ready to relay.
     */
    public RawSession openContinued(SessionSpec spec, Duration wait) throws Exception {
        RawSession session = openRaw();
        try {
            session.writeNorthHeader(spec);
            DetourReply reply = session.readReply(wait);
            if (reply.action() != Action.CONTINUE) {
                throw new IllegalStateException("expected continue, got " + reply.action());
            }
            session.south().write(session.southHeader());
            return session;
        } catch (Exception e) {
            session.close();
            throw e;
        }
    }

    /** Opens a connection that carries no sessions, to hold idle; closed with the client. */
    public DetourConnection connectOnly() throws IOException {
        try {
            return pool.connectHeld();
        } catch (SessionFailure e) {
            throw new IOException(e.getMessage(), e.getCause());
        }
    }

    /** Connections opened so far, pooled and held. */
    public int connectionsOpened() {
        return pool.connectionsOpened();
    }

    /** Closes every connection (application error 0, "finished"); does not wait for the peer. */
    @Override
    public void close() {
        pool.close();
    }

    public static final class Builder {

        private final String host;
        private final int port;
        private String alpn = DEFAULT_ALPN;
        private Path caCertificate;
        private String serverName;
        private long firstCount;
        private int reuseLimit = DEFAULT_REUSE_LIMIT;
        private int connections = 1;
        private Duration idleTimeout = Duration.ofSeconds(60);
        private Duration keepAliveInterval = Duration.ofSeconds(10);
        private Duration handshakeTimeout = Duration.ofSeconds(10);
        private Duration streamOpenTimeout = Duration.ofSeconds(30);
        private Duration requestTimeout = Duration.ofSeconds(60);
        private Duration relayTimeout = Duration.ofSeconds(300);
        private InetSocketAddress clientAddress = new InetSocketAddress("192.0.2.1", 50000);
        private InetSocketAddress proxyAddress = new InetSocketAddress("198.51.100.1", 443);
        private long seed = 1;

        private Builder(String host, int port) {
            this.host = Objects.requireNonNull(host, "host");
            this.port = port;
        }

        /** The ALPN protocol to offer; Kwik refuses a blank one. */
        public Builder alpn(String protocol) {
            if (protocol == null || protocol.isBlank()) {
                throw new IllegalArgumentException("Kwik needs an ALPN protocol");
            }
            this.alpn = protocol;
            return this;
        }

        /**
         * Verify the server against this PEM certificate; without it no certificate check is made. Kwik matches
         * only DNS names of the certificate, so verifying needs a {@link #serverName} the certificate names.
         */
        public Builder caCertificate(Path pem) {
            this.caCertificate = pem;
            return this;
        }

        /**
         * TLS server name to send and check, instead of the host. Kwik always sends one, an IP address too (g3proxy
         * sends none then); rustls servers refuse an IP address there, so give them a DNS name.
         */
        public Builder serverName(String name) {
            this.serverName = name;
            return this;
        }

        /** The count of each connection's first session, e.g. 65530 to see match ids wrap to 0. */
        public Builder firstCount(long count) {
            this.firstCount = count;
            return this;
        }

        public Builder reuseLimit(int sessionsPerConnection) {
            this.reuseLimit = positive(sessionsPerConnection, "reuseLimit");
            return this;
        }

        /** How many connections with room to spread sessions over (default 1: fill one, then open the next). */
        public Builder connections(int count) {
            this.connections = positive(count, "connections");
            return this;
        }

        public Builder idleTimeout(Duration timeout) {
            this.idleTimeout = timeout;
            return this;
        }

        /** PING interval on every connection; zero for none. */
        public Builder keepAliveInterval(Duration interval) {
            this.keepAliveInterval = interval;
            return this;
        }

        public Builder handshakeTimeout(Duration timeout) {
            this.handshakeTimeout = timeout;
            return this;
        }

        public Builder streamOpenTimeout(Duration timeout) {
            this.streamOpenTimeout = timeout;
            return this;
        }

        /** Wait for the 4-byte reply. */
        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = timeout;
            return this;
        }

        /** Limit for the data phase of one session. */
        public Builder relayTimeout(Duration timeout) {
            this.relayTimeout = timeout;
            return this;
        }

        /** Source address of the PROXY v2 headers; its family picks TCP4 or TCP6. */
        public Builder clientAddress(InetSocketAddress address) {
            this.clientAddress = address;
            return this;
        }

        /** Destination address of the PROXY v2 headers (g3proxy's listening address). */
        public Builder proxyAddress(InetSocketAddress address) {
            this.proxyAddress = address;
            return this;
        }

        /** Base seed of the relayed test data. */
        public Builder seed(long value) {
            this.seed = value;
            return this;
        }

        public DetourClient build() throws IOException {
            return new DetourClient(new ClientSettings(host, port, alpn, caCertificate, serverName, firstCount,
                    reuseLimit, connections, idleTimeout, keepAliveInterval, handshakeTimeout, streamOpenTimeout,
                    requestTimeout, relayTimeout, clientAddress, proxyAddress, seed));
        }

        private static int positive(int value, String name) {
            if (value <= 0) {
                throw new IllegalArgumentException(name + " must be positive: " + value);
            }
            return value;
        }
    }
}
