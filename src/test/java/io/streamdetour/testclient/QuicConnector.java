package io.streamdetour.testclient;

import tech.kwik.core.QuicClientConnection;
import tech.kwik.core.log.NullLogger;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;

/** Opens Kwik client connections configured as g3proxy's quinn endpoint is, as far as Kwik allows. */
final class QuicConnector {

    private final ClientSettings settings;
    private final KeyStore trustStore;

    QuicConnector(ClientSettings settings) throws IOException {
        this.settings = settings;
        this.trustStore = settings.caCertificate() == null ? null : loadTrustStore(settings);
    }

    QuicClientConnection connect() throws IOException {
        QuicClientConnection.Builder builder = QuicClientConnection.newBuilder()
                .applicationProtocol(settings.alpn())
                .connectTimeout(settings.handshakeTimeout())
                .maxIdleTimeout(settings.idleTimeout())
                // g3proxy lets the server open no streams at all.
                .maxOpenPeerInitiatedBidirectionalStreams(0)
                .maxOpenPeerInitiatedUnidirectionalStreams(0)
                .logger(new NullLogger())
                .socketFactory(destination -> new HandshakeRaceSocket())
                .port(settings.port());
        if (settings.serverName() == null) {
            builder.host(settings.host());
        } else {
            // Kwik takes the TLS name from host(); proxy() is where the packets actually go.
            builder.host(settings.serverName()).proxy(settings.host());
        }
        if (trustStore == null) {
            // Skipping the check is deliberate here; without this Kwik prints a warning per connection to stdout.
            System.setProperty("tech.kwik.core.no-security-warnings", "true");
            builder.noServerCertificateCheck();
        } else {
            builder.customTrustStore(trustStore);
        }
        QuicClientConnection connection = builder.build();
        connection.connect();
        return connection;
    }

    private static KeyStore loadTrustStore(ClientSettings settings) throws IOException {
        try (InputStream pem = Files.newInputStream(settings.caCertificate())) {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int index = 0;
            for (Certificate certificate : CertificateFactory.getInstance("X.509").generateCertificates(pem)) {
                store.setCertificateEntry("ca-" + index++, certificate);
            }
            if (index == 0) {
                throw new IOException("no certificate in " + settings.caCertificate());
            }
            return store;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot load CA certificate " + settings.caCertificate(), e);
        }
    }
}
