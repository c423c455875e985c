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
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
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
 * does not reset it. When the total cap refuses bytes, the directory is counted again (at most
 * once per {@link #RECOUNT_INTERVAL}), so capture files an operator removed make room. The index
 * is not counted. Capture is a side job: a full or read-only disk stops a session's capture
 * with an error logged once, and never reaches the relay.
 *
 * <p>Thread-safe: sessions capture concurrently. Blocking file IO happens on the session's
 * relay thread, never in the constructor or {@link #open}.
 */
public final class CaptureStore {

  static final String INDEX = "index.jsonl";
  /** The least time between two counts of the directory once the total cap is reached. */
  static final Duration RECOUNT_INTERVAL = Duration.ofSeconds(10);

  /** One logger for the store and its sessions, for operators to route capture problems. */
  static final Logger LOG = LoggerFactory.getLogger(CaptureStore.class);

  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

  private final Path dir;
  private final long maxSessionBytes;
  private final long maxTotalBytes;
  private final long recountIntervalNanos;
  /** Bytes reserved against the total cap: written, or being written ({@link #inFlight}). */
  private final AtomicLong total = new AtomicLong();
  /** Bytes reserved whose write has not returned yet. */
  private final AtomicLong inFlight = new AtomicLong();
  private final AtomicLong sequence = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicBoolean totalCapWarned = new AtomicBoolean();
  private final ReentrantLock prepareLock = new ReentrantLock();
  private final ReentrantLock indexLock = new ReentrantLock();
  private final ReentrantLock recountLock = new ReentrantLock();
  private volatile boolean prepared;
  /** {@link System#nanoTime} from which the directory may be counted again; guarded by recountLock. */
  private long nextRecount;

  /**
   * Touches no file: the directory is created, and its existing captures counted, when the first
   * session writes.
   *
   * @param maxSessionBytes the most bytes captured per session, both directions together
   * @param maxTotalBytes the most bytes of capture files in {@code dir}
   */
  public CaptureStore(Path dir, long maxSessionBytes, long maxTotalBytes) {
    this(dir, maxSessionBytes, maxTotalBytes, RECOUNT_INTERVAL);
  }

  CaptureStore(Path dir, long maxSessionBytes, long maxTotalBytes, Duration recountInterval) {
    this.dir = Objects.requireNonNull(dir, "dir");
    if (maxSessionBytes < 0 || maxTotalBytes < 0) {
      throw new IllegalArgumentException("capture caps must not be negative: per session "
          + maxSessionBytes + ", total " + maxTotalBytes);
    }
    this.maxSessionBytes = maxSessionBytes;
    this.maxTotalBytes = maxTotalBytes;
    this.recountIntervalNanos = recountInterval.toNanos();
    this.nextRecount = System.nanoTime();
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
        try {
          bytes += Files.size(file);
        } catch (NoSuchFileException removedMeanwhile) {
          // an operator cleaning up while we count
        }
      }
    } catch (DirectoryIteratorException e) {
      throw e.getCause();
    }
    return bytes;
  }

  /**
   * Counts {@code bytes} against the total cap, or refuses them all when they do not fit even
   * after counting the directory again. The first refusal is logged; the next is logged again
   * only after bytes were released. Reserved bytes are settled ({@link #settle}) once written.
   */
  boolean reserve(long bytes) {
    if (tryReserve(bytes) || recount() && tryReserve(bytes)) {
      inFlight.addAndGet(bytes);
      return true;
    }
    if (totalCapWarned.compareAndSet(false, true)) {
      LOG.warn("capture total cap of {} bytes reached in {}: sessions stop capturing until space frees",
          maxTotalBytes, dir);
    }
    return false;
  }

  private boolean tryReserve(long bytes) {
    long now;
    do {
      now = total.get();
      if (bytes > maxTotalBytes - now) {
        return false;
      }
    } while (!total.compareAndSet(now, now + bytes));
    return true;
  }

  /**
   * Counts the capture files again, when the last count is old enough, so what an operator
   * removed no longer counts. Bytes being written while counting may count twice, never not at
   * all: the total errs towards the cap, and the next count corrects it.
   *
   * @return whether the count freed bytes
   */
  private boolean recount() {
    if (!recountLock.tryLock()) {
      return false; // another session is counting right now
    }
    try {
      long now = System.nanoTime();
      if (now - nextRecount < 0) {
        return false;
      }
      nextRecount = now + recountIntervalNanos;
      long counted = total.get();
      long writingBefore = inFlight.get();
      long onDisk = existingBytes();
      long recounted = onDisk + writingBefore + inFlight.get();
      total.addAndGet(recounted - counted);
      if (recounted < counted) {
        LOG.info("capture directory {} counted again: {} bytes freed", dir, counted - recounted);
        totalCapWarned.set(false);
        return true;
      }
      return false;
    } catch (IOException e) {
      LOG.warn("capture directory {} could not be counted again: {}", dir, e.toString());
      return false;
    } finally {
      recountLock.unlock();
    }
  }

  /** Reserved bytes whose write returned: those that were not written are {@link #release}d. */
  void settle(long reserved) {
    inFlight.addAndGet(-reserved);
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
    try {
      withInterruptAside(() -> appendLine(line));
    } finally {
      indexLock.unlock();
    }
  }

  /** Writes {@code line} at the end of the index; on failure, cuts the index back to where it was. */
  private void appendLine(ByteBuffer line) throws IOException {
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
    }
  }

  /** File writing that may fail. */
  @FunctionalInterface
  interface FileWork {
    void run() throws IOException;
  }

  /**
   * Runs {@code work} with the thread's interrupt status put aside, and sets it again after. A
   * file channel closes itself when its thread is interrupted, and Kwik interrupts a stream's
   * thread to wake a read or write it blocks in (a reset) while the same thread captures and
   * ends its session: a capture must not stop, nor an index line be lost, for that. An interrupt
   * that comes in the middle of a write still closes the file.
   */
  static void withInterruptAside(FileWork work) throws IOException {
    boolean interrupted = Thread.interrupted();
    try {
      work.run();
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
