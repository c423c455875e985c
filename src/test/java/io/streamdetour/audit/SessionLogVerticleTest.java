package io.streamdetour.audit;

import io.streamdetour.LogRecorder;
import io.streamdetour.Tmpfs;
import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.RecordCodec;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.config.ServerConfig;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The session log's own rolling file, as Logback writes it. */
class SessionLogVerticleTest {

  private static final int MAX_FILE_BYTES = 4096;

  @TempDir
  Path dir;
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void rollsAtMaxFileSizeGzipsTheOldFilesLosesNoLineAndLetsGoOfTheFileWhenStopped() throws Exception {
    RecordCodec.registerAll(vertx);
    Path file = dir.resolve("logs").resolve("sessions.log");
    String deployment = vertx.deployVerticle(
        new SessionLogVerticle(new ServerConfig.Audit(file.toString(), MAX_FILE_BYTES, 30, 1L << 30)),
        new DeploymentOptions().setThreadingModel(ThreadingModel.WORKER)).await(10, TimeUnit.SECONDS);
    List<String> tasks = new ArrayList<>();
    for (int i = 0; i < 200; i++) { // about 300 bytes each: 60 KB, some 15 files
      String task = UUID.randomUUID().toString();
      tasks.add(task);
      vertx.eventBus().publish(Addresses.SESSION_ENDED, new SessionEnded(task, "alice", "example.com:443",
          "http_2", "continue", "default", 1, "192.0.2.1:50000", "conn-1", i, 1000, 2000, 5, "completed"));
    }
    // A file being compressed cannot be read yet: retried. Some 15 rolled files are compressed
    // in the background; on a busy machine that once took more than 10 s.
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> lines(file).size() >= tasks.size());

    vertx.undeploy(deployment).await(10, TimeUnit.SECONDS);

    List<Path> rolled = rolled(file);
    assertThat(rolled).as("rolled at %d bytes", MAX_FILE_BYTES).hasSizeGreaterThan(5)
        .allSatisfy(gz -> assertThat(gz.getFileName().toString())
            .matches("sessions\\.log\\.\\d{4}-\\d{2}-\\d{2}\\.\\d+\\.gz"));
    for (Path gz : rolled) {
      List<String> inside = gunzip(gz);
      assertThat(inside).isNotEmpty().allSatisfy(line -> new JsonObject(line));
      // Rolled when the file reached the size, before the next line: one line over at most.
      assertThat(String.join("\n", inside).length()).isLessThan(MAX_FILE_BYTES + 400);
    }
    assertThat(Files.size(file)).isLessThan(MAX_FILE_BYTES + 400);
    assertThat(lines(file)).map(line -> new JsonObject(line).getString("task_id"))
        .as("every line once, in order").containsExactlyElementsOf(tasks);
    assertThat(openFiles()).as("the appender closed the file when stopped").noneMatch(f -> f.startsWith(dir.toString()));
  }

  @Test
  void aFullDiskIsReportedInTheOperationalLog() throws Exception {
    RecordCodec.registerAll(vertx);
    Tmpfs disk = Tmpfs.mount(dir.resolve("small-disk"), "size=8k");
    try (LogRecorder log = LogRecorder.of(SessionLogVerticle.class)) {
      Path file = disk.path().resolve("sessions.log");
      String deployment = vertx.deployVerticle(
          new SessionLogVerticle(new ServerConfig.Audit(file.toString(), 1L << 20, 30, 1L << 30)),
          new DeploymentOptions().setThreadingModel(ThreadingModel.WORKER)).await(10, TimeUnit.SECONDS);
      for (int i = 0; i < 100; i++) {
        vertx.eventBus().publish(Addresses.SESSION_ENDED, new SessionEnded(UUID.randomUUID().toString(), null,
            "example.com:443", "http_2", "continue", "default", 1, "192.0.2.1:50000", "conn-1", i, 1, 1, 5,
            "completed"));
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> log.lines().stream()
          .anyMatch(l -> l.startsWith("ERROR session log " + file) && l.contains("No space left on device")));
      vertx.undeploy(deployment).await(10, TimeUnit.SECONDS);
    } finally {
      assertThat(disk.unmount()).as("the appender closed its file").isTrue();
    }
  }

  /** The active file's lines after the rolled ones, oldest first. */
  private static List<String> lines(Path file) throws IOException {
    List<String> all = new ArrayList<>();
    for (Path gz : rolled(file)) {
      all.addAll(gunzip(gz));
    }
    if (Files.exists(file)) {
      all.addAll(Files.readAllLines(file));
    }
    return all;
  }

  private static List<Path> rolled(Path file) throws IOException {
    try (Stream<Path> files = Files.list(file.getParent())) {
      // sessions.log.<date>.<i>.gz, in the order they were rolled (i counts up within a day)
      return files.filter(f -> f.getFileName().toString().endsWith(".gz"))
          .sorted((a, b) -> Integer.compare(index(a), index(b))).toList();
    }
  }

  private static int index(Path gz) {
    String[] parts = gz.getFileName().toString().split("\\.");
    return Integer.parseInt(parts[parts.length - 2]);
  }

  private static List<String> gunzip(Path gz) throws IOException {
    try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    }
  }

  private static List<String> openFiles() throws IOException {
    List<String> open = new ArrayList<>();
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      for (Path fd : fds.toList()) {
        try {
          open.add(Files.readSymbolicLink(fd).toString());
        } catch (IOException gone) {
          // closed while listing
        }
      }
    }
    return open;
  }
}
