package io.streamdetour.session;

import io.vertx.core.spi.context.executor.EventExecutorProvider;

import java.util.concurrent.Executor;

/**
 * Lets a session's stream thread get its bus replies without an event-loop hop.
 *
 * <p>A stream's virtual thread is no Vert.x thread: a request it sends (the decision, pairing)
 * would get an event-loop context, so the reply went worker → event loop → stream thread, each
 * hand-off a wake-up that waits for a CPU under load. For a thread inside {@link #run}, Vert.x
 * (through this service provider, {@code META-INF/services}) makes an {@code EXTERNAL} context
 * whose tasks run at once on the thread that hands them over: the replier completes the stream
 * thread's future itself. Only these threads: they wait on futures and register no consumers,
 * so no handler of theirs relies on an event loop's ordering. A listener they attach (a pairing
 * answer, a timer) runs on the thread that completes it, which it did already in effect: it
 * never ran on the stream thread.
 */
public final class DirectReplies implements EventExecutorProvider {

  private static final ThreadLocal<Boolean> INSIDE = new ThreadLocal<>();
  private static final Executor DIRECT = Runnable::run;

  /** Runs {@code task} on this thread with direct replies to what it asks Vert.x. */
  static void run(Runnable task) {
    INSIDE.set(Boolean.TRUE);
    try {
      task.run();
    } finally {
      INSIDE.remove();
    }
  }

  @Override
  public Executor eventExecutorFor(Thread thread) {
    // Vert.x asks for the current thread; anything else keeps its event-loop context.
    return thread == Thread.currentThread() && INSIDE.get() != null ? DIRECT : null;
  }
}
