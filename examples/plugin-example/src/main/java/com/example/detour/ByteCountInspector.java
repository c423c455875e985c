package com.example.detour;

import io.streamdetour.codec.NorthHeader;
import io.streamdetour.plugins.InspectorProvider;
import io.streamdetour.relay.Direction;
import io.streamdetour.relay.Inspector;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;

/**
 * The inspector {@code byte-count}: passes every byte on unchanged and, when a session ends,
 * publishes what it saw on {@code example.inspected}:
 * {@code {"task_id": ..., "user": ..., "bytes_north": n, "bytes_south": n}}.
 */
public final class ByteCountInspector implements InspectorProvider {

  public static final String ADDRESS = "example.inspected";

  private volatile Vertx vertx;

  @Override
  public String name() {
    return "byte-count";
  }

  @Override
  public void init(Vertx vertx) {
    this.vertx = vertx;
  }

  @Override
  public Inspector create(NorthHeader session) {
    return new Counter(session);
  }

  /** One session's counts: the server never calls one session's inspector concurrently. */
  private final class Counter implements Inspector {

    private final NorthHeader session;
    private long north;
    private long south;

    Counter(NorthHeader session) {
      this.session = session;
    }

    @Override
    public Buffer inspect(Direction direction, Buffer data) {
      if (direction == Direction.NORTH) {
        north += data.length();
      } else {
        south += data.length();
      }
      return data;
    }

    @Override
    public void close() {
      vertx.eventBus().publish(ADDRESS, new JsonObject().put("task_id", session.taskId().toString())
          .put("user", session.username()).put("bytes_north", north).put("bytes_south", south));
    }
  }
}
