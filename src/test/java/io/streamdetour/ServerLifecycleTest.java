package io.streamdetour;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.Decision;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.codec.Action;
import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.policy.PolicyVerticle;
import io.streamdetour.relay.Direction;
import io.streamdetour.relay.Inspector;
import io.streamdetour.relay.InspectorRegistry;
import io.streamdetour.testclient.DetourClient;
import io.streamdetour.testclient.RawSession;
import io.streamdetour.testclient.SessionSpec;
import io.streamdetour.testclient.StreamOutcome;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import tech.kwik.core.ConnectionTerminatedEvent;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Server behaviours that need their own configuration: shutdown, timeouts, fallbacks, limits, inspectors. */
class ServerLifecycleTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  private static JsonObject acceptingTestAlpn() {
    return new JsonObject().put("quic", new JsonObject().put("alpn", new JsonArray().add(DetourClient.DEFAULT_ALPN)));
  }

  private static DetourClient client(RunningServer server) throws Exception {
    return DetourSessionsTest.client(server, b -> b);
  }

  private static RawSession continued(DetourClient client, UUID task) throws Exception {
    return client.openContinued(SessionSpec.continueWith(0).withTaskId(task), WAIT);
  }

  @Test
  void gracefulStopLetsRunningSessionsFinishAndRefusesNewOnes() throws Exception {
    RunningServer server = RunningServer.start(acceptingTestAlpn().put("shutdown", new JsonObject().put("grace", "20s")));
    try (DetourClient client = client(server); RawSession running = continued(client, UUID.randomUUID())) {
      byte[] first = "before the stop".getBytes();
      running.north().write(first);
      assertThat(running.north().read(first.length, WAIT)).isEqualTo(first);

      long start = System.nanoTime();
      Future<Void> stopped = server.server.shutdown();
      await().atMost(WAIT).until(() -> {
        try (RawSession late = client.openRaw()) {
          late.writeNorthHeader(SessionSpec.continueWith(0));
          return late.north().awaitOutcome(WAIT).kind() == StreamOutcome.Kind.RESET;
        }
      });
      assertThat(stopped.isComplete()).isFalse();

      byte[] rest = "after the stop, still relayed".getBytes();
      running.north().write(rest);
      running.north().finish();
      running.south().write(rest);
      running.south().finish();
      assertThat(running.north().readAll(WAIT)).isEqualTo(rest);
      assertThat(running.south().readAll(WAIT)).isEqualTo(rest);

      stopped.await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(15));
      ConnectionTerminatedEvent closed = running.connection().awaitClosed(WAIT).orElseThrow();
      assertThat(closed.applicationErrorCode()).isEqualTo(DetourErrorCodes.SERVER_SHUTDOWN);
    } finally {
      server.closeVertx();
    }
  }

  @Test
  void aGracefulStopWithNoSessionRunningCompletes() throws Exception {
    // Three times: a drain timer that fired before it was armed once left the stop hanging.
    for (int i = 0; i < 3; i++) {
      RunningServer server = RunningServer.start(acceptingTestAlpn());
      try {
        server.server.shutdown().await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      } finally {
        server.closeVertx();
      }
    }
  }

  @Test
  void theSouthOfANorthContinuedBeforeTheStopStillPairs() throws Exception {
    RunningServer server = RunningServer.start(acceptingTestAlpn().put("shutdown", new JsonObject().put("grace", "20s")));
    try (DetourClient client = client(server); RawSession session = client.openRaw()) {
      session.writeNorthHeader(SessionSpec.continueWith(0));
      assertThat(session.readReply(WAIT).action()).isEqualTo(Action.CONTINUE);
      Future<Void> stopped = server.server.shutdown();
      session.south().write(session.southHeader());
      byte[] data = "remote to client, after the stop began".getBytes();
      session.south().write(data);
      session.south().finish();
      session.north().finish();
      assertThat(session.south().readAll(WAIT)).isEqualTo(data);
      assertThat(session.north().readAll(WAIT)).isEmpty();
      stopped.await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } finally {
      server.closeVertx();
    }
  }

  @Test
  void aSessionStillRunningAfterTheGraceTimeIsCut() throws Exception {
    RunningServer server = RunningServer.start(acceptingTestAlpn().put("shutdown", new JsonObject().put("grace", "1s")));
    List<SessionEnded> ended = new CopyOnWriteArrayList<>();
    server.vertx.eventBus().<SessionEnded>consumer(Addresses.SESSION_ENDED, m -> ended.add(m.body()));
    try (DetourClient client = client(server); RawSession idle = continued(client, UUID.randomUUID())) {
      server.server.shutdown().await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(idle.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      await().atMost(WAIT).until(() -> !ended.isEmpty());
      assertThat(ended.get(0).end()).isEqualTo("server_shutdown");
    } finally {
      server.closeVertx();
    }
  }

  @Test
  void sessionsCutByAStopStillGetTheirSessionLogAndCaptureIndexLines() throws Exception {
    RunningServer server = RunningServer.start(acceptingTestAlpn()
        .put("shutdown", new JsonObject().put("grace", "0s"))
        .put("policy", new JsonObject().put("rules", new JsonArray().add(new JsonObject()
            .put("name", "capture-all").put("action", "continue").put("match", new JsonObject())
            .put("options", new JsonObject().put("capture", true))))));
    Path sessionLog = Path.of(server.server.config().audit().file());
    Path index = Path.of(server.server.config().capture().dir()).resolve("index.jsonl");
    Set<String> tasks = new java.util.HashSet<>();
    try (DetourClient client = client(server)) {
      List<RawSession> running = new java.util.ArrayList<>();
      for (int i = 0; i < 10; i++) {
        UUID task = UUID.randomUUID();
        tasks.add(task.toString());
        RawSession session = continued(client, task);
        running.add(session);
        session.north().write("captured".getBytes());
        session.north().read(8, WAIT);
      }
      server.server.shutdown().await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      // Read before Vert.x closes: the stop itself must have waited for the lines.
      assertThat(java.nio.file.Files.readAllLines(sessionLog)).map(l -> new JsonObject(l).getString("task_id"))
          .containsExactlyInAnyOrderElementsOf(tasks);
      assertThat(java.nio.file.Files.readAllLines(index)).map(l -> new JsonObject(l).getString("task_id"))
          .containsExactlyInAnyOrderElementsOf(tasks);
      running.forEach(RawSession::close);
    } finally {
      server.closeVertx();
    }
  }

  @Test
  void anIdleSessionIsEndedAndLoggedAsSuch() throws Exception {
    try (RunningServer server = RunningServer.start(acceptingTestAlpn()
        .put("relay", new JsonObject().put("idle-timeout", "1s")))) {
      List<SessionEnded> ended = new CopyOnWriteArrayList<>();
      server.vertx.eventBus().<SessionEnded>consumer(Addresses.SESSION_ENDED, m -> ended.add(m.body()));
      try (DetourClient client = client(server); RawSession session = continued(client, UUID.randomUUID())) {
        byte[] data = "some bytes, then silence".getBytes();
        session.south().write(data);
        assertThat(session.south().read(data.length, WAIT)).isEqualTo(data);
        long start = System.nanoTime();
        assertThat(session.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(700), Duration.ofSeconds(5));
        await().atMost(WAIT).until(() -> !ended.isEmpty());
        assertThat(ended.get(0).end()).isEqualTo("idle_timeout");
        assertThat(ended.get(0).bytesSouth()).isEqualTo(data.length);
        assertThat(server.server.activeSessions()).isZero();
      }
    }
  }

  @Test
  void withoutAnAnswerFromThePolicyTheFallbackDecides() throws Exception {
    try (RunningServer server = RunningServer.start(acceptingTestAlpn().put("decision",
        new JsonObject().put("timeout", "200ms").put("fallback", "block")));
        LogRecorder log = LogRecorder.of(io.streamdetour.session.SessionCoordinator.class)) {
      undeployPolicy(server);
      try (DetourClient client = client(server)) {
        // No policy at all: the request fails at once.
        assertThat(client.runSession(SessionSpec.continueWith(0).withExpectedAction(Action.BLOCK)).ok()).isTrue();
        assertThat(fallbacks(server, "error")).isEqualTo(1);
        // A policy that fails.
        var failing = server.vertx.eventBus().consumer(Addresses.DECIDE, m -> m.fail(PolicyVerticle.POLICY_ERROR, "broken"));
        assertThat(client.runSession(SessionSpec.continueWith(0).withExpectedAction(Action.BLOCK)).ok()).isTrue();
        assertThat(fallbacks(server, "error")).isEqualTo(2);
        failing.unregister().await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        // A policy that answers too late.
        server.vertx.eventBus().consumer(Addresses.DECIDE, m ->
            server.vertx.setTimer(10_000, id -> m.reply(new Decision(Action.CONTINUE, "late"))));
        long start = System.nanoTime();
        assertThat(client.runSession(SessionSpec.continueWith(0).withExpectedAction(Action.BLOCK)).ok()).isTrue();
        // Decided by the fallback at 200 ms, not by the answer at 10 s (slack for a loaded machine).
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(150), Duration.ofSeconds(5));
        assertThat(fallbacks(server, "timeout")).isEqualTo(1);
        assertThat(fallbacks(server, "error")).isEqualTo(2);
      }
      // Each fallback is logged, saying why.
      assertThat(log.messages()).filteredOn(m -> m.contains("fallback BLOCK")).satisfiesExactly(
          m -> assertThat(m).contains("the policy failed (No handlers for address stream-detour.policy.decide)"),
          m -> assertThat(m).contains("the policy failed (broken)"),
          m -> assertThat(m).contains("no decision within 200 ms"));
    }
  }

  @Test
  void aNorthThatGoesAwayBeforeItsReplyEndsItsSession() throws Exception {
    SessionEnded record = northGoneBeforeTheReply(Action.CONTINUE);
    assertThat(record.end()).isEqualTo("reply_failed");
  }

  @Test
  void aBlockThatCannotBeRepliedIsStillRecorded() throws Exception {
    SessionEnded record = northGoneBeforeTheReply(Action.BLOCK);
    assertThat(record.end()).isEqualTo("reply_failed");
    assertThat(record.action()).isEqualTo("block");
  }

  /** The client resets its north while the policy thinks; the decision then comes. */
  private static SessionEnded northGoneBeforeTheReply(Action decided) throws Exception {
    // The reset must reach the server before the decision does, even on a loaded machine.
    try (RunningServer server = RunningServer.start(acceptingTestAlpn()
        .put("decision", new JsonObject().put("timeout", "10s")))) {
      List<SessionEnded> ended = new CopyOnWriteArrayList<>();
      server.vertx.eventBus().<SessionEnded>consumer(Addresses.SESSION_ENDED, m -> ended.add(m.body()));
      undeployPolicy(server);
      var asked = new java.util.concurrent.CountDownLatch(1);
      server.vertx.eventBus().consumer(Addresses.DECIDE, m -> {
        asked.countDown();
        server.vertx.setTimer(3000, id -> m.reply(new Decision(decided, "slow")));
      });
      try (DetourClient client = client(server); RawSession session = client.openRaw()) {
        session.writeNorthHeader(SessionSpec.continueWith(0));
        // Once the header is in (a reset before would only discard it), the client goes away.
        assertThat(asked.await(10, TimeUnit.SECONDS)).isTrue();
        session.north().reset(0x101);
        session.north().abortReading(0x101);
        await().atMost(WAIT).until(() -> !ended.isEmpty());
        assertThat(server.server.activeSessions()).isZero();
        Thread.sleep(200); // no second record
        assertThat(ended).hasSize(1);
        return ended.get(0);
      }
    }
  }

  @Test
  void aContinuedNorthReusingARunningSessionsMatchIdIsRefusedAndRecorded() throws Exception {
    try (RunningServer server = RunningServer.start(acceptingTestAlpn());
        DetourClient client = DetourSessionsTest.client(server, builder -> builder.connections(1));
        RawSession running = continued(client, UUID.randomUUID());
        RawSession reusing = client.openRaw()) {
      java.util.Map<String, SessionEnded> ended = server.recordEndedSessions();
      assertThat(reusing.connection()).isSameAs(running.connection());
      UUID task = UUID.randomUUID();
      reusing.north().write(reusing.northHeader(SessionSpec.continueWith(0).withTaskId(task))
          .withMatchId(running.matchId()).encode());

      assertThat(reusing.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      await().atMost(WAIT).until(() -> ended.containsKey(task.toString()));
      assertThat(ended.get(task.toString()).end()).isEqualTo("duplicate_match_id");
      // The session that had the match id first runs on.
      byte[] data = "still mine".getBytes();
      running.north().write(data);
      assertThat(running.north().read(data.length, WAIT)).isEqualTo(data);
      assertThat(server.server.activeSessions()).isEqualTo(1);
    }
  }

  private static double fallbacks(RunningServer server, String reason) {
    return server.server.meterRegistry().get("stream.detour.decision.fallbacks").tag("reason", reason).counter().count();
  }

  private static void undeployPolicy(RunningServer server) throws Exception {
    VertxInternal internal = (VertxInternal) server.vertx;
    for (String id : Set.copyOf(server.vertx.deploymentIDs())) {
      var deployment = internal.deploymentManager().deployment(id);
      if (deployment != null && deployment.deployment().identifier().contains(PolicyVerticle.class.getName())) {
        server.vertx.undeploy(id).await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      }
    }
  }

  @Test
  void connectionsOverTheLimitAreClosed() throws Exception {
    JsonObject overrides = acceptingTestAlpn();
    overrides.getJsonObject("quic").put("max-connections", 2);
    try (RunningServer server = RunningServer.start(overrides)) {
      // c pings: if the server's one CONNECTION_CLOSE is lost on a busy machine, a ping makes it send another.
      try (DetourClient a = client(server); DetourClient b = client(server);
          DetourClient c = DetourSessionsTest.client(server, builder -> builder.keepAliveInterval(Duration.ofMillis(500)))) {
        var first = a.connectOnly();
        var second = b.connectOnly();
        await().atMost(WAIT).until(() -> server.server.connectionCount() == 2);
        var third = c.connectOnly();
        ConnectionTerminatedEvent refused = third.awaitClosed(WAIT).orElseThrow();
        assertThat(refused.applicationErrorCode()).isEqualTo(DetourErrorCodes.LIMIT_EXCEEDED);
        assertThat(first.isOpen()).isTrue();
        assertThat(second.isOpen()).isTrue();
        // A connection that goes makes room for a new one.
        second.close();
        await().atMost(WAIT).until(() -> server.server.connectionCount() == 1);
        assertThat(c.runSession(SessionSpec.continueWith(1024)).ok()).isTrue();
      }
    }
  }

  /** XORs each byte with its offset in its direction: only right if every chunk arrives once, in order. */
  private static final class OffsetXorInspector implements Inspector {
    private final long[] offsets = new long[2];
    private final Set<String> threads;

    OffsetXorInspector(Set<String> threads) {
      this.threads = threads;
    }

    @Override
    public Buffer inspect(Direction direction, Buffer data) {
      threads.add(Thread.currentThread().toString());
      byte[] bytes = data.getBytes();
      for (int i = 0; i < bytes.length; i++) {
        bytes[i] ^= (byte) (offsets[direction.ordinal()]++);
      }
      return Buffer.buffer(bytes);
    }

    @Override
    public Buffer finish(Direction direction) {
      return Buffer.buffer(direction == Direction.NORTH ? "|end" : "");
    }
  }

  @Test
  void inspectorsRunInOrderOffTheEdgeThreadsAndMayChangeTheBytes() throws Exception {
    Set<String> threads = ConcurrentHashMap.newKeySet();
    InspectorRegistry inspectors = new InspectorRegistry();
    inspectors.register("offset-xor", header -> new OffsetXorInspector(threads));
    try (RunningServer server = RunningServer.start(acceptingTestAlpn()
        .put("relay", new JsonObject().put("inspectors", new JsonArray().add("offset-xor"))), inspectors);
        DetourClient client = client(server);
        RawSession session = continued(client, UUID.randomUUID())) {
      byte[] data = new byte[300_000];
      new java.util.Random(7).nextBytes(data);
      for (int i = 0; i < data.length; i += 10_000) {
        session.north().write(java.util.Arrays.copyOfRange(data, i, i + 10_000));
        session.south().write(java.util.Arrays.copyOfRange(data, i, i + 10_000));
      }
      session.north().finish();
      session.south().finish();
      byte[] north = session.north().readAll(WAIT);
      byte[] south = session.south().readAll(WAIT);
      byte[] expected = new byte[data.length];
      for (int i = 0; i < data.length; i++) {
        expected[i] = (byte) (data[i] ^ (byte) i);
      }
      assertThat(java.util.Arrays.copyOf(north, data.length)).isEqualTo(expected);
      assertThat(new String(north, data.length, north.length - data.length)).isEqualTo("|end");
      assertThat(south).isEqualTo(expected);
      assertThat(threads).isNotEmpty().allSatisfy(t -> {
        assertThat(t).contains("VirtualThread");
        assertThat(t).doesNotContain("vert.x-eventloop").doesNotContain("receiver").doesNotContain("sender");
      });
    }
  }

  @Test
  void anInspectorThatThrowsEndsOnlyItsSession() throws Exception {
    InspectorRegistry inspectors = new InspectorRegistry();
    inspectors.register("explode-on-north", header -> (direction, data) -> {
      if (direction == Direction.NORTH) {
        throw new IllegalStateException("inspector bug");
      }
      return data;
    });
    try (RunningServer server = RunningServer.start(acceptingTestAlpn()
        .put("relay", new JsonObject().put("inspectors", new JsonArray().add("explode-on-north"))), inspectors);
        DetourClient client = client(server);
        RawSession session = continued(client, UUID.randomUUID())) {
      List<SessionEnded> ended = new CopyOnWriteArrayList<>();
      server.vertx.eventBus().<SessionEnded>consumer(Addresses.SESSION_ENDED, m -> ended.add(m.body()));
      byte[] data = "fine on south".getBytes();
      session.south().write(data);
      assertThat(session.south().read(data.length, WAIT)).isEqualTo(data);
      session.north().write("boom".getBytes());
      assertThat(session.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      assertThat(session.south().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
      await().atMost(WAIT).until(() -> !ended.isEmpty());
      assertThat(ended.get(0).end()).isEqualTo("north_reset");
      assertThat(server.server.activeSessions()).isZero();
      assertThat(client.runSession(SessionSpec.continueWith(0)).ok()).isTrue();
    }
  }

  @Test
  void aNorthWhoseSouthNeverComesIsEndedAndCountedAndItsInspectorsCloseOffTheEventLoop() throws Exception {
    InspectorRegistry inspectors = new InspectorRegistry();
    java.util.concurrent.CompletableFuture<String> closedOn = new java.util.concurrent.CompletableFuture<>();
    inspectors.register("close-probe", header -> new Inspector() {
      @Override
      public Buffer inspect(Direction direction, Buffer data) {
        return data;
      }

      @Override
      public void close() {
        closedOn.complete((io.vertx.core.Context.isOnEventLoopThread() ? "event loop " : "")
            + Thread.currentThread());
      }
    });
    try (RunningServer server = RunningServer.start(acceptingTestAlpn()
        .put("pairing", new JsonObject().put("timeout", "2s"))
        .put("relay", new JsonObject().put("inspectors", new JsonArray().add("close-probe"))), inspectors);
        DetourClient client = client(server);
        RawSession session = client.openRaw()) {
      java.util.Map<String, SessionEnded> ended = server.recordEndedSessions();
      UUID task = UUID.randomUUID();
      session.writeNorthHeader(SessionSpec.continueWith(0).withTaskId(task));
      assertThat(session.readReply(WAIT).action()).isEqualTo(Action.CONTINUE);
      // North ends at once; south is never opened: the pairing timer ends the session.
      session.north().finish();
      assertThat(session.north().readAll(WAIT)).isEmpty();
      await().atMost(WAIT).until(() -> ended.containsKey(task.toString()));
      assertThat(ended.get(task.toString()).end()).isEqualTo("south_missing");
      assertThat(closedOn.get(10, TimeUnit.SECONDS)).doesNotStartWith("event loop");
      assertThat(server.server.meterRegistry().get("stream.detour.pairing.timeouts").counter().count()).isEqualTo(1);
      assertThat(server.server.activeSessions()).isZero();
    }
  }

  @Test
  void aConfigNamingAnUnknownInspectorFailsToStart() {
    assertThatThrownBy(() -> RunningServer.start(new JsonObject()
        .put("relay", new JsonObject().put("inspectors", new JsonArray().add("nope")))))
        .hasMessageContaining("relay.inspectors");
  }

}
