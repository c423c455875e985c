package io.streamdetour.config;

import io.streamdetour.TestConfigs;
import io.streamdetour.codec.Action;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ServerConfigTest {

  private static Vertx vertx;

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stopVertx() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void embeddedDefaultsAreValidAndMatchTheDocumentedValues() throws Exception {
    ServerConfig config = ServerConfig.from(TestConfigs.defaultsJson(vertx));
    assertThat(config.quic().host()).isEqualTo("127.0.0.1");
    assertThat(config.quic().port()).isEqualTo(2888);
    assertThat(config.quic().idleTimeout()).isGreaterThan(Duration.ofSeconds(60));
    assertThat(config.quic().maxStreamsPerConnection()).isGreaterThanOrEqualTo(32);
    assertThat(config.tls().selfSigned()).isTrue();
    assertThat(config.policy().defaultAction()).isEqualTo(Action.CONTINUE);
    assertThat(config.relay().idleTimeout()).isGreaterThan(Duration.ofMinutes(5));
  }

  @Test
  void aYamlFileOverridesTheDefaultsAndKeepsTheRest(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("my.yaml");
    Files.writeString(file, """
        quic:
          port: 3999
        policy:
          default: block
          rules:
            - name: mail
              action: bypass
              match: { protocol: [smtp, imap], port: [25, "993"] }
        """);
    ServerConfig config = ConfigLoader.load(vertx, file).await(10, TimeUnit.SECONDS);
    assertThat(config.quic().port()).isEqualTo(3999);
    assertThat(config.quic().host()).isEqualTo("127.0.0.1");
    assertThat(config.policy().defaultAction()).isEqualTo(Action.BLOCK);
    assertThat(config.policy().rules()).singleElement().satisfies(rule -> {
      assertThat(rule.action()).isEqualTo(Action.BYPASS);
      assertThat(rule.protocols()).containsExactly("smtp", "imap");
      assertThat(rule.ports()).containsExactly(25, 993);
    });
  }

  @Test
  void environmentAndSystemPropertiesOverrideTheFile() throws Exception {
    JsonObject file = TestConfigs.defaultsJson(vertx);
    Properties sys = new Properties();
    sys.setProperty("stream-detour.quic.port", "2999");
    sys.setProperty("stream-detour.relay.idle-timeout", "90s");
    sys.setProperty("unrelated.key", "x");
    Map<String, String> env = Map.of(
        "STREAM_DETOUR_QUIC__PORT", "3001",
        "STREAM_DETOUR_HEADER__MAX_PAYLOAD_BYTES", "1024",
        "STREAM_DETOUR_QUIC__ALPN", "g3-detour, other",
        "PATH", "/usr/bin");
    ServerConfig config = ServerConfig.from(ConfigLoader.applyOverrides(file, sys, env));
    assertThat(config.quic().port()).isEqualTo(3001); // the environment wins over system properties
    assertThat(config.relay().idleTimeout()).isEqualTo(Duration.ofSeconds(90));
    assertThat(config.header().maxPayloadBytes()).isEqualTo(1024);
    assertThat(config.quic().alpn()).containsExactly("g3-detour", "other");
  }

  @Test
  void everyProblemIsReportedWithItsKey() throws Exception {
    JsonObject json = TestConfigs.defaultsJson(vertx);
    json.getJsonObject("quic").put("port", "not-a-port").put("prot", 1);
    json.getJsonObject("header").put("timeout", "soon");
    json.getJsonObject("decision").put("fallback", "allow");
    json.getJsonObject("policy").put("rules", new JsonArray().add(new JsonObject()
        .put("name", "r").put("action", "continue").put("match", new JsonObject().put("hots", "x"))));
    json.put("quik", new JsonObject());
    assertThatThrownBy(() -> ServerConfig.from(json))
        .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "quic.port: must be a whole number, got 'not-a-port'",
            "quic.prot: unknown key",
            "header.timeout: must be a duration such as 500ms, 30s, 5m or 1h, got 'soon'",
            "decision.fallback: must be continue, bypass or block, got 'allow'",
            "policy.rules[0].match.hots: unknown key",
            "quik: unknown key"));
  }

  @Test
  void aFileThatIsNotYamlFailsToLoad(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("broken.yaml");
    Files.writeString(file, "quic: [unclosed\n");
    assertThatThrownBy(() -> ConfigLoader.load(vertx, file).await(10, TimeUnit.SECONDS)).isNotNull();
  }

  @Test
  void aMissingExplicitFileFailsToLoad(@TempDir Path dir) {
    assertThatThrownBy(() -> ConfigLoader.load(vertx, dir.resolve("absent.yaml")).await(10, TimeUnit.SECONDS))
        .isNotNull();
  }
}
