package io.streamdetour.audit;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeAndTimeBasedRollingPolicy;
import ch.qos.logback.core.status.Status;
import ch.qos.logback.core.status.StatusListener;
import ch.qos.logback.core.util.FileSize;
import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.config.ServerConfig;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes one JSON line per ended session: to {@code audit.file}, a Logback rolling file of this
 * node's own (daily and by size, gzipped, capped), or, with no file configured, to the logger
 * {@code stream-detour.sessions}. Deploy it as a worker: writing a file blocks.
 */
public final class SessionLogVerticle extends VerticleBase {

  public static final String LOGGER = "stream-detour.sessions";
  private static final Logger LOG = LoggerFactory.getLogger(SessionLogVerticle.class);

  private final ServerConfig.Audit settings;
  /** Its own Logback context: the audit file never mixes with the operational log's setup. */
  private LoggerContext context;
  private Logger sessions;
  private MessageConsumer<SessionEnded> consumer;

  public SessionLogVerticle(ServerConfig.Audit settings) {
    this.settings = settings;
  }

  @Override
  public Future<?> start() throws Exception {
    sessions = settings.file().isEmpty() ? LoggerFactory.getLogger(LOGGER) : rollingFile(Path.of(settings.file()));
    consumer = vertx.eventBus().localConsumer(Addresses.SESSION_ENDED,
        message -> sessions.info(message.body().toJson().encode()));
    return consumer.completion();
  }

  private Logger rollingFile(Path file) throws Exception {
    Path absolute = file.toAbsolutePath();
    Files.createDirectories(absolute.getParent());
    context = new LoggerContext();
    context.setName("stream-detour-audit");
    // Logback's events copy the MDC: a context of our own needs an adapter of its own.
    context.setMDCAdapter(new LogbackMDCAdapter());
    // Write failures (full disk, removed directory) surface in the operational log, not only
    // in Logback's status list.
    context.getStatusManager().add((StatusListener) status -> {
      if (status.getLevel() == Status.ERROR) {
        LOG.error("session log {}: {}", absolute, status.getMessage()
            + (status.getThrowable() == null ? "" : ": " + status.getThrowable().getMessage()));
      }
    });
    context.start();
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern("%msg%n");
    encoder.start();
    RollingFileAppender<ILoggingEvent> appender = new RollingFileAppender<>();
    appender.setContext(context);
    appender.setName("sessions");
    appender.setFile(absolute.toString());
    appender.setEncoder(encoder);
    SizeAndTimeBasedRollingPolicy<ILoggingEvent> policy = new SizeAndTimeBasedRollingPolicy<>();
    policy.setContext(context);
    policy.setParent(appender);
    policy.setFileNamePattern(absolute + ".%d{yyyy-MM-dd}.%i.gz");
    policy.setMaxFileSize(new FileSize(settings.maxFileBytes()));
    policy.setMaxHistory(settings.maxHistory());
    policy.setTotalSizeCap(new FileSize(settings.totalBytesCap()));
    policy.start();
    appender.setRollingPolicy(policy);
    appender.start();
    for (Status status : context.getStatusManager().getCopyOfStatusList()) {
      if (status.getLevel() == Status.ERROR) {
        throw new IllegalStateException("audit.file " + absolute + ": " + status.getMessage(), status.getThrowable());
      }
    }
    ch.qos.logback.classic.Logger logger = context.getLogger(LOGGER);
    logger.setAdditive(false);
    logger.addAppender(appender);
    LOG.info("session log: {}", absolute);
    return logger;
  }

  @Override
  public Future<?> stop() {
    return consumer.unregister().onComplete(x -> {
      if (context != null) {
        context.stop();
      }
    });
  }
}
