package io.streamdetour.relay;

import io.vertx.core.buffer.Buffer;

import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/** A session's inspectors in order; a lock keeps calls for one session in sequence. */
public final class InspectorChain {

  public static final InspectorChain EMPTY = new InspectorChain(List.of());

  private final List<Inspector> inspectors;
  private final ReentrantLock lock = new ReentrantLock();

  public InspectorChain(List<Inspector> inspectors) {
    this.inspectors = List.copyOf(inspectors);
  }

  public boolean isEmpty() {
    return inspectors.isEmpty();
  }

  Buffer inspect(Direction direction, Buffer data) {
    lock.lock();
    try {
      Buffer current = data;
      for (Inspector inspector : inspectors) {
        current = inspector.inspect(direction, current);
      }
      return current;
    } finally {
      lock.unlock();
    }
  }

  /** What an inspector flushes at the end still passes through the inspectors after it. */
  Buffer finish(Direction direction) {
    lock.lock();
    try {
      Buffer pending = Buffer.buffer();
      for (Inspector inspector : inspectors) {
        Buffer passed = pending.length() == 0 ? Buffer.buffer() : inspector.inspect(direction, pending);
        pending = Buffer.buffer().appendBuffer(passed).appendBuffer(inspector.finish(direction));
      }
      return pending;
    } finally {
      lock.unlock();
    }
  }
}
