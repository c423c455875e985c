package io.streamdetour.testclient;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketException;
import java.time.Duration;

/**
 * A UDP socket that hands over the first datagram it receives a little late. Kwik's TLS engine (agent15 3.1,
 * TlsClientEngineImpl.startHandshake) sends the ClientHello before it starts waiting for the ServerHello, and
 * silently drops a ServerHello that arrives in between; against a server on the same host that happens to a few
 * percent of handshakes, which then hang until the connect timeout. The delay lets the engine get there first.
 */
final class HandshakeRaceSocket extends DatagramSocket {

    static final Duration FIRST_DATAGRAM_DELAY = Duration.ofMillis(20);

    private volatile boolean firstReceived;

    HandshakeRaceSocket() throws SocketException {
        super();
    }

    @Override
    public void receive(DatagramPacket packet) throws IOException {
        super.receive(packet);
        if (!firstReceived) {
            firstReceived = true;
            Timed.sleep(FIRST_DATAGRAM_DELAY);
        }
    }
}
