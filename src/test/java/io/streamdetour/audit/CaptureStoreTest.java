package io.streamdetour.audit;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.streamdetour.Tmpfs;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.ProxyAddresses;
import io.streamdetour.codec.Upstream;
import io.streamdetour.relay.Direction;
import io.streamdetour.relay.Inspector;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

class CaptureStoreTest {

  private static final long PLENTY = 1L << 30;

  @TempDir
  Path tmp;

  private final Random random = new Random(42);
  private final List<Tmpfs> mounts = new ArrayList<>();
  private final ListAppender<ILoggingEvent> log = new ListAppender<>();
  private Logger logger;

  @BeforeEach
  void captureLog() {
    logger = (Logger) LoggerFactory.getLogger(CaptureStore.class);
    log.start();
    logger.addAppender(log);
  }

  @AfterEach
  void cleanUp() throws Exception {
    logger.detachAppender(log);
    logger.setLevel(null);
    // Unmounted before @TempDir deletes the mount points. Busy means a capture file is still open
    // (a failed test left its session unclosed, or the store leaks): detach it anyway, then say so.
    List<Path> busy = new ArrayList<>();
    for (Tmpfs mount : mounts) {
      if (!mount.unmount()) {
        busy.add(mount.path());
      }
    }
    assertThat(busy).as("mounts busy at unmount").isEmpty();
  }

  /**
   * Kwik interrupts a stream's thread to wake a read or write it blocks in when the stream is
   * reset; the same thread may then capture and end the session. A file channel closes itself
   * when its writing thread is interrupted: CI lost an index line that way ("index.jsonl: null").
   */
  @Test
  void anInterruptedThreadStillCapturesAndIndexesAndKeepsItsInterrupt() throws Exception {
    CaptureStore store = new CaptureStore(tmp, PLENTY, PLENTY);
    byte[] sent = bytes(5000);
    ByteArrayOutputStream north = new ByteArrayOutputStream();
    Thread.currentThread().interrupt();
    try {
      Inspector capture = store.open(header("alice"), "conn-1", "r");
      pass(capture, Direction.NORTH, sent, north);
      Thread.currentThread().interrupt();
      pass(capture, Direction.NORTH, sent, north);
      Thread.currentThread().interrupt();
      capture.close();
      assertThat(Thread.currentThread().isInterrupted()).as("the interrupt is the thread's, left for what it does next")
          .isTrue();
    } finally {
      Thread.interrupted();
    }
    JsonObject entry = single(index(tmp));
    assertThat(entry.getValue("error")).isNull();
    assertThat(entry.getLong("bytes_north")).isEqualTo(2 * sent.length);
    assertThat(Files.readAllBytes(tmp.resolve(entry.getString("north_file")))).isEqualTo(north.toByteArray());
    assertThat(store.errors()).isZero();
  }

  @Test
  void capturesBothDirectionsByteForByteAndIndexesTheSession() throws IOException {
    Path dir = tmp.resolve("captures");
    CaptureStore store = new CaptureStore(dir, PLENTY, PLENTY);
    NorthHeader header = header("alice");

    Inspector capture = store.open(header, "conn-1", "capture-all");
    ByteArrayOutputStream north = new ByteArrayOutputStream();
    ByteArrayOutputStream south = new ByteArrayOutputStream();
    byte[] request = "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    pass(capture, Direction.NORTH, request, north);
    pass(capture, Direction.SOUTH, bytes(3000), south);
    pass(capture, Direction.NORTH, bytes(5000), north);
    pass(capture, Direction.NORTH, new byte[0], north);
    pass(capture, Direction.SOUTH, new byte[] {0, 0, (byte) 0xFF, '\n'}, south);
    pass(capture, Direction.SOUTH, bytes(70_000), south);
    capture.close();

    JsonObject entry = single(index(dir));
    assertThat(Files.readAllBytes(dir.resolve(entry.getString("north_file")))).isEqualTo(north.toByteArray());
    assertThat(Files.readAllBytes(dir.resolve(entry.getString("south_file")))).isEqualTo(south.toByteArray());
    String name = "\\d{8}-\\d{6}-" + header.taskId() + "-\\d+";
    assertThat(entry.getString("north_file")).matches(name + "\\.north");
    assertThat(entry.getString("south_file")).matches(name + "\\.south")
        .startsWith(entry.getString("north_file").replace(".north", ""));
    assertThat(entry.getString("task_id")).isEqualTo(header.taskId().toString());
    assertThat(entry.getString("connection")).isEqualTo("conn-1");
    assertThat(entry.getInteger("match_id")).isEqualTo(7);
    assertThat(entry.getString("user")).isEqualTo("alice");
    assertThat(entry.getString("upstream")).isEqualTo("example.com:443");
    assertThat(entry.getString("protocol")).isEqualTo("http_2");
    assertThat(entry.getString("rule")).isEqualTo("capture-all");
    Instant started = Instant.parse(entry.getString("started"));
    assertThat(Instant.parse(entry.getString("ended"))).isAfterOrEqualTo(started);
    assertThat(entry.getLong("bytes_north")).isEqualTo(north.size());
    assertThat(entry.getLong("bytes_south")).isEqualTo(south.size());
    assertThat(entry.getBoolean("truncated")).isFalse();
    assertThat(entry.containsKey("error")).isTrue();
    assertThat(entry.getValue("error")).isNull();
    assertThat(store.totalBytes()).isEqualTo(north.size() + south.size());
    assertThat(store.errors()).isZero();
    assertThat(log.list).isEmpty();
  }

