package io.streamdetour.plugins;

import io.streamdetour.config.ServerConfig;
import io.streamdetour.relay.Direction;
import io.streamdetour.relay.Inspector;
import io.streamdetour.relay.InspectorFactory;
import io.streamdetour.relay.InspectorRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * The jars of {@code plugins.dir}, each in a class loader of its own whose parent is the
 * server's: their {@link InspectorProvider}s registered by name, the verticles of
 * {@code plugins.verticles} deployed from them. Plugins reach the server through the event bus
 * only. What failed is logged naming class and jar, and shown by {@link #status()}; with
 * {@code plugins.required} it fails the start instead.
 */
public final class Plugins {

  private static final Logger LOG = LoggerFactory.getLogger(Plugins.class);
  /** Gives up on a services file whose every line fails: ServiceLoader recovers only "best effort". */
  private static final int MAX_PROVIDER_ERRORS = 100;
  private static final String SERVICES = "META-INF/services/" + InspectorProvider.class.getName();

  /** One inspector, verticle or jar, and how it went: {@code loaded}, {@code deployed} or {@code failed}. */
  private record Entry(String name, String kind, String jar, String status, String error) {

    JsonObject toJson() {
      return new JsonObject().put("name", name).put("kind", kind).put("jar", jar).put("status", status)
          .put("error", error);
    }
  }

  private record Jar(String name, URLClassLoader loader) {}

  private final ServerConfig.Plugins settings;
  private final List<Jar> jars;
  private final List<Entry> entries = new CopyOnWriteArrayList<>();
  private final List<String> deployments = new CopyOnWriteArrayList<>();

  private Plugins(ServerConfig.Plugins settings, List<Jar> jars) {
    this.settings = settings;
    this.jars = jars;
  }

  /**
   * Opens every jar of {@code settings.dir()} and registers its inspectors in {@code inspectors}.
   * Blocking (reads files, runs the providers' constructors and {@code init}).
   *
   * @throws IllegalStateException with {@code required}, when anything failed (every failure named)
   */
  public static Plugins load(ServerConfig.Plugins settings, Vertx vertx, InspectorRegistry inspectors) {
    if (settings.dir().isEmpty()) {
      return new Plugins(settings, List.of());
    }
    Path dir = Path.of(settings.dir());
    List<Path> files;
    try (Stream<Path> listed = Files.list(dir)) {
      files = listed.filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".jar"))
          .filter(Files::isRegularFile).sorted().toList();
    } catch (IOException e) {
      Plugins none = new Plugins(settings, List.of());
      none.failed(dir.toString(), "dir", dir.toString(), "plugins.dir cannot be read: " + e);
      none.requireAllLoaded();
      return none;
    }
    List<Jar> jars = new ArrayList<>();
    Plugins plugins = new Plugins(settings, jars);
    for (Path file : files) {
      String jarName = file.getFileName().toString();
      try (JarFile check = new JarFile(file.toFile())) {
        // URLClassLoader skips a jar it cannot open without a word: open it once here to say why.
        check.getManifest();
      } catch (IOException | SecurityException e) {
        plugins.failed(jarName, "jar", jarName, "not a readable jar: " + e.getMessage());
        continue;
      }
      URLClassLoader loader;
      try {
        loader = new URLClassLoader("plugin " + jarName, new URL[] {file.toUri().toURL()},
            Plugins.class.getClassLoader());
      } catch (IOException e) {
        plugins.failed(jarName, "jar", jarName, e.toString());
        continue;
      }
      Jar jar = new Jar(jarName, loader);
      jars.add(jar);
      plugins.entries.add(new Entry(jarName, "jar", jarName, "loaded", null));
      plugins.loadInspectors(jar, vertx, inspectors);
    }
    LOG.info("plugins: {} jar(s) in {}, inspectors {}", jars.size(), dir, plugins.names("inspector", "loaded"));
    try {
      plugins.requireAllLoaded();
    } catch (IllegalStateException e) {
      plugins.closeLoaders();
      throw e;
    }
    return plugins;
  }

  private void loadInspectors(Jar jar, Vertx vertx, InspectorRegistry inspectors) {
    Iterator<InspectorProvider> providers = ServiceLoader.load(InspectorProvider.class, jar.loader()).iterator();
    int errors = 0;
    while (errors < MAX_PROVIDER_ERRORS) {
      InspectorProvider provider;
      try {
        if (!providers.hasNext()) {
          return;
        }
        provider = providers.next();
      } catch (ServiceConfigurationError | LinkageError e) {
        errors++;
        failed(SERVICES, "inspector", jar.name(), providerError(e));
        continue;
      }
      if (provider.getClass().getClassLoader() != jar.loader()) {
        continue; // on the server's own class path, not this jar's
      }
      String className = provider.getClass().getName();
      try {
        String name = provider.name();
        if (name == null || name.isBlank()) {
          failed(className, "inspector", jar.name(), "name() returned no name");
          continue;
        }
        provider.init(vertx);
        inspectors.register(name, guarded(provider, name, jar.name()));
        entries.add(new Entry(name, "inspector", jar.name(), "loaded", null));
      } catch (RuntimeException | LinkageError e) {
        failed(className, "inspector", jar.name(), e.toString());
      }
    }
  }

  /**
   * A plugin's factory that fails must not fail the session's setup half way (its admission to
   * the limits taken, no record published): the session gets an inspector that throws at its
   * first call, which the relay turns into a clean reset of both streams.
   */
  private static InspectorFactory guarded(InspectorProvider provider, String name, String jar) {
    return session -> {
      Inspector inspector;
      try {
        inspector = provider.create(session);
      } catch (RuntimeException | LinkageError e) {
        LOG.error("plugin inspector {} from {} failed for session {}: {}", name, jar, session.taskId(), e.toString(), e);
        return new Failed(name, e);
      }
      if (inspector == null) {
        LOG.error("plugin inspector {} from {} returned no inspector for session {}", name, jar, session.taskId());
        return new Failed(name, null);
      }
      return inspector;
    };
  }

  private record Failed(String name, Throwable cause) implements Inspector {

    @Override
    public Buffer inspect(Direction direction, Buffer data) {
      throw new IllegalStateException("inspector " + name + " could not be created for this session", cause);
    }

    @Override
    public Buffer finish(Direction direction) {
      return inspect(direction, Buffer.buffer());
    }
  }

  /** ServiceLoader's message names the provider class; its cause says what was wrong with it. */
  private static String providerError(Throwable e) {
    String message = String.valueOf(e.getMessage()).replace(InspectorProvider.class.getName() + ": ", "");
    return e.getCause() == null ? message : message + " (" + e.getCause() + ")";
  }

  /**
   * Deploys {@code plugins.verticles}, each from the jar that holds its class. Completes once
   * all are deployed or failed; fails only with {@code required}, on the first that failed.
   */
  public Future<Void> deploy(Vertx vertx) {
    List<Future<?>> all = new ArrayList<>();
    for (ServerConfig.PluginVerticle verticle : settings.verticles()) {
      all.add(deploy(vertx, verticle));
    }
    return Future.join(all).transform(done -> {
      if (settings.required() && done.failed()) {
        return Future.failedFuture(done.cause());
      }
      return Future.succeededFuture();
    });
  }

  private Future<String> deploy(Vertx vertx, ServerConfig.PluginVerticle verticle) {
    String resource = verticle.className().replace('.', '/') + ".class";
    Jar jar = jars.stream().filter(j -> j.loader().findResource(resource) != null).findFirst().orElse(null);
    if (jar == null) {
      String error = "no jar in " + settings.dir() + " has this class";
      failed(verticle.className(), "verticle", null, error);
      return Future.failedFuture(new IllegalStateException("plugin verticle " + verticle.className() + ": " + error));
    }
    DeploymentOptions options = new DeploymentOptions()
        .setInstances(verticle.instances())
        .setThreadingModel(ThreadingModel.valueOf(verticle.threading().replace('-', '_').toUpperCase(Locale.ROOT)))
        .setConfig(verticle.config().copy())
        .setClassLoader(jar.loader());
    return vertx.deployVerticle(verticle.className(), options).andThen(deployed -> {
      if (deployed.succeeded()) {
        deployments.add(deployed.result());
        entries.add(new Entry(verticle.className(), "verticle", jar.name(), "deployed", null));
        LOG.info("plugin verticle {} from {} deployed ({} instance(s), {})", verticle.className(), jar.name(),
            verticle.instances(), verticle.threading());
      } else {
        failed(verticle.className(), "verticle", jar.name(), "failed to deploy: " + deployed.cause());
      }
    }).recover(e -> Future.failedFuture(new IllegalStateException(
        "plugin verticle " + verticle.className() + " from " + jar.name() + " failed to deploy: " + e, e)));
  }

  private void failed(String name, String kind, String jar, String error) {
    entries.add(new Entry(name, kind, jar, "failed", error));
    LOG.error("plugin {} {}{}: {}{}", kind, name, jar == null || jar.equals(name) ? "" : " from " + jar, error,
        settings.required() ? "" : "; the server runs without it (plugins.required is false)");
  }

  private void requireAllLoaded() {
    List<String> failures = entries.stream().filter(e -> e.status().equals("failed"))
        .map(e -> e.kind() + " " + e.name() + (e.jar() == null || e.jar().equals(e.name()) ? "" : " from " + e.jar())
            + ": " + e.error())
        .toList();
    if (settings.required() && !failures.isEmpty()) {
      throw new IllegalStateException("plugins.required is true and plugins failed: " + String.join("; ", failures));
    }
  }

  private List<String> names(String kind, String status) {
    return entries.stream().filter(e -> e.kind().equals(kind) && e.status().equals(status)).map(Entry::name).toList();
  }

  /** Every jar, inspector and verticle: {@code [{name, kind, jar, status, error}]}. */
  public JsonArray status() {
    JsonArray array = new JsonArray();
    entries.forEach(e -> array.add(e.toJson()));
    return array;
  }

  /** Undeploys the plugin verticles, then closes the jars. */
  public Future<Void> undeploy(Vertx vertx) {
    List<Future<Void>> undeployed = deployments.stream().map(vertx::undeploy).toList();
    deployments.clear();
    return Future.join(undeployed).eventually(() -> {
      closeLoaders();
      return Future.succeededFuture();
    }).mapEmpty();
  }

  private void closeLoaders() {
    for (Jar jar : jars) {
      try {
        jar.loader().close();
      } catch (IOException e) {
        LOG.debug("closing {}: {}", jar.name(), e.toString());
      }
    }
  }
}
