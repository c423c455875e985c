package io.streamdetour.audit;

import io.streamdetour.codec.NorthHeader;
import io.streamdetour.relay.Inspector;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Captures the bytes of relayed sessions to files in one directory: per session
 * {@code <yyyyMMdd-HHmmss>-<taskId>-<seq>.north} and {@code .south} (UTC time the session
 * opened; seq unique in this store), and one line per ended session in {@code index.jsonl}.
 *
 * <p>Captured content must not fill the disk the server runs on, so bytes are capped per session
 * and in total; the total starts from the capture files already in the directory, so a restart
 * does not reset it. It only grows while the store runs: files removed meanwhile count until the
 * next start. Capture is a side job: a full or read-only disk stops a session's capture with an
 * error logged once, and never reaches the relay.
 *
 * <p>Thread-safe: sessions capture concurrently. Blocking file IO happens on the session's
 * relay thread, never in the constructor or {@link #open}.
 */
public final class CaptureStore {

  static final String INDEX = "index.jsonl";

  /** One logger for the store and its sessions, for operators to route capture problems. */
  static final Logger LOG = LoggerFactory.getLogger(CaptureStore.class);

  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

  private final Path dir;
  private final long maxSessionBytes;
  private final long maxTotalBytes;
  private final AtomicLong total = new AtomicLong();
  private final AtomicLong sequence = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicBoolean totalCapWarned = new AtomicBoolean();
  private final ReentrantLock prepareLock = new ReentrantLock();
  private final ReentrantLock indexLock = new ReentrantLock();
  private volatile boolean prepared;

  /**
   * Touches no file: the directory is created, and its existing captures counted, when the first
   * session writes.
   *
   * @param maxSessionBytes the most bytes captured per session, both directions together
   * @param maxTotalBytes the most bytes of capture files in {@code dir}
   */
  public CaptureStore(Path dir, long maxSessionBytes, long maxTotalBytes) {
    this.dir = Objects.requireNonNull(dir, "dir");
    if (maxSessionBytes < 0 || maxTotalBytes < 0) {
      throw new IllegalArgumentException("capture caps must not be negative: per session "
          + maxSessionBytes + ", total " + maxTotalBytes);
    }
    this.maxSessionBytes = maxSessionBytes;
    this.maxTotalBytes = maxTotalBytes;
  }

  /**
   * The inspector that captures one session: it passes every buffer on unchanged and writes the
   * session's index line when closed. Does no IO.
   *
   * @param connectionId the QUIC connection the session came on, for the index
   * @param rule the name of the rule that asked for capture, for the index
   */
  public Inspector open(NorthHeader header, String connectionId, String rule) {
    Instant started = Instant.now();
    String name = STAMP.format(started) + "-" + header.taskId() + "-" + sequence.incrementAndGet();
    return new SessionCapture(this, header, connectionId, rule, name, started);
  }

  /** Bytes of capture files counted against the total cap. */
  public long totalBytes() {
    return total.get();
  }

  /** Sessions whose capture (files or index line) failed on an IO error. */
  public long errors() {
    return errors.get();
  }

  long maxSessionBytes() {
    return maxSessionBytes;
  }

  Path resolve(String fileName) {
    return dir.resolve(fileName);
  }

  /**
   * Creates the directory and counts the capture files already in it, once; a failure is left to
   * the session that met it, and the next session tries again.
   */
  void prepare() throws IOException {
    if (prepared) {
      return;
    }
    prepareLock.lock();
    try {
      if (!prepared) {
        Files.createDirectories(dir);
        total.addAndGet(existingBytes());
        prepared = true;
      }
    } finally {
      prepareLock.unlock();
    }
  }

  private long existingBytes() throws IOException {
    long bytes = 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.{north,south}")) {
      for (Path file : files) {
        bytes += Files.size(file);
      }
    } catch (DirectoryIteratorException e) {
      throw e.getCause();
    }
    return bytes;
  }

  /**
   * Counts {@code bytes} against the total cap, or refuses them all when they do not fit. The
   * first refusal is logged; the next is logged again only after bytes were released.
   */
  boolean reserve(long bytes) {
    long now;
    do {
      now = total.get();
      if (bytes > maxTotalBytes - now) {
        if (totalCapWarned.compareAndSet(false, true)) {
          LOG.warn("capture total cap of {} bytes reached in {}: sessions stop capturing until space frees",
              maxTotalBytes, dir);
        }
        return false;
      }
    } while (!total.compareAndSet(now, now + bytes));
    return true;
  }

  /** Gives back reserved bytes that were not written. */
  void release(long bytes) {
    if (bytes > 0) {
      total.addAndGet(-bytes);
      totalCapWarned.set(false);
    }
  }

  void countError() {
    errors.incrementAndGet();
  }

  /**
   * Appends one line to the index. Lines never interleave, and a line that fails half-written is
   * cut off again, so the next one starts on a line of its own.
   */
  void append(JsonObject entry) throws IOException {
    ByteBuffer line = ByteBuffer.wrap((entry.encode() + "\n").getBytes(StandardCharsets.UTF_8));
    prepare();
    indexLock.lock();
    try (FileChannel index = FileChannel.open(dir.resolve(INDEX), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
      long size = index.size();
      try {
        while (line.hasRemaining()) {
          index.write(line);
        }
      } catch (IOException e) {
        try {
          index.truncate(size);
        } catch (IOException truncating) {
          e.addSuppressed(truncating);
        }
        throw e;
      }
    } finally {
      indexLock.unlock();
    }
  }
}
