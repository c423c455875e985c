package io.streamdetour;

import io.streamdetour.admin.AdminClient;
import io.streamdetour.admin.PrometheusText;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.config.ConfigException;
import io.streamdetour.relay.Direction;
import io.streamdetour.relay.Inspector;
import io.streamdetour.relay.InspectorRegistry;
import io.streamdetour.testclient.DetourClient;
import io.streamdetour.testclient.RawSession;
import io.streamdetour.testclient.SessionSpec;
import io.streamdetour.testclient.StreamOutcome;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** What a continue rule's options do to its sessions, end to end over QUIC: inspectors, byte cap, capture. */
class RuleOptionsTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  private static JsonObject withRules(JsonObject... rules) {
    return RunningServer.acceptingTestAlpn()
        .put("policy", new JsonObject().put("rules", new JsonArray(List.of((Object[]) rules))));
  }

  private static JsonObject rule(String name, String host, JsonObject options) {
    return new JsonObject().put("name", name).put("action", "continue")
        .put("match", new JsonObject().put("host", new JsonArray().add(host))).put("options", options);
  }

  private static DetourClient client(RunningServer server) throws Exception {
    return DetourClient.builder("127.0.0.1", server.port()).caCertificate(server.caCertificate())
        .serverName("localhost").requestTimeout(WAIT).relayTimeout(Duration.ofSeconds(60)).build();
  }

  private static RawSession continued(DetourClient client, SessionSpec spec) throws Exception {
    return client.openContinued(spec, WAIT);
  }

  /** Upper-cases ASCII letters: easy to see in an echo. */
  private static final class Shout implements Inspector {
    @Override
    public Buffer inspect(Direction direction, Buffer data) {
      return Buffer.buffer(data.toString(StandardCharsets.ISO_8859_1).toUpperCase(Locale.ROOT)
          .getBytes(StandardCharsets.ISO_8859_1));
    }
  }

  @Test
  void aRulesInspectorsRunForItsSessionsOnly() throws Exception {
    InspectorRegistry inspectors = new InspectorRegistry();
    inspectors.register("shout", header -> new Shout());
    try (RunningServer server = RunningServer.start(
            withRules(rule("loud", "loud.example", new JsonObject().put("inspectors", new JsonArray().add("shout")))),
            inspectors);
        DetourClient client = client(server);
        RawSession loud = continued(client, SessionSpec.continueWith(0).withUpstream("loud.example:443"));
        RawSession quiet = continued(client, SessionSpec.continueWith(0).withUpstream("quiet.example:443"))) {
      byte[] data = "hello, detour".getBytes(StandardCharsets.US_ASCII);
      loud.north().write(data);
      loud.south().write(data);
      quiet.north().write(data);
      assertThat(new String(loud.north().read(data.length, WAIT), StandardCharsets.US_ASCII)).isEqualTo("HELLO, DETOUR");
      assertThat(new String(loud.south().read(data.length, WAIT), StandardCharsets.US_ASCII)).isEqualTo("HELLO, DETOUR");
      assertThat(quiet.north().read(data.length, WAIT)).isEqualTo(data);
    }
  }

  @Test
  void anInspectorThatCannotBeMadeResetsItsSessionAloneAndClosesTheOnesMadeBeforeIt() throws Exception {
    InspectorRegistry inspectors = new InspectorRegistry();
    AtomicInteger closed = new AtomicInteger();
    inspectors.register("counted", header -> new Inspector() {
      @Override
      public Buffer inspect(Direction direction, Buffer data) {
        return data;
      }

      @Override
      public void close() {
        closed.incrementAndGet();
      }
    });
    inspectors.register("broken", header -> {
      throw new IllegalStateException("no licence for " + header.upstream());
    });
    try (RunningServer server = RunningServer.start(withRules(rule("fragile", "fragile.example",
        new JsonObject().put("inspectors", new JsonArray().add("counted").add("broken")))), inspectors)) {
      Map<String, SessionEnded> ended = server.recordEndedSessions();
      UUID task = UUID.randomUUID();
      try (DetourClient client = client(server);
          RawSession fine = continued(client, SessionSpec.continueWith(0).withUpstream("fine.example:443"));
          RawSession fragile = client.openRaw()) {
        fragile.writeNorthHeader(SessionSpec.continueWith(0).withTaskId(task).withUpstream("fragile.example:443"));
        assertThat(fragile.north().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
        await().atMost(WAIT).until(() -> ended.containsKey(task.toString()));
        assertThat(ended.get(task.toString()).end()).isEqualTo("inspector_failed");
        assertThat(closed.get()).as("the inspector made before the broken one was closed").isEqualTo(1);

        byte[] data = "still here".getBytes(StandardCharsets.US_ASCII);
        fine.north().write(data);
        assertThat(fine.north().read(data.length, WAIT)).isEqualTo(data);
      }
    }
  }

  @Test
  void aRuleNamingAnUnregisteredInspectorIsRefusedAtStart() {
    assertThatThrownBy(() -> RunningServer.start(
        withRules(rule("r", "a.example", new JsonObject().put("inspectors", new JsonArray().add("missing"))))))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("missing");
  }

  @Test
  void theByteCapCutsTheSessionOnceBothDirectionsTogetherPassIt() throws Exception {
    try (RunningServer server = RunningServer.start(
        withRules(rule("capped", "capped.example", new JsonObject().put("byte-cap", "1KiB"))))) {
      Map<String, SessionEnded> ended = server.recordEndedSessions();
      UUID task = UUID.randomUUID();
      UUID other = UUID.randomUUID();
      try (DetourClient client = client(server);
          RawSession capped = continued(client, SessionSpec.continueWith(0).withTaskId(task)
              .withUpstream("capped.example:443"));
          RawSession free = continued(client, SessionSpec.continueWith(0).withTaskId(other)
              .withUpstream("free.example:443"))) {
        byte[] chunk = new byte[600];
        capped.north().write(chunk);
        assertThat(capped.north().read(chunk.length, WAIT)).isEqualTo(chunk);
        capped.south().write(chunk); // 1200 > 1024
        assertThat(capped.south().awaitOutcome(WAIT).kind()).isEqualTo(StreamOutcome.Kind.RESET);
        await().atMost(WAIT).until(() -> ended.containsKey(task.toString()));
        SessionEnded record = ended.get(task.toString());
        assertThat(record.end()).isEqualTo("byte_cap");
        assertThat(record.rule()).isEqualTo("capped");
        assertThat(record.bytesNorth() + record.bytesSouth()).isEqualTo(1200);

        byte[] big = new byte[4096];
        free.north().write(big);
        assertThat(free.north().read(big.length, WAIT)).isEqualTo(big);
      }
    }
  }

  @Test
  void theChunkThatPassesTheByteCapIsNeitherRelayedNorCaptured() throws Exception {
    try (RunningServer server = RunningServer.start(withRules(rule("capped-watched", "capped.example",
        new JsonObject().put("byte-cap", "1KiB").put("capture", true))))) {
      Map<String, SessionEnded> ended = server.recordEndedSessions();
      UUID task = UUID.randomUUID();
      byte[] relayed = new byte[600];
      new Random(3).nextBytes(relayed);
      try (DetourClient client = client(server);
          RawSession capped = continued(client, SessionSpec.continueWith(0).withTaskId(task)
              .withUpstream("capped.example:443"))) {
        capped.north().write(relayed);
        assertThat(capped.north().read(relayed.length, WAIT)).isEqualTo(relayed);
        capped.south().write(new byte[600]); // 1200 > 1024
        StreamOutcome south = capped.south().awaitOutcome(WAIT);
        assertThat(south.kind()).isEqualTo(StreamOutcome.Kind.RESET);
        await().atMost(WAIT).until(() -> ended.containsKey(task.toString()));
      }
      JsonObject line = captureIndex(server).get(0);
      assertThat(Files.readAllBytes(captureDir(server).resolve(line.getString("north_file")))).isEqualTo(relayed);
      assertThat(line.getValue("south_file")).as("nothing went back on south").isNull();
      assertThat(line.getLong("bytes_south")).isZero();
    }
  }

  @Test
  void aFullCaptureDiskStopsCaptureNeverTheRelay(@TempDir Path tmp) throws Exception {
    Tmpfs disk = Tmpfs.mount(tmp.resolve("small-disk"), "size=64k");
    try {
      JsonObject config = withRules(rule("watched", "watched.example", new JsonObject().put("capture", true)));
      config.put("capture", new JsonObject().put("dir", disk.path().resolve("capture").toString()));
      try (RunningServer server = RunningServer.start(config)) {
        Map<String, SessionEnded> ended = server.recordEndedSessions();
        UUID task = UUID.randomUUID();
        byte[] data = new byte[1 << 20];
        new Random(11).nextBytes(data);
        try (DetourClient client = client(server);
            RawSession watched = continued(client, SessionSpec.continueWith(0).withTaskId(task)
                .withUpstream("watched.example:443"))) {
          watched.north().write(data);
          watched.north().finish();
          watched.south().write(data);
          watched.south().finish();
          assertThat(watched.north().readAll(WAIT)).isEqualTo(data);
          assertThat(watched.south().readAll(WAIT)).isEqualTo(data);
          await().atMost(WAIT).until(() -> ended.containsKey(task.toString()));
        }
        assertThat(ended.get(task.toString()).end()).isEqualTo("completed");
        PrometheusText metrics = PrometheusText.parse(
            new AdminClient(server.server.adminAddress()).get("/metrics").body());
        assertThat(metrics.value("stream_detour_capture_errors_total")).isEqualTo(1);
        assertThat(metrics.value("stream_detour_capture_bytes")).isPositive().isLessThanOrEqualTo(64 * 1024);
        Path north;
        try (var files = Files.list(captureDir(server))) {
          north = files.filter(f -> f.toString().endsWith(".north")).findFirst().orElseThrow();
        }
        byte[] kept = Files.readAllBytes(north);
        assertThat(kept).as("what was written before the disk filled").isEqualTo(Arrays.copyOf(data, kept.length));
        // The index line may not fit on the full disk either; when it does, it says why capture stopped.
        List<JsonObject> index = Files.exists(captureDir(server).resolve("index.jsonl")) ? captureIndex(server) : List.of();
        if (!index.isEmpty()) {
          assertThat(index).singleElement()
              .satisfies(line -> assertThat(line.getString("error")).contains("No space left on device"));
        }
      }
    } finally {
      assertThat(disk.unmount()).as("unmounted: no capture file left open").isTrue();
    }
  }

  private static Path captureDir(RunningServer server) {
    return Path.of(server.server.config().capture().dir());
  }

  private static List<JsonObject> captureIndex(RunningServer server) throws Exception {
    return Files.readAllLines(captureDir(server).resolve("index.jsonl")).stream().map(JsonObject::new).toList();
  }


  @Test
  void captureHoldsExactlyWhatWasRelayedAndTheAuditFileTheSession() throws Exception {
    try (RunningServer server = RunningServer.start(
        withRules(rule("watched", "watched.example", new JsonObject().put("capture", true))))) {
      Map<String, SessionEnded> ended = server.recordEndedSessions();
      UUID task = UUID.randomUUID();
      UUID plain = UUID.randomUUID();
      Random random = new Random(7);
      byte[] north = new byte[300_000];
      byte[] south = new byte[120_000];
      random.nextBytes(north);
      random.nextBytes(south);
      try (DetourClient client = client(server);
          RawSession watched = continued(client, SessionSpec.continueWith(0).withTaskId(task)
              .withUpstream("watched.example:443").withUsername("carol"));
          RawSession unwatched = continued(client, SessionSpec.continueWith(0).withTaskId(plain))) {
        watched.north().write(north);
        watched.north().finish();
        watched.south().write(south);
        watched.south().finish();
        assertThat(watched.north().readAll(WAIT)).isEqualTo(north);
        assertThat(watched.south().readAll(WAIT)).isEqualTo(south);
        unwatched.north().finish();
        unwatched.south().finish();
        assertThat(unwatched.north().readAll(WAIT)).isEmpty();
        await().atMost(WAIT).until(() -> ended.containsKey(task.toString()) && ended.containsKey(plain.toString()));
      }
      Path capture = Path.of(server.server.config().capture().dir());
      List<JsonObject> index = Files.readAllLines(capture.resolve("index.jsonl")).stream().map(JsonObject::new).toList();
      assertThat(index).hasSize(1);
      JsonObject line = index.get(0);
      assertThat(line.getString("task_id")).isEqualTo(task.toString());
      assertThat(line.getString("rule")).isEqualTo("watched");
      assertThat(line.getString("user")).isEqualTo("carol");
      assertThat(line.getBoolean("truncated")).isFalse();
      assertThat(Files.readAllBytes(capture.resolve(line.getString("north_file")))).isEqualTo(north);
      assertThat(Files.readAllBytes(capture.resolve(line.getString("south_file")))).isEqualTo(south);

      Path auditFile = Path.of(server.server.config().audit().file());
      await().atMost(WAIT).untilAsserted(() -> assertThat(Files.exists(auditFile)
          && Files.readAllLines(auditFile).stream().anyMatch(l -> l.contains(task.toString()))).isTrue());
      JsonObject audit = Files.readAllLines(auditFile).stream().map(JsonObject::new)
          .filter(j -> j.getString("task_id").equals(task.toString())).findFirst().orElseThrow();
      assertThat(audit.getString("rule")).isEqualTo("watched");
      assertThat(audit.getString("action")).isEqualTo("continue");
      assertThat(audit.getInteger("config_version")).isEqualTo(1);
      assertThat(audit.getLong("bytes_north")).isEqualTo(north.length);
      assertThat(audit.getLong("bytes_south")).isEqualTo(south.length);
    }
  }
}
