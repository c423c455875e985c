package io.streamdetour.plugins;

import io.streamdetour.LogRecorder;
import io.streamdetour.RunningServer;
import io.streamdetour.TestConfigs;
import io.streamdetour.bus.SessionEnded;
import io.streamdetour.config.ConfigException;
import io.streamdetour.config.ConfigLoader;
import io.streamdetour.config.ConfigWatcher;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.testclient.DetourClient;
import io.streamdetour.testclient.QuinnClient;
import io.streamdetour.testclient.QuinnResult;
import io.streamdetour.testclient.SessionResult;
import io.streamdetour.testclient.SessionSpec;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Plugin jars end to end: the example plugin of the README ({@code examples/plugin-example}),
 * compiled by the running JDK at test time, loaded from {@code plugins.dir} by a real server
 * that relays real QUIC sessions; broken jars and classes next to it.
 */
class PluginsTest {

  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final String COUNTER = "com.example.detour.EndedSessionCounter";
  private static final String INSPECTED = "example.inspected";

  @TempDir
  static Path jars;
  private static Path exampleJar;

  @BeforeAll
  static void buildTheExample() throws Exception {
    exampleJar = PluginJar.build(Path.of("examples", "plugin-example"), jars.resolve("example.jar"));
  }

  /** A plugins dir holding the example jar (and {@code more} jars written into it by the test). */
  private static Path pluginsDir(Path dir) throws Exception {
    Files.copy(exampleJar, dir.resolve("example.jar"));
    return dir;
  }

  private static JsonObject verticle(String className, String threading, JsonObject config) {
    return new JsonObject().put("class", className).put("instances", 1).put("threading", threading)
        .put("config", config);
  }

  private static JsonObject config(Path dir, JsonArray verticles, JsonArray rules) {
    return RunningServer.acceptingTestAlpn()
        .put("plugins", new JsonObject().put("dir", dir.toString()).put("verticles", verticles))
        .put("policy", new JsonObject().put("rules", rules));
  }

  private static JsonObject inspectedRule(String host, String... inspectors) {
    return new JsonObject().put("name", "inspected-" + host).put("action", "continue")
        .put("match", new JsonObject().put("host", new JsonArray().add(host)))
        .put("options", new JsonObject().put("inspectors", new JsonArray(List.of((Object[]) inspectors))));
  }

  /** What the example inspector published when each session ended, by task id. */
  private static Map<String, JsonObject> recordInspected(RunningServer server) {
    Map<String, JsonObject> inspected = new ConcurrentHashMap<>();
    server.vertx.eventBus().<JsonObject>consumer(INSPECTED, m -> inspected.put(m.body().getString("task_id"), m.body()));
    return inspected;
  }

  private static JsonObject ask(RunningServer server, String address) throws Exception {
    return server.vertx.eventBus().<JsonObject>request(address, new JsonObject()).await(10, TimeUnit.SECONDS).body();
  }

  private static JsonArray pluginsShown(RunningServer server) throws Exception {
    return new JsonObject(server.admin().get("/config").body()).getJsonArray("plugins");
  }

  private static JsonObject shown(JsonArray plugins, String name) {
    return plugins.stream().map(JsonObject.class::cast).filter(p -> p.getString("name").equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError(name + " not in " + plugins.encode()));
  }

