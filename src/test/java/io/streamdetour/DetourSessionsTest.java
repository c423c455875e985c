package io.streamdetour;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.codec.Action;
import io.streamdetour.codec.DetourReply;
import io.streamdetour.testclient.DetourClient;
import io.streamdetour.testclient.RawSession;
import io.streamdetour.testclient.SessionResult;
import io.streamdetour.testclient.SessionSpec;
import io.streamdetour.testclient.StreamOutcome;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Whole sessions over real QUIC on loopback with the Java g3proxy-like client: what g3proxy does,
 * and every way a peer can get it wrong, each of which must touch only its own stream.
 */
class DetourSessionsTest {

  private static final Duration WAIT = Duration.ofSeconds(10);
  private static RunningServer server;
  private static final Map<String, SessionEnded> ended = new ConcurrentHashMap<>();

  @BeforeAll
  static void start() throws Exception {
    server = RunningServer.start(new JsonObject()
        .put("quic", new JsonObject().put("alpn", new JsonArray().add(DetourClient.DEFAULT_ALPN)))
        .put("header", new JsonObject().put("timeout", "1s"))
        .put("pairing", new JsonObject().put("timeout", "3s"))
        .put("policy", new JsonObject().put("rules", new JsonArray()
            .add(rule("bypass-mail", "bypass", new JsonObject().put("protocol", new JsonArray().add("smtp"))))
            .add(rule("block-evil", "block", new JsonObject().put("host", new JsonArray().add("evil.test"))))
            .add(rule("block-ws-admin", "block", new JsonObject().put("ws-resource", new JsonArray().add("/admin")))))));
    server.vertx.eventBus().<SessionEnded>consumer(Addresses.SESSION_ENDED, m -> ended.put(m.body().taskId(), m.body()));
  }