  @Test
  void aDirectionWithoutBytesHasNoFile() throws IOException {
    CaptureStore store = new CaptureStore(tmp, PLENTY, PLENTY);

    Inspector capture = store.open(header(null), "conn-1", "r");
    pass(capture, Direction.NORTH, bytes(10), new ByteArrayOutputStream());
    capture.close();

    JsonObject entry = single(index(tmp));
    assertThat(entry.getValue("south_file")).isNull();
    assertThat(entry.getValue("user")).isNull();
    assertThat(entry.getLong("bytes_south")).isZero();
    assertThat(files(tmp, ".south")).isEmpty();
    assertThat(files(tmp, ".north")).hasSize(1);
  }

  @Test
  void sessionCapTruncatesExactlyAtTheCap() throws IOException {
    CaptureStore store = new CaptureStore(tmp, 1000, PLENTY);
    Inspector capture = store.open(header("bob"), "conn-1", "r");
    byte[] north = bytes(600);
    byte[] south = bytes(600);

    pass(capture, Direction.NORTH, north, new ByteArrayOutputStream());
    pass(capture, Direction.SOUTH, south, new ByteArrayOutputStream());
    pass(capture, Direction.NORTH, bytes(100), new ByteArrayOutputStream());
    capture.close();
    Inspector exact = store.open(header("bob"), "conn-1", "r");
    pass(exact, Direction.NORTH, bytes(1000), new ByteArrayOutputStream());
    exact.close();

    List<JsonObject> index = index(tmp);
    JsonObject entry = index.get(0);
    assertThat(entry.getBoolean("truncated")).isTrue();
    assertThat(entry.getString("truncated_reason")).isEqualTo("session cap reached");
    assertThat(entry.getLong("bytes_north")).isEqualTo(600);
    assertThat(entry.getLong("bytes_south")).isEqualTo(400);
    assertThat(Files.readAllBytes(tmp.resolve(entry.getString("north_file")))).isEqualTo(north);
    assertThat(Files.readAllBytes(tmp.resolve(entry.getString("south_file"))))
        .isEqualTo(Arrays.copyOf(south, 400));
    assertThat(index.get(1).getBoolean("truncated")).as("exactly the cap is not truncated").isFalse();
    assertThat(index.get(1).getLong("bytes_north")).isEqualTo(1000);
    assertThat(store.totalBytes()).isEqualTo(2000);
  }

  @Test
  void totalCapStopsTheSessionThatWouldExceedIt() throws IOException {
    CaptureStore store = new CaptureStore(tmp, PLENTY, 1000);

    Inspector first = store.open(header("a"), "conn-1", "r");
    pass(first, Direction.NORTH, bytes(700), new ByteArrayOutputStream());
    Inspector second = store.open(header("b"), "conn-2", "r");
    byte[] kept = bytes(200);
    pass(second, Direction.SOUTH, kept, new ByteArrayOutputStream());
    pass(second, Direction.SOUTH, bytes(200), new ByteArrayOutputStream());
    pass(second, Direction.NORTH, bytes(50), new ByteArrayOutputStream());
    pass(first, Direction.SOUTH, bytes(100), new ByteArrayOutputStream());
    first.close();
    second.close();
    Inspector third = store.open(header("c"), "conn-3", "r");
    pass(third, Direction.NORTH, bytes(200), new ByteArrayOutputStream());
    third.close();

    List<JsonObject> index = index(tmp);
    assertThat(index.get(0).getBoolean("truncated")).isFalse();
    assertThat(index.get(0).getLong("bytes_north") + index.get(0).getLong("bytes_south")).isEqualTo(800);
    JsonObject stopped = index.get(1);
    assertThat(stopped.getBoolean("truncated")).isTrue();
    assertThat(stopped.getString("truncated_reason")).isEqualTo("total cap reached");
    assertThat(stopped.getLong("bytes_south")).isEqualTo(200);
    assertThat(stopped.getLong("bytes_north")).as("stopped for good, though 50 bytes would fit").isZero();
    assertThat(Files.readAllBytes(tmp.resolve(stopped.getString("south_file")))).isEqualTo(kept);
    assertThat(index.get(2).getBoolean("truncated")).isTrue();
    assertThat(store.totalBytes()).isEqualTo(1000);
    assertThat(log.list).as("one warning per store, not per session or chunk").singleElement()
        .satisfies(e -> assertThat(e.getLevel()).isEqualTo(Level.WARN));
  }

