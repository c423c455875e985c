package io.streamdetour.plugins;

import io.streamdetour.relay.InspectorFactory;
import io.vertx.core.Vertx;

/**
 * An inspector a plugin jar offers: {@link java.util.ServiceLoader} finds it through the jar's
 * {@code META-INF/services/io.streamdetour.plugins.InspectorProvider}, and it is registered
 * under {@link #name()}, the name {@code relay.inspectors} and rules' {@code options.inspectors}
 * use. {@link #create} runs once per session, on that session's relay thread.
 */
public interface InspectorProvider extends InspectorFactory {

  /** The name the configuration refers to; unique among the server's inspectors. */
  String name();

  /**
   * Called once when the jar is loaded, before any session: the node's Vert.x, for an inspector
   * that reports on the event bus. Its inspectors are called on relay threads, not on a Vert.x
   * context; publishing and sending on the bus from there is fine.
   */
  default void init(Vertx vertx) {}
}
