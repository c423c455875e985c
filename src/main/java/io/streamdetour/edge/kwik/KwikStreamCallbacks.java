package io.streamdetour.edge.kwik;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tech.kwik.core.QuicConnection;

import java.lang.reflect.Field;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Kwik 0.10.9 hands every stream a peer opens to the application on a platform thread of the
 * connection's own ({@code callbacks-…}), started with the first stream and kept until the
 * connection closes: a fifth platform thread (and about 100 KiB of stack) for every pooled
 * g3proxy connection, and no setting to share it. Our callback only starts the stream's virtual
 * thread, so the streams of every connection are handed over on virtual threads from one shared
 * executor instead, swapped in before the first stream. If Kwik's shape differs (another
 * version), this logs once and leaves Kwik's executor in place.
 */
final class KwikStreamCallbacks {

  private static final Logger LOG = LoggerFactory.getLogger(KwikStreamCallbacks.class);
  private static final ExecutorService SHARED = Executors.newThreadPerTaskExecutor(
      Thread.ofVirtual().name("stream-accept-", 0).factory());
  private static final Fields FIELDS = Fields.find();

  private KwikStreamCallbacks() {}

  /** Call once the connection is set up and before its first stream (Kwik's createConnection). */
  static void share(QuicConnection connection) {
    if (FIELDS == null || !FIELDS.connectionClass.isInstance(connection)) {
      return;
    }
    try {
      FIELDS.callbackExecutor.set(FIELDS.streamManager.get(connection), SHARED);
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.debug("stream callbacks of {} stay on Kwik's thread: {}", connection, e.toString());
    }
  }

  /** Whether the swap works with this Kwik (for tests). */
  static boolean active() {
    return FIELDS != null;
  }

  private record Fields(Class<?> connectionClass, Field streamManager, Field callbackExecutor) {

    static Fields find() {
      try {
        Class<?> connection = Class.forName("tech.kwik.core.server.impl.ServerConnectionImpl");
        Field manager = connection.getDeclaredField("streamManager");
        Field executor = manager.getType().getDeclaredField("callbackExecutor");
        if (!ExecutorService.class.equals(executor.getType())) {
          throw new NoSuchFieldException("callbackExecutor is a " + executor.getType());
        }
        manager.setAccessible(true);
        executor.setAccessible(true);
        return new Fields(connection, manager, executor);
      } catch (ReflectiveOperationException | RuntimeException e) {
        LOG.warn("Kwik's stream callbacks keep a platform thread per connection: this Kwik does not have the"
            + " shape the shared executor was written for: {}", e.toString());
        return null;
      }
    }
  }
}
