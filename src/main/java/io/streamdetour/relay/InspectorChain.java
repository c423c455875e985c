package io.streamdetour.relay;

import io.vertx.core.buffer.Buffer;
import org.slf4j.LoggerFactory;

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

  /** Closes every inspector; one that fails does not keep the others from closing. */
  public void close() {
    lock.lock();
    try {
      for (Inspector inspector : inspectors) {
        try {
          inspector.close();
        } catch (RuntimeException e) {
          LoggerFactory.getLogger(InspectorChain.class).warn("closing inspector {}: {}", inspector, e.toString());
        }
      }
    } finally {
      lock.unlock();
    }
  }
}