  @Test
  void aRestartCountsTheCapturesAlreadyOnDisk() throws IOException {
    Inspector before = new CaptureStore(tmp, PLENTY, 1000).open(header("a"), "conn-1", "r");
    pass(before, Direction.NORTH, bytes(600), new ByteArrayOutputStream());
    before.close();

    CaptureStore store = new CaptureStore(tmp, PLENTY, 1000);
    Inspector after = store.open(header("a"), "conn-1", "r");
    pass(after, Direction.NORTH, bytes(300), new ByteArrayOutputStream());
    pass(after, Direction.NORTH, bytes(200), new ByteArrayOutputStream());
    after.close();

    JsonObject entry = index(tmp).get(1);
    assertThat(entry.getLong("bytes_north")).isEqualTo(300);
    assertThat(entry.getString("truncated_reason")).isEqualTo("total cap reached");
    assertThat(store.totalBytes()).isEqualTo(900);
  }

  @Test
  void capturesAnOperatorRemovesMakeRoomOnceTheCapIsReached() throws IOException {
    logger.setLevel(Level.INFO);
    CaptureStore store = new CaptureStore(tmp, PLENTY, 1000, Duration.ZERO);
    Inspector old = store.open(header("a"), "conn-1", "r");
    pass(old, Direction.NORTH, bytes(700), new ByteArrayOutputStream());
    old.close();
    Inspector refused = store.open(header("b"), "conn-1", "r");
    pass(refused, Direction.NORTH, bytes(400), new ByteArrayOutputStream());
    refused.close();
    assertThat(index(tmp).get(1).getString("truncated_reason")).isEqualTo("total cap reached");

    Files.delete(tmp.resolve(index(tmp).get(0).getString("north_file")));
    Inspector after = store.open(header("c"), "conn-1", "r");
    byte[] kept = bytes(400);
    pass(after, Direction.NORTH, kept, new ByteArrayOutputStream());
    after.close();

    JsonObject entry = index(tmp).get(2);
    assertThat(entry.getBoolean("truncated")).isFalse();
    assertThat(Files.readAllBytes(tmp.resolve(entry.getString("north_file")))).isEqualTo(kept);
    assertThat(store.totalBytes()).as("the removed file no longer counts").isEqualTo(400);
    assertThat(log.list).extracting(ILoggingEvent::getFormattedMessage).satisfiesExactly(
        m -> assertThat(m).startsWith("capture total cap of 1000 bytes reached"),
        m -> assertThat(m).endsWith("counted again: 700 bytes freed"));
  }

  @Test
  void theDirectoryIsCountedAgainAtMostOncePerInterval() throws IOException {
    CaptureStore store = new CaptureStore(tmp, PLENTY, 1000, Duration.ofHours(1));
    Inspector old = store.open(header("a"), "conn-1", "r");
    pass(old, Direction.NORTH, bytes(700), new ByteArrayOutputStream());
    old.close();
    Inspector first = store.open(header("b"), "conn-1", "r");
    pass(first, Direction.NORTH, bytes(400), new ByteArrayOutputStream()); // refused, counted again
    first.close();

    Files.delete(tmp.resolve(index(tmp).get(0).getString("north_file")));
    Inspector second = store.open(header("c"), "conn-1", "r");
    pass(second, Direction.NORTH, bytes(400), new ByteArrayOutputStream());
    second.close();

    assertThat(index(tmp).get(2).getString("truncated_reason")).isEqualTo("total cap reached");
    assertThat(store.totalBytes()).isEqualTo(700);
  }

