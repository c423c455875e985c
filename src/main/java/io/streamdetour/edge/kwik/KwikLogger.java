package io.streamdetour.edge.kwik;

import org.slf4j.LoggerFactory;
import tech.kwik.core.log.NullLogger;

/**
 * Routes Kwik's log to SLF4J (logger {@code tech.kwik}); Kwik's own loggers write to stdout.
 * Kwik reports ordinary events at warn and some at error level; those are lowered here.
 */
final class KwikLogger extends NullLogger {

  private static final org.slf4j.Logger LOG = LoggerFactory.getLogger("tech.kwik");

  @Override
  public void debug(String message) {
    LOG.debug(message);
  }

  @Override
  public void debug(String message, Exception error) {
    LOG.debug(message, error);
  }

  @Override
  public void info(String message) {
    LOG.debug(message);
  }

  /** Kwik warns of protocol chatter (greased transport parameters, late probes): debug. */
  @Override
  public void warn(String message) {
    LOG.debug(message);
  }

  @Override
  public void error(String message) {
    if (isRoutine(message)) {
      LOG.debug(message);
    } else {
      LOG.error(message);
    }
  }

  @Override
  public void error(String message, Throwable error) {
    if (isRoutine(message)) {
      LOG.debug(message, error);
    } else {
      LOG.error(message, error);
    }
  }

  /** Messages seen under ordinary load and ordinary closes (see the stack notes). */
  static boolean isRoutine(String message) {
    return message != null
        && (message.contains("sender is looping in busy wait")
            || message.contains("that is not closed")
            || message.startsWith("Discarding")
            || message.contains("not accepting new connections"));
  }
}
