package io.streamdetour.config;

import io.vertx.config.ConfigRetriever;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Live configuration through vertx-config's watch ({@link ConfigRetriever#listen}): each change
 * of the file is validated as a whole first; a valid one is handed to {@code apply}, an invalid
 * one is logged with every problem and the running configuration stays.
 */
public final class ConfigWatcher implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(ConfigWatcher.class);

  /** What the watcher knows right now. */
  public record Status(int version, ServerConfig config, String lastError) {}

  /** Puts a validated change in force, or refuses it for what only the server can check. */
  @FunctionalInterface
  public interface Applier {
    void apply(int version, ServerConfig next) throws ConfigException;
  }

  private final ConfigRetriever retriever;
  private final Applier apply;
  private final AtomicReference<Status> status;
  /** The last scan could not read or parse the file. */
  private volatile boolean unreadable;

  private ConfigWatcher(ConfigRetriever retriever, ServerConfig initial, Applier apply) {
    this.retriever = retriever;
    this.apply = apply;
    this.status = new AtomicReference<>(new Status(1, initial, null));
  }

  /**
   * Watches {@code file} (or the default file) every {@code reload.scan-period} of
   * {@code initial}; with a period of 0 nothing is watched.
   */
  public static ConfigWatcher start(Vertx vertx, Path file, ServerConfig initial, Applier apply) {
    long period = initial.reload().scanPeriod().toMillis();
    if (period == 0) {
      return new ConfigWatcher(null, initial, apply);
    }
    ConfigRetriever retriever = ConfigLoader.retriever(vertx, file, period);
    ConfigWatcher watcher = new ConfigWatcher(retriever, initial, apply);
    // The stream rather than listen(): it also tells of a file that cannot be read or parsed.
    retriever.configStream().exceptionHandler(watcher::unreadable).handler(watcher::changed);
    // After a failed scan, a file put back as it was is no change to vertx-config, which then
    // says nothing: until a read succeeds, each scan reads the file once more in full, and
    // getConfig() hands the result to the stream whether it changed or not.
    retriever.setBeforeScanHandler(v -> {
      if (watcher.unreadable) {
        retriever.getConfig();
      }
    });
    return watcher;
  }

  public Status status() {
    return status.get();
  }

  /** The file cannot be read or parsed: the configuration in force stays, and says why. */
  void unreadable(Throwable cause) {
    unreadable = true;
    Status current = status.get();
    String error = "the configuration cannot be read: " + cause.getMessage();
    if (!error.equals(current.lastError())) {
      LOG.error("config change refused: {}; version {} stays in force", error, current.version());
      status.set(new Status(current.version(), current.config(), error));
    }
  }

  void changed(JsonObject json) {
    unreadable = false;
    Status current = status.get();
    ServerConfig next;
    try {
      next = ServerConfig.from(json);
      if (next.equals(current.config())) {
        if (current.lastError() != null) {
          LOG.info("config: the file is valid again and unchanged from version {}", current.version());
          status.set(new Status(current.version(), current.config(), null));
        }
        return;
      }
      apply.apply(current.version() + 1, next);
    } catch (ConfigException e) {
      e.problems().forEach(p -> LOG.error("config change refused: {}", p));
      LOG.error("config change refused ({} problems); version {} stays in force", e.problems().size(), current.version());
      status.set(new Status(current.version(), current.config(), String.join("; ", e.problems())));
      return;
    }
    for (String key : restartOnlyChanges(current.config(), next)) {
      LOG.warn("config: {} changed; it takes effect at the next restart", key);
    }
    // Said before the status shows it, as every other outcome is: who sees the version sees the line.
    LOG.info("config version {} applied: new sessions use it, running sessions keep theirs", current.version() + 1);
    status.set(new Status(current.version() + 1, next, null));
  }

  /** Keys read only at start-up: the listeners, TLS identity sources, header limits, pairing, instances, files, plugins. */
  public static List<String> restartOnlyChanges(ServerConfig before, ServerConfig after) {
    List<String> changed = new ArrayList<>();
    if (!Objects.equals(before.quic(), after.quic())) {
      changed.add("quic");
    }
    if (!Objects.equals(before.tls(), after.tls())) {
      changed.add("tls (file names; the files' content reloads by itself)");
    }
    if (!Objects.equals(before.header(), after.header())) {
      changed.add("header");
    }
    if (before.decision().instances() != after.decision().instances()) {
      changed.add("decision.instances");
    }
    if (!Objects.equals(before.pairing(), after.pairing())) {
      changed.add("pairing");
    }
    if (!Objects.equals(before.reload(), after.reload())) {
      changed.add("reload");
    }
    ServerConfig.Admin a = before.admin();
    ServerConfig.Admin b = after.admin();
    if (a.enabled() != b.enabled() || !a.host().equals(b.host()) || a.port() != b.port()) {
      changed.add("admin (enabled, host, port; the token applies at once)");
    }
    if (!Objects.equals(before.audit(), after.audit())) {
      changed.add("audit");
    }
    if (!Objects.equals(before.capture(), after.capture())) {
      changed.add("capture");
    }
    if (!Objects.equals(before.cluster(), after.cluster())) {
      changed.add("cluster");
    }
    if (!Objects.equals(before.plugins(), after.plugins())) {
      changed.add("plugins");
    }
    return changed;
  }

  @Override
  public void close() {
    if (retriever != null) {
      retriever.close();
    }
  }
}