  @Test
  void concurrentSessionsGetTheirOwnFilesAndWholeIndexLines() throws Exception {
    CaptureStore store = new CaptureStore(tmp, PLENTY, PLENTY);
    NorthHeader header = header("same-task");
    int sessions = 200;

    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < sessions; i++) {
        done.add(threads.submit(() -> {
          Inspector capture = store.open(header, "conn-1", "r".repeat(500));
          capture.inspect(Direction.NORTH, Buffer.buffer("hello"));
          capture.close();
        }));
      }
      for (Future<?> f : done) {
        f.get(30, TimeUnit.SECONDS);
      }
    }

    List<JsonObject> index = index(tmp);
    assertThat(index).hasSize(sessions);
    Set<String> names = new HashSet<>();
    index.forEach(e -> names.add(e.getString("north_file")));
    assertThat(names).hasSize(sessions);
    assertThat(files(tmp, ".north")).hasSize(sessions);
    assertThat(store.totalBytes()).isEqualTo(5L * sessions);
  }

  @Test
  void aFullDiskStopsCaptureButNotTheRelay() throws Exception {
    Path disk = mountTmpfs("size=64k");
    Path dir = disk.resolve("captures");
    CaptureStore store = new CaptureStore(dir, PLENTY, PLENTY);

    Inspector capture = store.open(header("alice"), "conn-1", "r");
    ByteArrayOutputStream sent = new ByteArrayOutputStream();
    for (int i = 0; i < 16; i++) {
      pass(capture, Direction.NORTH, bytes(10_000), sent);
    }
    pass(capture, Direction.SOUTH, bytes(100), new ByteArrayOutputStream());
    capture.close();

    assertThat(store.errors()).isEqualTo(1);
    Path north = single(files(dir, ".north"));
    byte[] kept = Files.readAllBytes(north);
    assertThat(kept.length).isPositive().isLessThan(sent.size());
    assertThat(kept).as("the bytes written before the disk filled stay")
        .isEqualTo(Arrays.copyOf(sent.toByteArray(), kept.length));
    assertThat(store.totalBytes()).as("only written bytes count").isEqualTo(kept.length);
    assertThat(files(dir, ".south")).as("capture stayed stopped").isEmpty();
    List<JsonObject> index = Files.exists(dir.resolve(CaptureStore.INDEX)) ? index(dir) : List.of();
    if (!index.isEmpty()) {
      assertThat(single(index).getString("error")).contains(north.toString(), "No space left on device");
      assertThat(single(index).getLong("bytes_north")).isEqualTo(kept.length);
    }
    assertThat(log.list).allSatisfy(e -> assertThat(e.getLevel()).isEqualTo(Level.ERROR))
        .hasSize(index.isEmpty() ? 2 : 1)
        .first().satisfies(e -> assertThat(e.getFormattedMessage())
            .contains(north.toString(), "No space left on device"));
  }

  @Test
  void aReadOnlyDirectoryStopsCaptureButNotTheRelay() throws Exception {
    Path dir = mountTmpfs("ro,size=64k");
    CaptureStore store = new CaptureStore(dir, PLENTY, PLENTY);

    NorthHeader header = header("alice");

    Inspector capture = store.open(header, "conn-1", "r");
    pass(capture, Direction.NORTH, bytes(1000), new ByteArrayOutputStream());
    pass(capture, Direction.SOUTH, bytes(1000), new ByteArrayOutputStream());
    capture.close();

    assertThat(store.errors()).isEqualTo(1);
    assertThat(store.totalBytes()).isZero();
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files).isEmpty();
    }
    String task = header.taskId().toString();
    assertThat(log.list).extracting(ILoggingEvent::getFormattedMessage).satisfiesExactly(
        m -> assertThat(m).matches(Pattern.quote("capture of task " + task + " stopped: " + dir + "/")
            + "\\d{8}-\\d{6}-" + task + "-\\d+\\.north: Read-only file system"),
        m -> assertThat(m).isEqualTo("capture index line of task " + task + " lost: "
            + dir.resolve(CaptureStore.INDEX) + ": Read-only file system"));
  }

  /** Passes {@code data} through {@code capture}, checks it came back unchanged, and records it. */
  private static void pass(Inspector capture, Direction direction, byte[] data, ByteArrayOutputStream sent) {
    Buffer out = capture.inspect(direction, Buffer.buffer(data));
    assertThat(out.getBytes()).isEqualTo(data);
    sent.writeBytes(data);
  }

  private byte[] bytes(int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  private static NorthHeader header(String user) {
    return new NorthHeader(ProxyAddresses.NONE, new Upstream("example.com", 443), user, UUID.randomUUID(),
        "http_2", 7, null, 0, new byte[0]);
  }

  private static List<JsonObject> index(Path dir) throws IOException {
    return Files.readAllLines(dir.resolve(CaptureStore.INDEX)).stream().map(JsonObject::new).toList();
  }

  private static List<Path> files(Path dir, String suffix) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(suffix)).toList();
    }
  }

  private static <T> T single(List<T> list) {
    assertThat(list).hasSize(1);
    return list.get(0);
  }

  private Path mountTmpfs(String options) throws Exception {
    Tmpfs mount = Tmpfs.mount(tmp.resolve("mnt"), options);
    mounts.add(mount);
    return mount.path();
  }
}
