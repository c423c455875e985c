package io.streamdetour.limits;

import io.streamdetour.codec.Action;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.config.ServerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code limits.per-user} and {@code limits.per-upstream}: a continued session holds one count
 * of its user and one of its upstream until it ends. Nothing is counted while no cap is set.
 * Runs on the stream's virtual thread: waiting for the (cluster-wide) counter blocks nothing else.
 */
public final class SessionLimits {

  private static final Logger LOG = LoggerFactory.getLogger(SessionLimits.class);

  private final LimitCounter counter;

  public SessionLimits(LimitCounter counter) {
    this.counter = counter;
  }

  /**
   * What a session got: admitted with counts to give back, or refused by one cap.
   *
   * @param action what a refused session gets instead of continue
   */
  public record Admission(String refusedBy, Action action, Runnable release) {

    public static final Admission UNCOUNTED = new Admission(null, Action.CONTINUE, () -> { });

    static Admission refused(String by, Action action) {
      return new Admission(by, action, () -> { });
    }

    public boolean admitted() {
      return refusedBy == null;
    }
  }

  /**
   * Takes the counts of {@code header}'s user and upstream, or none when either is at its cap.
   * When the counter does not answer within {@code wait}, {@code fallback} decides: continue
   * admits the session uncounted, anything else refuses it.
   */
  public Admission admit(NorthHeader header, ServerConfig.Limits limits, Duration wait, Action fallback) {
    if (!limits.any()) {
      return Admission.UNCOUNTED;
    }
    String userKey = limits.perUser() > 0 && header.username() != null ? "user:" + header.username() : null;
    String upstreamKey = limits.perUpstream() > 0
        ? "upstream:" + header.upstream().toString().toLowerCase(Locale.ROOT) : null;
    try {
      if (userKey != null && !acquire(userKey, limits.perUser(), wait)) {
        return Admission.refused("per-user", limits.action());
      }
      if (upstreamKey != null && !acquire(upstreamKey, limits.perUpstream(), wait)) {
        if (userKey != null) {
          counter.release(userKey);
        }
        return Admission.refused("per-upstream", limits.action());
      }
    } catch (CountFailed e) {
      if (userKey != null && e.key.equals(upstreamKey)) {
        counter.release(userKey);
      }
      LOG.warn("limits: counting {} failed ({}); decision.fallback {} applies", e.key, e.getMessage(), fallback);
      return fallback == Action.CONTINUE ? Admission.UNCOUNTED : Admission.refused("unavailable", fallback);
    }
    AtomicBoolean released = new AtomicBoolean();
    return new Admission(null, Action.CONTINUE, () -> {
      if (released.compareAndSet(false, true)) {
        if (userKey != null) {
          counter.release(userKey);
        }
        if (upstreamKey != null) {
          counter.release(upstreamKey);
        }
      }
    });
  }

  private boolean acquire(String key, int cap, Duration wait) {
    CompletableFuture<Boolean> counted = counter.tryAcquire(key, cap).toCompletableFuture();
    try {
      return counted.get(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      // Counted late is still counted: give it back when it lands.
      counted.thenAccept(added -> {
        if (added) {
          counter.release(key);
        }
      });
      throw new CountFailed(key, "no answer within " + wait.toMillis() + " ms");
    } catch (ExecutionException e) {
      throw new CountFailed(key, String.valueOf(e.getCause()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CountFailed(key, "interrupted");
    }
  }

  private static final class CountFailed extends RuntimeException {

    final String key;

    CountFailed(String key, String message) {
      super(message, null, false, false);
      this.key = key;
    }
  }
}
