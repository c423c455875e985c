package io.streamdetour.config;

import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

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

  private ConfigLoader() {}

  /**
   * @param file the operator's YAML file; {@code null} means {@code conf/stream-detour.yaml} if
   *     it exists. A file named explicitly must exist.
   */
  public static ConfigRetriever retriever(Vertx vertx, Path file, long scanPeriodMillis) {
    ConfigRetrieverOptions options = new ConfigRetrieverOptions()
        .setScanPeriod(scanPeriodMillis)
        .setIncludeDefaultStores(false)
        .addStore(yaml(DEFAULTS_RESOURCE, false));
    Path chosen = file != null ? file : DEFAULT_FILE;
    if (file != null || Files.exists(chosen)) {
      options.addStore(yaml(chosen.toString(), false));
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
      if (name.startsWith(ENV_PREFIX)) {
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

  private static ConfigStoreOptions yaml(String path, boolean optional) {
    return new ConfigStoreOptions().setType("file").setFormat("yaml").setOptional(optional)
        .setConfig(new JsonObject().put("path", path));
  }
}
