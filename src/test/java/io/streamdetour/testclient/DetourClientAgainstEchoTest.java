package io.streamdetour.testclient;

import io.streamdetour.codec.Action;
import io.streamdetour.codec.DetourReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Checks the Kwik detour client against the quinn tool's echo server, which checks g3proxy's wire format. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DetourClientAgainstEchoTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    private EchoServerProcess server;

    @BeforeAll
    void startEchoServer() throws IOException {
        QuinnClient.assumeAvailable();
        assumeTrue(QuinnClient.echoServerBinary().isPresent(), QuinnClient.ECHO_SERVER + " not beside the client");
        server = EchoServerProcess.start(List.of("--alpn", DetourClient.DEFAULT_ALPN));
    }

    @AfterAll
    void stopEchoServer() {
        if (server != null) {
            try {
                Map<String, String> stats = server.stop();
                assertThat(stats).containsEntry("tlv_order_bad", "0").containsEntry("south_unpaired", "0");
                assertThat(stats.get("closed_app0_finished")).as("connections closed with 0 finished")
                        .isEqualTo(stats.get("conns"));
            } finally {
                server.close();
            }
        }
    }

    @ParameterizedTest(name = "{0} bytes each way")
    @ValueSource(ints = {64 * 1024, 0, 1024 * 1024})
    void sixteenConcurrentContinueSessionsEchoByteExact(int bytes) throws IOException {
        try (DetourClient client = client().build()) {
            List<SessionResult> results = client.runSessions(
                    Collections.nCopies(16, SessionSpec.continueWith(bytes)), 16);

            assertThat(results).allSatisfy(result -> {
                assertThat(result.ok()).as(String.valueOf(result)).isTrue();
                assertThat(result.action()).isEqualTo(Action.CONTINUE);
                assertThat(result.bytesEchoedNorth()).isEqualTo(bytes);
                assertThat(result.bytesEchoedSouth()).isEqualTo(bytes);
                assertThat(result.northSha256Equal()).isTrue();
                assertThat(result.southSha256Equal()).isTrue();
            });
            assertThat(results).extracting(SessionResult::matchId).containsExactlyInAnyOrder(
                    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        }
    }

    @Test
    void matchIdsWrapAtSixteenBitsAndTheReuseLimitOpensANewConnection() throws IOException {
        try (DetourClient client = client().firstCount(65530).reuseLimit(8).build()) {
            List<SessionResult> results = client.runSessions(Collections.nCopies(10, SessionSpec.continueWith(1024)), 1);

            assertThat(results).allSatisfy(result -> assertThat(result.ok()).as(String.valueOf(result)).isTrue());
            assertThat(results).extracting(SessionResult::matchId)
                    .containsExactly(65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 65530, 65531);
            assertThat(client.connectionsOpened()).isEqualTo(2);
        }
    }

    @Test
    void endingLikeG3proxyPasses() throws IOException {
        SessionSpec spec = SessionSpec.continueWith(256 * 1024).withEndLikeG3(true);
        try (DetourClient client = client().build()) {
            List<SessionResult> results = client.runSessions(Collections.nCopies(8, spec), 8);

            assertThat(results).allSatisfy(result -> {
                assertThat(result.ok()).as(String.valueOf(result)).isTrue();
                assertThat(result.northSha256Equal()).isTrue();
            });
        }
    }

    @Test
    void websocketSessionWithUsernameAndVerifiedCertificate() throws IOException {
        Path certificate = Path.of("../shared/tools/g3-detour-client/certs/cert.pem").toAbsolutePath();
        assumeTrue(Files.isReadable(certificate), "no " + certificate);
        SessionSpec spec = SessionSpec.continueWith(4096).withProtocol("websocket").withUsername("alice");
        try (DetourClient client = client().caCertificate(certificate).build()) {
            SessionResult result = client.runSession(spec);

            assertThat(result.ok()).as(String.valueOf(result)).isTrue();
        }
    }

    @Test
    void rawSessionsSeeTheEchoServerReactToHeaders() throws Exception {
        try (DetourClient client = client().build()) {
            try (RawSession raw = client.openRaw()) {
                raw.writeNorthHeader(SessionSpec.continueWith(0));
                assertThat(raw.readReply(WAIT)).isEqualTo(new DetourReply(raw.matchId(), Action.CONTINUE));
                raw.south().write(raw.southHeader());
                raw.north().write("ping".getBytes(StandardCharsets.US_ASCII));
                raw.north().finish();
                assertThat(raw.north().readAll(WAIT)).asString(StandardCharsets.US_ASCII).isEqualTo("ping");
            }
            try (RawSession badSignature = client.openRaw()) {
                byte[] header = badSignature.northHeader(SessionSpec.continueWith(0)).encode();
                header[3] ^= (byte) 0xFF;
                badSignature.north().write(header);
                assertThat(badSignature.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
            }
            try (RawSession stalled = client.openRaw()) {
                byte[] header = stalled.northHeader(SessionSpec.continueWith(0)).encode();
                stalled.north().write(Arrays.copyOf(header, 10));
                assertThat(stalled.north().awaitOutcome(Duration.ofSeconds(1)).kind())
                        .isEqualTo(StreamOutcome.Kind.SILENT);
            }
        }
    }

    @Test
    void heldConnectionStaysOpenAndClosesWithTheClient() throws IOException {
        DetourConnection held;
        try (DetourClient client = client().build()) {
            held = client.connectOnly();
            assertThat(held.awaitClosed(Duration.ofSeconds(1))).isEmpty();
            assertThat(held.isOpen()).isTrue();
        }
        assertThat(held.isOpen()).isFalse();
    }

    @Test
    void faultsOfTheServerAreCaught() throws IOException {
        assertThat(runOneAgainst(List.of("--corrupt-south"), SessionSpec.continueWith(4096)).errorKind())
                .isEqualTo(ErrorKind.DATA_MISMATCH);
        assertThat(runOneAgainst(List.of("--match-id-offset", "1"), SessionSpec.continueWith(0)).errorKind())
                .isEqualTo(ErrorKind.INVALID_MATCH_ID);
        assertThat(runOneAgainst(List.of("--reply-delay", "15"), SessionSpec.continueWith(0)).errorKind())
                .isEqualTo(ErrorKind.REPLY_TIMEOUT);
        assertThat(runOneAgainst(List.of("--action", "2"), SessionSpec.continueWith(0)).errorKind())
                .isEqualTo(ErrorKind.UNEXPECTED_ACTION);
        SessionResult blocked = runOneAgainst(List.of("--action", "7"),
                SessionSpec.continueWith(0).withExpectedAction(Action.BLOCK));
        assertThat(blocked.ok()).as(String.valueOf(blocked)).isTrue();
        assertThat(blocked.action()).isEqualTo(Action.BLOCK);
    }

    private static SessionResult runOneAgainst(List<String> serverOptions, SessionSpec spec) throws IOException {
        List<String> options = new ArrayList<>(serverOptions);
        options.addAll(List.of("--alpn", DetourClient.DEFAULT_ALPN));
        try (EchoServerProcess faulty = EchoServerProcess.start(options);
             // Long enough for every reply a loaded machine sends, short of the delayed one.
             DetourClient client = client(faulty).requestTimeout(Duration.ofSeconds(5)).build()) {
            return client.runSession(spec);
        }
    }

    private DetourClient.Builder client() {
        return client(server);
    }

    /** Kwik always sends the host as SNI; rustls refuses an IP address there, so the echo server gets its DNS name. */
    private static DetourClient.Builder client(EchoServerProcess server) {
        return DetourClient.builder(server.host(), server.port())
                .serverName("localhost")
                .requestTimeout(WAIT)
                .relayTimeout(Duration.ofSeconds(60));
    }
}
