package io.streamdetour.edge.kwik;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.OutputStream;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * Works around a lost wake-up in Kwik 0.10.9's {@code StreamOutputStreamImpl}:
 * {@code scheduleSendStreamFrameRequest} queues a send request and only then counts it, so
 * when the sender thread serves the request in between, it sees the count at -1 and queues no
 * follow-up: what did not fit in that one frame (more data, the FIN) stays in the send buffer
 * for good, and a writer blocked on the full buffer blocks for good. Seen here as sessions
 * whose echo stopped short or never ended.
 *
 * <p>Streams with bytes in their send buffer are watched; every few milliseconds each of them
 * gets one more send request through the same private method Kwik uses, which counts it
 * properly. A spare request costs the sender a look at the buffer. If Kwik's shape differs
 * (another version), the guard logs that once and does nothing. With nothing to watch (idle
 * connections and sessions) its thread sleeps until a write comes.
 */
public final class KwikSendStallGuard {

  private static final Logger LOG = LoggerFactory.getLogger(KwikSendStallGuard.class);
  private static final long INTERVAL_NANOS = 5_000_000;
  private static final Set<OutputStream> WATCHED = ConcurrentHashMap.newKeySet();
  private static final Internals INTERNALS = Internals.find();

  private static final Thread GUARD = INTERNALS == null ? null
      : Thread.ofPlatform().daemon().name("kwik-send-stall-guard").start(KwikSendStallGuard::run);
  /** Set while the guard sleeps for want of streams to watch; a new stream wakes it. */
  private static volatile boolean sleeping;

  private KwikSendStallGuard() {}

  /** Call before and after writing to (or finishing) a Kwik stream's output. */
  public static void watch(OutputStream out) {
    if (INTERNALS != null && INTERNALS.outputClass.isInstance(out) && WATCHED.add(out) && sleeping) {
      LockSupport.unpark(GUARD);
    }
  }

  /** Streams watched right now (for tests and metrics). */
  static int watchedCount() {
    return WATCHED.size();
  }

  private static void run() {
    while (true) {
      if (WATCHED.isEmpty()) {
        sleeping = true;
        // Checked again after the flag is up: a stream added before it would not wake us.
        if (WATCHED.isEmpty()) {
          LockSupport.park();
        }
        sleeping = false;
      }
      LockSupport.parkNanos(INTERVAL_NANOS);
      for (OutputStream out : WATCHED) {
        try {
          if (INTERNALS.hasUnsentData(out) && !INTERNALS.isGone(out)) {
            INTERNALS.requestSend(out);
          } else {
            WATCHED.remove(out);
          }
        } catch (Throwable e) {
          WATCHED.remove(out);
        }
      }
    }
  }

  private record Internals(Class<?> outputClass, MethodHandle sendBuffer, MethodHandle isEmpty,
      MethodHandle reset, MethodHandle aborted, MethodHandle scheduleSend) {

    static Internals find() {
      try {
        Class<?> output = Class.forName("tech.kwik.core.stream.StreamOutputStreamImpl");
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        Field buffer = accessible(output.getDeclaredField("sendBuffer"));
        Method isEmpty = buffer.getType().getMethod("isEmpty");
        Method schedule = output.getDeclaredMethod("scheduleSendStreamFrameRequest", boolean.class);
        schedule.setAccessible(true);
        return new Internals(output, lookup.unreflectGetter(buffer), lookup.unreflect(isEmpty),
            lookup.unreflectGetter(accessible(output.getDeclaredField("reset"))),
            lookup.unreflectGetter(accessible(output.getDeclaredField("aborted"))),
            lookup.unreflect(schedule));
      } catch (ReflectiveOperationException | RuntimeException e) {
        LOG.warn("Kwik send-stall guard is off: this Kwik does not have the shape it was written for: {}", e.toString());
        return null;
      }
    }

    boolean hasUnsentData(OutputStream out) throws Throwable {
      return !(boolean) isEmpty.invoke(sendBuffer.invoke(out));
    }

    boolean isGone(OutputStream out) throws Throwable {
      return (boolean) reset.invoke(out) || (boolean) aborted.invoke(out);
    }

    void requestSend(OutputStream out) throws Throwable {
      scheduleSend.invoke(out, true);
    }

    private static Field accessible(Field field) {
      field.setAccessible(true);
      return field;
    }
  }
}