  static JsonObject rule(String name, String action, JsonObject match) {
    return new JsonObject().put("name", name).put("action", action).put("match", match);
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  static DetourClient client(RunningServer target, UnaryOperator<DetourClient.Builder> settings) throws Exception {
    return settings.apply(DetourClient.builder("127.0.0.1", target.port())
        .caCertificate(target.caCertificate()).serverName("localhost")
        .requestTimeout(WAIT).relayTimeout(Duration.ofSeconds(60))).build();
  }

  static DetourClient client(UnaryOperator<DetourClient.Builder> settings) throws Exception {
    return client(server, settings);
  }

  private static void assertAllOk(List<SessionResult> results) {
    assertThat(results).allSatisfy(r -> assertThat(r.ok()).as(r.toString()).isTrue());
  }

  private static SessionEnded endedRecord(UUID taskId) {
    await().atMost(WAIT).until(() -> ended.containsKey(taskId.toString()));
    return ended.get(taskId.toString());
  }

  @Test
  void continueEchoesEveryByteBothWays() throws Exception {
    try (DetourClient client = client(b -> b.connections(2))) {
      List<SessionSpec> specs = List.of(0L, 1L, 4096L, 65_536L, 3L * 1024 * 1024, 7_777_777L).stream()
          .map(n -> SessionSpec.continueWith(n).withTaskId(UUID.randomUUID())).toList();
      List<SessionResult> results = client.runSessions(specs, specs.size());
      assertAllOk(results);
      for (int i = 0; i < specs.size(); i++) {
        long n = specs.get(i).bytesEachWay();
        assertThat(results.get(i).bytesEchoedNorth()).isEqualTo(n);
        assertThat(results.get(i).bytesEchoedSouth()).isEqualTo(n);
        assertThat(results.get(i).northSha256Equal()).isTrue();
        assertThat(results.get(i).southSha256Equal()).isTrue();
        SessionEnded log = endedRecord(specs.get(i).taskId());
        assertThat(log.bytesNorth()).isEqualTo(n);
        assertThat(log.bytesSouth()).isEqualTo(n);
        assertThat(log.end()).isEqualTo("completed");
        assertThat(log.action()).isEqualTo("continue");
        assertThat(log.client()).isEqualTo("192.0.2.1:50000");
      }
    }
  }

  @Test
  void bypassAndBlockComeFromThePolicyAndAreLogged() throws Exception {
    try (DetourClient client = client(b -> b)) {
      UUID mail = UUID.randomUUID();
      UUID evil = UUID.randomUUID();
      List<SessionResult> results = client.runSessions(List.of(
          SessionSpec.continueWith(0).withProtocol("smtp").withExpectedAction(Action.BYPASS).withTaskId(mail),
          SessionSpec.continueWith(0).withUpstream("evil.test:443").withExpectedAction(Action.BLOCK).withTaskId(evil)), 2);
      assertAllOk(results);
      assertThat(endedRecord(mail)).satisfies(log -> {
        assertThat(log.action()).isEqualTo("bypass");
        assertThat(log.rule()).isEqualTo("bypass-mail");
        assertThat(log.end()).isEqualTo("bypassed");
      });
      assertThat(endedRecord(evil).end()).isEqualTo("blocked");
    }
  }

  @Test
  void theWebsocketPayloadReachesTheDecision() throws Exception {
    byte[] admin = "/admin/panel\r\nhost: example.com\r\norigin: https://example.com\r\n".getBytes(StandardCharsets.UTF_8);
    try (DetourClient client = client(b -> b)) {
      assertAllOk(client.runSessions(List.of(
          SessionSpec.continueWith(64 * 1024).withProtocol("websocket"),
          SessionSpec.continueWith(0).withProtocol("websocket").withPayload(admin).withExpectedAction(Action.BLOCK),
          SessionSpec.continueWith(1024).withProtocol("websocket").withUsername("alice")), 3));
    }
  }

  @Test
  void sixteenSessionsShareOneConnectionAndManyConnectionsRunAtOnce() throws Exception {
    try (DetourClient client = client(b -> b.connections(1).reuseLimit(16))) {
      assertAllOk(client.runSessions(IntStream.range(0, 16).mapToObj(i -> SessionSpec.continueWith(128 * 1024)).toList(), 16));
      assertThat(client.connectionsOpened()).isEqualTo(1);
    }
    try (DetourClient client = client(b -> b.connections(12).reuseLimit(4))) {
      assertAllOk(client.runSessions(IntStream.range(0, 96).mapToObj(i -> SessionSpec.continueWith(32 * 1024)).toList(), 48));
      assertThat(client.connectionsOpened()).isGreaterThanOrEqualTo(12);
    }
  }

  @Test
  void matchIdsWrapAndRepeatAcrossConnections() throws Exception {
    try (DetourClient wrapping = client(b -> b.firstCount(65_530).reuseLimit(64));
        DetourClient other = client(b -> b.firstCount(65_530).reuseLimit(64))) {
      List<SessionSpec> specs = IntStream.range(0, 12).mapToObj(i -> SessionSpec.continueWith(16 * 1024)).toList();
      var first = java.util.concurrent.CompletableFuture.supplyAsync(() -> wrapping.runSessions(specs, 12));
      List<SessionResult> second = other.runSessions(specs, 12);
      List<SessionResult> firstResults = first.get(60, TimeUnit.SECONDS);
      assertAllOk(firstResults);
      assertAllOk(second);
      assertThat(firstResults.stream().map(SessionResult::matchId).sorted().toList())
          .containsExactly(0, 1, 2, 3, 4, 5, 65530, 65531, 65532, 65533, 65534, 65535);
    }
  }

  /** Each broken header resets its own stream only; the good session beside it on the same connection passes. */
  @Test
  void everyMalformedHeaderResetsOnlyItsStream() throws Exception {
    Map<String, UnaryOperator<byte[]>> breakages = new java.util.LinkedHashMap<>();
    breakages.put("bad signature", h -> flip(h, 3));
    breakages.put("bad version", h -> set(h, 12, 0x31));
    breakages.put("bad command", h -> set(h, 12, 0x2F));
    breakages.put("bad family", h -> set(h, 13, 0x31));
    breakages.put("length overrun", h -> withLength(h, length(h) + 100));
    breakages.put("length below the address block", h -> Arrays.copyOf(withLength(h, 4), 20));
    breakages.put("TLV overrun", h -> { byte[] b = h.clone(); b[b.length - 6] = 0; b[b.length - 5] = 104; return b; });
    breakages.put("missing TLV", DetourSessionsTest::withoutProtocolTlv);
    breakages.put("truncated", h -> Arrays.copyOf(h, h.length / 2));
    try (DetourClient client = client(b -> b.reuseLimit(64))) {
      for (var breakage : breakages.entrySet()) {
        try (RawSession bad = client.openRaw()) {
          SessionSpec spec = SessionSpec.continueWith(0);
          bad.north().write(breakage.getValue().apply(bad.northHeader(spec).encode()));
          bad.north().finish();
          StreamOutcome outcome = bad.north().awaitOutcome(WAIT);
          assertThat(outcome.kind()).as(breakage.getKey()).isEqualTo(StreamOutcome.Kind.RESET);
          assertThat(bad.connection().isOpen()).as(breakage.getKey()).isTrue();
        }
        assertThat(client.runSession(SessionSpec.continueWith(8 * 1024)).ok()).as("after " + breakage.getKey()).isTrue();
      }
    }
  }

  @Test
  void aPayloadShorterThanAnnouncedAndAStalledHeaderAreCut() throws Exception {
    try (DetourClient client = client(b -> b)) {
      try (RawSession shortPayload = client.openRaw()) {
        SessionSpec spec = SessionSpec.continueWith(0).withProtocol("websocket");
        shortPayload.north().write(shortPayload.northHeader(spec).encode());
        shortPayload.north().write(Arrays.copyOf(spec.effectivePayload(), 10));
        shortPayload.north().finish();
        assertThat(shortPayload.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      }
      try (RawSession stalled = client.openRaw()) {
        long start = System.nanoTime();
        stalled.north().write(Arrays.copyOf(stalled.northHeader(SessionSpec.continueWith(0)).encode(), 10));
        assertThat(stalled.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
        // header.timeout is 1 s here
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(800), Duration.ofSeconds(5));
      }
      assertThat(client.runSession(SessionSpec.continueWith(1024)).ok()).isTrue();
    }
  }

  @Test
  void aSouthStreamWithoutItsNorthIsReset() throws Exception {
    try (DetourClient client = client(b -> b)) {
      try (RawSession orphan = client.openRaw()) {
        orphan.south().write(orphan.southHeader());
        assertThat(orphan.south().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      }
      try (RawSession session = client.openRaw()) {
        SessionSpec spec = SessionSpec.continueWith(0);
        session.writeNorthHeader(spec);
        assertThat(session.readReply(WAIT)).isEqualTo(new DetourReply(session.matchId(), Action.CONTINUE));
        // A south header naming a match id no north on this connection has.
        byte[] wrong = session.southHeader();
        ByteBuffer.wrap(wrong).putShort(wrong.length - 2, (short) (session.matchId() ^ 0x5555));
        session.south().write(wrong);
        assertThat(session.south().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
        // Its north then gets no south within pairing.timeout (3 s) and is cut as well.
        assertThat(session.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      }
    }
  }

  @Test
  void aContinuedNorthWhoseSouthNeverComesEndsAfterThePairingTimeout() throws Exception {
    try (DetourClient client = client(b -> b); RawSession session = client.openRaw()) {
      UUID task = UUID.randomUUID();
      session.writeNorthHeader(SessionSpec.continueWith(0).withTaskId(task));
      assertThat(session.readReply(WAIT).action()).isEqualTo(Action.CONTINUE);
      assertThat(session.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      assertThat(endedRecord(task).end()).isEqualTo("south_missing");
    }
  }

  @Test
  void halfCloseInEachDirection() throws Exception {
    try (DetourClient client = client(b -> b)) {
      for (boolean northFirst : new boolean[] {true, false}) {
        try (RawSession session = client.openRaw()) {
          session.writeNorthHeader(SessionSpec.continueWith(0));
          assertThat(session.readReply(WAIT).action()).isEqualTo(Action.CONTINUE);
          session.south().write(session.southHeader());
          var first = northFirst ? session.north() : session.south();
          var second = northFirst ? session.south() : session.north();
          byte[] a = random(40_000);
          byte[] b = random(30_000);
          first.write(a);
          first.finish();
          assertThat(first.readAll(WAIT)).isEqualTo(a);
          // The other direction still relays after the first one ended.
          second.write(b);
          assertThat(second.read(b.length, WAIT)).isEqualTo(b);
          second.write(b);
          second.finish();
          assertThat(second.readAll(WAIT)).isEqualTo(b);
        }
      }
    }
  }

  /**
   * The relay waits with a small buffer and takes its large one only while more bytes wait:
   * every message, below, at and past both buffers' sizes, must come back whole before the next
   * one is sent (a relay that sat on bytes until it had more would never answer here).
   */
  @Test
  void messagesOfEverySizeComeBackOneByOneLikeAConversation() throws Exception {
    try (DetourClient client = client(b -> b)) {
      try (RawSession session = client.openRaw()) {
        session.writeNorthHeader(SessionSpec.continueWith(0));
        assertThat(session.readReply(WAIT).action()).isEqualTo(Action.CONTINUE);
        session.south().write(session.southHeader());
        int[] sizes = {1, 2, 100, 2047, 2048, 2049, 4097, 16_383, 16_384, 16_385, 100_000, 1, 3};
        for (int size : sizes) {
          for (var stream : List.of(session.north(), session.south())) {
            byte[] message = random(size);
            stream.write(message);
            assertThat(stream.read(size, WAIT)).as("%d bytes", size).isEqualTo(message);
          }
        }
        session.north().finish();
        session.south().finish();
        assertThat(session.north().readAll(WAIT)).isEmpty();
        assertThat(session.south().readAll(WAIT)).isEmpty();
      }
    }
  }

  /**
   * Kwik hands a connection's streams over on a platform thread of that connection's own
   * ("callbacks-" and the connection id; the client's connections have an empty id), kept while
   * the connection lives; the server hands them over on shared virtual threads instead.
   */
  @Test
  void connectionsThatCarriedSessionsKeepNoPlatformThreadForTheirStreams() throws Exception {
    // Another test class in this JVM may have left such a thread of its own (a bare Kwik
    // connector's connection not yet gone): only the threads that appear here count.
    List<String> before = callbackThreads();
    try (DetourClient client = client(b -> b.connections(4))) {
      assertAllOk(client.runSessions(IntStream.range(0, 8).mapToObj(i -> SessionSpec.continueWith(1000)).toList(), 8));
      // The connections are still open, each has carried streams.
      assertThat(callbackThreads()).as("callback threads started while the sessions ran")
          .allMatch(before::contains);
    }
  }

  private static List<String> callbackThreads() {
    return Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
        .filter(name -> name.matches("callbacks-[0-9a-f]+-\\d+")).toList();
  }

  @Test
  void aResetMidTransferEndsTheSessionAndResetsItsPartnerOnly() throws Exception {
    try (DetourClient client = client(b -> b)) {
      UUID task = UUID.randomUUID();
      try (RawSession session = client.openRaw()) {
        session.writeNorthHeader(SessionSpec.continueWith(0).withTaskId(task));
        assertThat(session.readReply(WAIT).action()).isEqualTo(Action.CONTINUE);
        session.south().write(session.southHeader());
        byte[] data = random(20_000);
        session.north().write(data);
        assertThat(session.north().read(data.length, WAIT)).isEqualTo(data);
        var beside = java.util.concurrent.CompletableFuture.supplyAsync(() ->
            client.runSession(SessionSpec.continueWith(2 * 1024 * 1024)));
        session.north().reset(0x101);
        session.north().abortReading(0x101);
        assertThat(session.south().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
        assertThat(beside.get(60, TimeUnit.SECONDS).ok()).isTrue();
      }
      assertThat(endedRecord(task).end()).isEqualTo("north_reset");
    }
  }

  @Test
  void endingTheWayG3proxyDoes() throws Exception {
    try (DetourClient client = client(b -> b.connections(2))) {
      assertAllOk(client.runSessions(IntStream.range(0, 20)
          .mapToObj(i -> SessionSpec.continueWith(256 * 1024).withEndLikeG3(true)).toList(), 10));
    }
  }

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    new java.util.Random(n).nextBytes(b);
    return b;
  }

  private static byte[] flip(byte[] h, int i) {
    byte[] b = h.clone();
    b[i] ^= (byte) 0xFF;
    return b;
  }

  private static byte[] set(byte[] h, int i, int value) {
    byte[] b = h.clone();
    b[i] = (byte) value;
    return b;
  }

  private static int length(byte[] h) {
    return ((h[14] & 0xFF) << 8) | (h[15] & 0xFF);
  }

  private static byte[] withLength(byte[] h, int length) {
    byte[] b = h.clone();
    b[14] = (byte) (length >> 8);
    b[15] = (byte) length;
    return b;
  }

  /** Drops TLV 0xE4 and fixes the length field, as the quinn client's missing-tlv fault does. */
  private static byte[] withoutProtocolTlv(byte[] h) {
    List<Byte> out = new ArrayList<>();
    for (int i = 0; i < 28; i++) {
      out.add(h[i]);
    }
    int i = 28;
    while (i + 3 <= h.length) {
      int type = h[i] & 0xFF;
      int len = ((h[i + 1] & 0xFF) << 8) | (h[i + 2] & 0xFF);
      if (type != 0xE4) {
        for (int j = i; j < i + 3 + len; j++) {
          out.add(h[j]);
        }
      }
      i += 3 + len;
    }
    byte[] b = new byte[out.size()];
    for (int j = 0; j < b.length; j++) {
      b[j] = out.get(j);
    }
    return withLength(b, b.length - 16);
  }
}
