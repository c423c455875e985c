package io.streamdetour.config;

import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Builds the effective configuration with vertx-config: the embedded defaults, then the YAML
 * file, then system properties ({@code stream-detour.*}), then environment variables
 * ({@code STREAM_DETOUR_*}), each overriding the one before.
 */
public final class ConfigLoader {

  /** Classpath location of the embedded copy of {@code conf/stream-detour.yaml}. */
  public static final String DEFAULTS_RESOURCE = "io/streamdetour/defaults/stream-detour.yaml";
  public static final Path DEFAULT_FILE = Path.of("conf", "stream-detour.yaml");

  static final String SYS_PREFIX = "stream-detour";
  static final String ENV_PREFIX = "STREAM_DETOUR_";
  /** bin/stream-detour's JVM options: the launcher's, not a configuration key. */
  static final String JAVA_OPTS_VARIABLE = "STREAM_DETOUR_JAVA_OPTS";

  private ConfigLoader() {}

  /**
   * @param file the operator's YAML file; {@code null} means {@code conf/stream-detour.yaml} if
   *     it exists. A file named explicitly must exist.
   */
  public static ConfigRetriever retriever(Vertx vertx, Path file, long scanPeriodMillis) {
    ConfigRetrieverOptions options = new ConfigRetrieverOptions()
        .setScanPeriod(scanPeriodMillis)
        .setIncludeDefaultStores(false)
        // The defaults as a JSON store parsed once: a file store naming a classpath resource
        // makes Vert.x extract it from the jar again at every scan, which costs seconds of CPU
        // per scan on a loaded machine.
        .addStore(new ConfigStoreOptions().setType("json").setConfig(EmbeddedDefaults.JSON.copy()));
    Path chosen = file != null ? file : DEFAULT_FILE;
    if (file != null || Files.exists(chosen)) {
      options.addStore(yaml(chosen.toString()));
    }
    ConfigRetriever retriever = ConfigRetriever.create(vertx, options);
    retriever.setConfigurationProcessor(
        merged -> applyOverrides(merged, System.getProperties(), System.getenv()));
    return retriever;
  }

  /** Loads once and validates; fails with {@link ConfigException} naming every bad key. */
  public static Future<ServerConfig> load(Vertx vertx, Path file) {
    ConfigRetriever retriever = retriever(vertx, file, 0);
    return retriever.getConfig()
        .eventually(retriever::close)
        .map(ServerConfig::from);
  }

  /**
   * Overrides from system properties and the environment, applied on every (re)load. Only the
   * names with our prefix count; vertx-config's own sys and env stores would merge every
   * variable of the process into the tree.
   */
  static JsonObject applyOverrides(JsonObject merged, Properties sys, Map<String, String> env) {
    JsonObject result = merged.copy();
    for (String name : sys.stringPropertyNames()) {
      if (name.startsWith(SYS_PREFIX + ".")) {
        put(result, name.substring(SYS_PREFIX.length() + 1).split("\\."), sys.getProperty(name));
      }
    }
    for (Map.Entry<String, String> entry : env.entrySet()) {
      String name = entry.getKey();
      if (name.startsWith(ENV_PREFIX) && !name.equals(JAVA_OPTS_VARIABLE)) {
        String[] path = name.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT).split("__");
        for (int i = 0; i < path.length; i++) {
          path[i] = path[i].replace('_', '-');
        }
        put(result, path, entry.getValue());
      }
    }
    return result;
  }

  private static void put(JsonObject target, String[] path, String value) {
    JsonObject node = target;
    for (int i = 0; i < path.length - 1; i++) {
      if (node.getValue(path[i]) instanceof JsonObject child) {
        node = child;
      } else {
        JsonObject created = new JsonObject();
        node.put(path[i], created);
        node = created;
      }
    }
    node.put(path[path.length - 1], value);
  }

  /** The embedded defaults, parsed once per JVM as vertx-config's YAML processor would. */
  private static final class EmbeddedDefaults {
    static final JsonObject JSON = parse();

    private static JsonObject parse() {
      try (InputStream in = ConfigLoader.class.getClassLoader().getResourceAsStream(DEFAULTS_RESOURCE)) {
        if (in == null) {
          throw new IllegalStateException(DEFAULTS_RESOURCE + " is missing from the class path");
        }
        return jsonify(new Yaml(new SafeConstructor(new LoaderOptions())).load(in));
      } catch (IOException e) {
        throw new UncheckedIOException("reading " + DEFAULTS_RESOURCE, e);
      }
    }

    private static JsonObject jsonify(Map<?, ?> yaml) {
      JsonObject json = new JsonObject();
      yaml.forEach((key, value) -> json.put(key.toString(), value instanceof Map<?, ?> map ? jsonify(map) : value));
      return json;
    }
  }

  private static ConfigStoreOptions yaml(String path) {
    return new ConfigStoreOptions().setType("file").setFormat("yaml")
        .setConfig(new JsonObject().put("path", path));
  }
}
