package io.streamdetour.relay;

import io.vertx.core.buffer.Buffer;

/**
 * Sees, and may change, the bytes of one session. Calls for one session never overlap and come
 * in stream order per direction, on a relay thread (never an edge or event-loop thread), so an
 * inspector may keep per-session state without locks and may block briefly.
 */
public interface Inspector {

  /**
   * @return what to send on in place of {@code data}: the same buffer, another one, or an
   *     empty one to hold the bytes back
   */
  Buffer inspect(Direction direction, Buffer data);

  /** The direction's stream ended (FIN from g3proxy): a last chance to flush held bytes. */
  default Buffer finish(Direction direction) {
    return Buffer.buffer();
  }

  /** The session ended, however it ended; called once, after every other call. */
  default void close() {}
}
