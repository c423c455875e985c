package io.streamdetour.audit;

import io.streamdetour.codec.NorthHeader;
import io.streamdetour.relay.Direction;
import io.streamdetour.relay.Inspector;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * Copies one session's bytes to its capture files and passes them on unchanged. A direction's
 * file is created with its first captured byte, so a direction that captured nothing has no
 * file and a null file name in the index.
 *
 * <p>Relies on the inspector contract that calls for a session never overlap, so it holds its
 * state without locks. Once capture stops (a cap, an IO error) it stays stopped; the relay never
 * sees an exception from it.
 */
final class SessionCapture implements Inspector {

  private final CaptureStore store;
  private final NorthHeader header;
  private final String connectionId;
  private final String rule;
  private final String name;
  private final Instant started;
  private final Map<Direction, FileChannel> files = new EnumMap<>(Direction.class);
  private final Set<Direction> created = EnumSet.noneOf(Direction.class);
  private final Map<Direction, Long> written = new EnumMap<>(Map.of(Direction.NORTH, 0L, Direction.SOUTH, 0L));
  private boolean stopped;
  /** Why bytes were left out of the capture, null while none were. */
  private String truncation;
  /** The first IO error, null while none happened. */
  private String error;

  SessionCapture(CaptureStore store, NorthHeader header, String connectionId, String rule, String name,
      Instant started) {
    this.store = store;
    this.header = header;
    this.connectionId = connectionId;
    this.rule = rule;
    this.name = name;
    this.started = started;
  }

  @Override
  public Buffer inspect(Direction direction, Buffer data) {
    if (!stopped && data.length() > 0) {
      capture(direction, data);
    }
    return data;
  }

  /** Closes the files and writes the session's index line. */
  @Override
  public void close() {
    stop();
    JsonObject entry = new JsonObject()
        .put("task_id", header.taskId().toString())
        .put("connection", connectionId)
        .put("match_id", header.matchId())
        .put("user", header.username())
        .put("upstream", header.upstream().toString())
        .put("protocol", header.protocol())
        .put("rule", rule)
        .put("started", started.toString())
        .put("ended", Instant.now().toString())
        .put("north_file", created.contains(Direction.NORTH) ? fileName(Direction.NORTH) : null)
        .put("south_file", created.contains(Direction.SOUTH) ? fileName(Direction.SOUTH) : null)
        .put("bytes_north", written.get(Direction.NORTH))
        .put("bytes_south", written.get(Direction.SOUTH))
        .put("truncated", truncation != null)
        .put("truncated_reason", truncation)
        .put("error", error);
    try {
      store.append(entry);
    } catch (IOException e) {
      CaptureStore.LOG.error("capture index line of task {} lost: {}", header.taskId(),
          describe(store.resolve(CaptureStore.INDEX), e));
      if (error == null) {
        store.countError();
      }
    }
  }

  /** Writes what the session cap leaves room for; the rest is left out. */
  private void capture(Direction direction, Buffer data) {
    long room = store.maxSessionBytes() - written.get(Direction.NORTH) - written.get(Direction.SOUTH);
    int length = (int) Math.min(data.length(), room);
    if (length > 0) {
      write(direction, data, length);
    }
    if (length < data.length() && !stopped) {
      truncate("session cap reached");
    }
  }

  private void write(Direction direction, Buffer data, int length) {
    Path path = store.resolve(fileName(direction));
    ByteBuffer bytes = ByteBuffer.wrap(data.getBytes(0, length));
    boolean reserved = false;
    try {
      store.prepare();
      reserved = store.reserve(length);
      if (!reserved) {
        truncate("total cap reached");
        return;
      }
      CaptureStore.withInterruptAside(() -> {
        FileChannel file = files.get(direction);
        if (file == null) {
          file = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
          files.put(direction, file);
          created.add(direction);
        }
        while (bytes.hasRemaining()) {
          written.merge(direction, (long) file.write(bytes), Long::sum);
        }
      });
    } catch (IOException e) {
      if (reserved) {
        store.release(bytes.remaining());
      }
      fail(path, e);
    } finally {
      if (reserved) {
        store.settle(length);
      }
    }
  }

  private void truncate(String reason) {
    truncation = reason;
    stop();
  }

  /** Records the first error, logs it once for the session, and stops capture. */
  private void fail(Path path, IOException e) {
    if (error == null) {
      error = describe(path, e);
      CaptureStore.LOG.error("capture of task {} stopped: {}", header.taskId(), error);
      store.countError();
    }
    stop();
  }

  /** Stops capturing and closes the files; what they hold stays. */
  private void stop() {
    stopped = true;
    for (Direction direction : Direction.values()) {
      FileChannel file = files.remove(direction);
      if (file != null) {
        try {
          file.close();
        } catch (IOException e) {
          fail(store.resolve(fileName(direction)), e);
        }
      }
    }
  }

  private String fileName(Direction direction) {
    return name + (direction == Direction.NORTH ? ".north" : ".south");
  }

  /**
   * The file and why, e.g. {@code /captures/x.north: No space left on device}. A file system
   * exception names its own file, which may be the directory rather than {@code path}.
   */
  private static String describe(Path path, IOException e) {
    if (e instanceof FileSystemException f) {
      return f.getReason() != null ? f.getMessage() : f.getClass().getSimpleName() + ": " + f.getMessage();
    }
    return path + ": " + e.getMessage();
  }
}
