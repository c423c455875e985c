package io.streamdetour.audit;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.SessionEnded;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes one JSON line per ended session to the logger {@code stream-detour.sessions}, which
 * the logging configuration sends where operators want it (stdout by default).
 */
public final class SessionLogVerticle extends VerticleBase {

  public static final String LOGGER = "stream-detour.sessions";
  private static final Logger LOG = LoggerFactory.getLogger(LOGGER);

  private MessageConsumer<SessionEnded> consumer;

  @Override
  public Future<?> start() {
    consumer = vertx.eventBus().localConsumer(Addresses.SESSION_ENDED,
        message -> LOG.info(message.body().toJson().encode()));
    return consumer.completion();
  }

  @Override
  public Future<?> stop() {
    return consumer.unregister();
  }
}