  @Test
  void thePluginInspectorSeesTheRelayedBytesAndTheVerticleItsConfigAndTheEndedSessions(@TempDir Path dir)
      throws Exception {
    JsonArray verticles = new JsonArray().add(verticle(COUNTER, "worker",
        new JsonObject().put("address", "test.sessions-per-user")));
    try (RunningServer server = RunningServer.start(config(pluginsDir(dir), verticles,
        new JsonArray().add(inspectedRule("counted.example", "byte-count"))));
        DetourClient client = server.client(WAIT)) {
      Map<String, JsonObject> inspected = recordInspected(server);
      List<UUID> counted = new ArrayList<>();
      List<SessionSpec> specs = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        UUID task = UUID.randomUUID();
        counted.add(task);
        specs.add(SessionSpec.continueWith(64 * 1024 + i).withTaskId(task).withUpstream("counted.example:443")
            .withUsername(i < 3 ? "alice" : "bob"));
      }
      UUID plain = UUID.randomUUID();
      specs.add(SessionSpec.continueWith(1000).withTaskId(plain).withUpstream("plain.example:443")
          .withUsername("alice"));
      for (SessionSpec spec : specs) {
        SessionResult result = client.runSession(spec);
        assertThat(result.ok()).as(result.toString()).isTrue();
      }

      await().atMost(WAIT).until(() -> inspected.size() == 4);
      for (int i = 0; i < 4; i++) {
        JsonObject seen = inspected.get(counted.get(i).toString());
        assertThat(seen.getLong("bytes_north")).isEqualTo(64 * 1024 + i);
        assertThat(seen.getLong("bytes_south")).isEqualTo(64 * 1024 + i);
        assertThat(seen.getString("user")).isEqualTo(i < 3 ? "alice" : "bob");
      }
      assertThat(inspected).doesNotContainKey(plain.toString());
      // The verticle answers on the address its config named, with every ended session counted.
      await().atMost(WAIT).untilAsserted(() ->
          assertThat(ask(server, "test.sessions-per-user")).isEqualTo(new JsonObject().put("alice", 4L).put("bob", 1L)));

      JsonArray shown = pluginsShown(server);
      assertThat(shown(shown, "example.jar").getString("status")).isEqualTo("loaded");
      assertThat(shown(shown, "byte-count").getString("status")).isEqualTo("loaded");
      assertThat(shown(shown, "byte-count").getString("jar")).isEqualTo("example.jar");
      assertThat(shown(shown, COUNTER).getString("status")).isEqualTo("deployed");

      // A live change naming an inspector nothing offers is refused; the plugin's name is fine.
      ServerConfig current = server.server.config();
      JsonObject next = current.source().copy();
      next.getJsonObject("policy").put("rules", new JsonArray().add(inspectedRule("x.example", "byte-count", "nope")));
      assertThatThrownBy(() -> server.server.apply(2, ServerConfig.from(next)))
          .isInstanceOf(ConfigException.class).hasMessageContaining("[nope]");
    }
  }

  @Test
  void quinnSessionsPassThePluginInspectorByteExact(@TempDir Path dir) throws Exception {
    QuinnClient.assumeAvailable();
    JsonArray verticles = new JsonArray().add(verticle(COUNTER, "virtual-thread",
        new JsonObject().put("address", "test.quinn-sessions")));
    JsonObject overrides = config(pluginsDir(dir), verticles, new JsonArray())
        .put("relay", new JsonObject().put("inspectors", new JsonArray().add("byte-count")));
    try (RunningServer server = RunningServer.start(overrides)) {
      Map<String, JsonObject> inspected = recordInspected(server);
      QuinnResult result = QuinnClient.run(server.quinnArgs("--sessions", "20", "--concurrency", "8",
          "--bytes", "256K", "--username", "carol"), Duration.ofSeconds(120));
      assertThat(result.passed()).as(result.toString()).isTrue();
      assertThat(result.getLong("ok")).isEqualTo(20);

      await().atMost(WAIT).until(() -> inspected.size() == 20);
      assertThat(inspected.values()).allSatisfy(seen -> {
        assertThat(seen.getLong("bytes_north")).isEqualTo(256 * 1024);
        assertThat(seen.getLong("bytes_south")).isEqualTo(256 * 1024);
        assertThat(seen.getString("user")).isEqualTo("carol");
      });
      await().atMost(WAIT).untilAsserted(() ->
          assertThat(ask(server, "test.quinn-sessions")).isEqualTo(new JsonObject().put("carol", 20L)));
    }
  }

  @Test
  void brokenPluginsAreLoggedByClassAndJarAndTheServerServesWithoutThem(@TempDir Path dir) throws Exception {
    pluginsDir(dir);
    Files.writeString(dir.resolve("broken.jar"), "not a zip file");
    PluginJar.of(dir.resolve("gone.jar"), Map.of(
        "META-INF/services/io.streamdetour.plugins.InspectorProvider", "com.example.Gone\n"));
    JsonArray verticles = new JsonArray()
        .add(verticle(COUNTER, "event-loop", new JsonObject().put("address", "test.still-counting")))
        .add(verticle("com.example.NoSuchVerticle", "event-loop", new JsonObject()))
        // In the jar, but not a verticle.
        .add(verticle("com.example.detour.ByteCountInspector", "worker", new JsonObject()));
    try (LogRecorder log = LogRecorder.of(Plugins.class);
        RunningServer server = RunningServer.start(config(dir, verticles,
            new JsonArray().add(inspectedRule("counted.example", "byte-count"))));
        DetourClient client = server.client(WAIT)) {
      assertThat(log.lines()).anySatisfy(line -> assertThat(line)
          .startsWith("ERROR plugin jar broken.jar: not a readable jar").endsWith("plugins.required is false)"));
      assertThat(log.lines()).anySatisfy(line -> assertThat(line)
          .startsWith("ERROR plugin inspector META-INF/services/io.streamdetour.plugins.InspectorProvider from gone.jar:"
              + " Provider com.example.Gone not found"));
      assertThat(log.lines()).anySatisfy(line -> assertThat(line)
          .startsWith("ERROR plugin verticle com.example.NoSuchVerticle: no jar in " + dir + " has this class"));
      assertThat(log.lines()).anySatisfy(line -> assertThat(line)
          .startsWith("ERROR plugin verticle com.example.detour.ByteCountInspector from example.jar: failed to deploy"));

      Map<String, JsonObject> inspected = recordInspected(server);
      UUID task = UUID.randomUUID();
      SessionResult result = client.runSession(SessionSpec.continueWith(10_000).withTaskId(task)
          .withUpstream("counted.example:443").withUsername("dave"));
      assertThat(result.ok()).as(result.toString()).isTrue();
      await().atMost(WAIT).until(() -> inspected.containsKey(task.toString()));
      assertThat(inspected.get(task.toString()).getLong("bytes_north")).isEqualTo(10_000);
      await().atMost(WAIT).untilAsserted(() ->
          assertThat(ask(server, "test.still-counting")).isEqualTo(new JsonObject().put("dave", 1L)));

      JsonArray shown = pluginsShown(server);
      assertThat(shown(shown, "broken.jar").getString("status")).isEqualTo("failed");
      assertThat(shown(shown, "com.example.NoSuchVerticle").getString("status")).isEqualTo("failed");
      assertThat(shown(shown, "com.example.detour.ByteCountInspector").getString("error")).startsWith("failed to deploy");
      assertThat(shown(shown, COUNTER).getString("status")).isEqualTo("deployed");
      assertThat(new JsonObject(server.admin().get("/health/ready").body()).getString("status")).isEqualTo("UP");
    }
  }

  @Test
  void anInspectorThatCannotBeCreatedResetsItsSessionOnly(@TempDir Path dir) throws Exception {
    Path project = dir.resolve("fragile");
    Path sources = Files.createDirectories(project.resolve("src/main/java/com/example/fragile"));
    Files.writeString(sources.resolve("Fragile.java"), """
        package com.example.fragile;

        import io.streamdetour.codec.NorthHeader;
        import io.streamdetour.plugins.InspectorProvider;
        import io.streamdetour.relay.Inspector;

        public final class Fragile implements InspectorProvider {
          public String name() {
            return "fragile";
          }

          public Inspector create(NorthHeader session) {
            if (session.upstream().host().equals("boom.example")) {
              throw new IllegalStateException("no inspector for boom.example");
            }
            return (direction, data) -> data;
          }
        }
        """);
    Path services = Files.createDirectories(project.resolve("src/main/resources/META-INF/services"));
    Files.writeString(services.resolve(InspectorProvider.class.getName()), "com.example.fragile.Fragile\n");
    Path plugins = Files.createDirectory(dir.resolve("plugins"));
    PluginJar.build(project, plugins.resolve("fragile.jar"));

    try (LogRecorder log = LogRecorder.of(Plugins.class);
        RunningServer server = RunningServer.start(config(plugins, new JsonArray(), new JsonArray()
            .add(inspectedRule("boom.example", "fragile")).add(inspectedRule("fine.example", "fragile"))));
        DetourClient client = server.client(WAIT)) {
      Map<String, SessionEnded> ended = server.recordEndedSessions();
      UUID boom = UUID.randomUUID();
      SessionResult failed = client.runSession(SessionSpec.continueWith(4096).withTaskId(boom)
          .withUpstream("boom.example:443"));
      assertThat(failed.ok()).as(failed.toString()).isFalse();
      await().atMost(WAIT).until(() -> ended.containsKey(boom.toString()));
      assertThat(ended.get(boom.toString()).end()).endsWith("_reset");
      assertThat(log.lines()).anySatisfy(line -> assertThat(line).startsWith(
          "ERROR plugin inspector fragile from fragile.jar failed for session " + boom
              + ": java.lang.IllegalStateException: no inspector for boom.example"));

      SessionResult fine = client.runSession(SessionSpec.continueWith(4096).withUpstream("fine.example:443"));
      assertThat(fine.ok()).as(fine.toString()).isTrue();
      await().atMost(WAIT).until(() -> server.server.activeSessions() == 0);
    }
  }

  @Test
  void withPluginsRequiredAFailingPluginStopsTheStart(@TempDir Path dir) throws Exception {
    pluginsDir(dir);
    Files.writeString(dir.resolve("broken.jar"), "not a zip file");
    JsonObject overrides = config(dir, new JsonArray(), new JsonArray());
    overrides.getJsonObject("plugins").put("required", true);
    assertThatThrownBy(() -> RunningServer.start(overrides).close())
        .hasMessageContaining("plugins.required is true").hasMessageContaining("jar broken.jar: not a readable jar");

    JsonObject missingVerticle = config(pluginsDir(Files.createDirectory(dir.resolve("ok"))),
        new JsonArray().add(verticle("com.example.NoSuchVerticle", "worker", new JsonObject())), new JsonArray());
    missingVerticle.getJsonObject("plugins").put("required", true);
    assertThatThrownBy(() -> RunningServer.start(missingVerticle).close())
        .hasMessageContaining("plugin verticle com.example.NoSuchVerticle: no jar in");
  }

  @Test
  void aRuleNamingAnInspectorNoPluginOffersFailsValidation(@TempDir Path dir) throws Exception {
    assertThatThrownBy(() -> RunningServer.start(config(pluginsDir(dir), new JsonArray(),
        new JsonArray().add(inspectedRule("a.example", "byte-count", "no-such-inspector")))).close())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("no-such-inspector")
        .hasMessageNotContaining("byte-count");
    // Without the jar, the example's own name is unknown too.
    assertThatThrownBy(() -> RunningServer.start(RunningServer.acceptingTestAlpn().put("policy", new JsonObject()
        .put("rules", new JsonArray().add(inspectedRule("a.example", "byte-count"))))).close())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("[byte-count]");
  }

  /** The README's "Plugins" section: its config loads as written, its Java is the example the tests build. */
  @Test
  void theReadmeShowsTheExamplePluginThatTheTestsBuild(@TempDir Path dir) throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    String section = readme.substring(readme.indexOf("## Plugins\n"), readme.indexOf("## Operations\n"));
    List<String> java = blocks(section, "```java\n");
    Path sources = Path.of("examples", "plugin-example", "src", "main", "java", "com", "example", "detour");
    assertThat(java).containsExactly(Files.readString(sources.resolve("ByteCountInspector.java")),
        Files.readString(sources.resolve("EndedSessionCounter.java")));

    Path file = dir.resolve("plugins.yaml");
    Files.writeString(file, blocks(section, "```yaml\n").getFirst());
    Vertx vertx = Vertx.vertx();
    try {
      ServerConfig config = ConfigLoader.load(vertx, file).await(10, TimeUnit.SECONDS);
      assertThat(config.plugins().verticles()).containsExactly(new ServerConfig.PluginVerticle(COUNTER, 1, "worker",
          new JsonObject().put("address", "example.sessions-per-user")));
      assertThat(config.policy().rules().getFirst().options().inspectors()).containsExactly("byte-count");
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  private static List<String> blocks(String text, String opening) {
    List<String> blocks = new ArrayList<>();
    for (int at = text.indexOf(opening); at >= 0; at = text.indexOf(opening, at)) {
      int start = at + opening.length();
      int end = text.indexOf("```", start);
      blocks.add(text.substring(start, end));
      at = end + 3;
    }
    return blocks;
  }

  @Test
  void pluginSettingsAreCheckedAndNeedARestart() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      JsonObject defaults = TestConfigs.defaultsJson(vertx);
      ServerConfig before = ServerConfig.from(defaults);
      assertThat(before.plugins()).isEqualTo(new ServerConfig.Plugins("", false, List.of()));

      JsonObject changed = defaults.copy();
      changed.getJsonObject("plugins").put("dir", "/opt/detour-plugins")
          .put("verticles", new JsonArray().add(new JsonObject().put("class", COUNTER)));
      ServerConfig after = ServerConfig.from(changed);
      assertThat(after.plugins().verticles()).containsExactly(
          new ServerConfig.PluginVerticle(COUNTER, 1, "event-loop", new JsonObject()));
      assertThat(ConfigWatcher.restartOnlyChanges(before, after)).containsExactly("plugins");

      JsonObject bad = defaults.copy();
      bad.getJsonObject("plugins").put("verticles", new JsonArray()
          .add(new JsonObject().put("class", "not a class").put("instances", 0).put("threading", "fibers")
              .put("config", "text")));
      assertThatThrownBy(() -> ServerConfig.from(bad)).isInstanceOf(ConfigException.class)
          .hasMessageContaining("plugins.verticles[0].class: must be a fully qualified class name")
          .hasMessageContaining("plugins.verticles[0].instances: must be between 1 and 1024")
          .hasMessageContaining("plugins.verticles[0].threading: must be event-loop, worker or virtual-thread")
          .hasMessageContaining("plugins.verticles[0].config: must be a map")
          .hasMessageContaining("plugins.verticles: name classes of plugin jars: set plugins.dir too");
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }
}
