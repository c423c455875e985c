package io.streamdetour.edge.kwik;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tech.kwik.core.QuicConnection;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Field;
import java.lang.reflect.Method;

/**
 * Bytes a Kwik connection has sent and the client not yet acknowledged (its congestion
 * controller's bytes in flight). Kwik 0.10.9 keeps them behind a protected method and a private
 * field: a graceful stop reads them so that it closes connections only once what the relay
 * wrote has arrived, since a CONNECTION_CLOSE drops whatever is still unacknowledged. If Kwik's
 * shape differs, this says so once and reports nothing in flight.
 */
final class KwikInFlight {

  private static final Logger LOG = LoggerFactory.getLogger(KwikInFlight.class);
  private static final Internals INTERNALS = Internals.find();

  private KwikInFlight() {}

  /** Unacknowledged bytes of {@code connection}, or 0 when they cannot be read. */
  static long bytes(QuicConnection connection) {
    if (INTERNALS == null || !INTERNALS.connectionClass.isInstance(connection)) {
      return 0;
    }
    try {
      Object sender = INTERNALS.sender.invoke(connection);
      return sender == null ? 0 : (long) INTERNALS.bytesInFlight.invoke(INTERNALS.congestion.invoke(sender));
    } catch (Throwable e) {
      return 0;
    }
  }

  private record Internals(Class<?> connectionClass, MethodHandle sender, MethodHandle congestion,
      MethodHandle bytesInFlight) {

    static Internals find() {
      try {
        Class<?> connection = Class.forName("tech.kwik.core.impl.QuicConnectionImpl");
        Method getSender = connection.getDeclaredMethod("getSender");
        getSender.setAccessible(true);
        Class<?> senderClass = Class.forName("tech.kwik.core.send.SenderImpl");
        Field congestion = senderClass.getDeclaredField("congestionController");
        congestion.setAccessible(true);
        Method inFlight = congestion.getType().getMethod("getBytesInFlight");
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        return new Internals(connection, lookup.unreflect(getSender).asType(
                java.lang.invoke.MethodType.methodType(Object.class, Object.class)),
            lookup.unreflectGetter(congestion).asType(java.lang.invoke.MethodType.methodType(Object.class, Object.class)),
            lookup.unreflect(inFlight).asType(java.lang.invoke.MethodType.methodType(long.class, Object.class)));
      } catch (ReflectiveOperationException | RuntimeException e) {
        LOG.warn("a graceful stop cannot wait for Kwik's unacknowledged bytes: this Kwik does not have the shape"
            + " it was written for: {}", e.toString());
        return null;
      }
    }
  }
}
