package io.streamdetour.testclient;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;

/** Everything a {@link DetourClient} was built with; defaults are g3proxy's where it has one. */
record ClientSettings(
        String host,
        int port,
        String alpn,
        Path caCertificate,
        String serverName,
        long firstCount,
        int reuseLimit,
        int connections,
        Duration idleTimeout,
        Duration keepAliveInterval,
        Duration handshakeTimeout,
        Duration streamOpenTimeout,
        Duration requestTimeout,
        Duration relayTimeout,
        InetSocketAddress clientAddress,
        InetSocketAddress proxyAddress,
        long seed) {

    /** The longest one session can take with these timeouts, with room for closing it. */
    Duration sessionLimit() {
        return handshakeTimeout.plus(streamOpenTimeout.multipliedBy(2)).plus(requestTimeout).plus(relayTimeout)
                .plusSeconds(10);
    }
}
