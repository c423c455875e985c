package io.streamdetour.policy;

import io.streamdetour.bus.Decision;
import io.streamdetour.bus.SessionOptions;
import io.streamdetour.codec.Action;
import io.streamdetour.config.ConfigLoader;
import io.streamdetour.config.ServerConfig;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.streamdetour.policy.Headers.fromClient;
import static io.streamdetour.policy.Headers.north;
import static io.streamdetour.policy.Headers.websocket;
import static org.assertj.core.api.Assertions.assertThat;

/** The README's policy example (one rule per matcher) loads as written and decides as its comments say. */
class ReadmePolicyExampleTest {

  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static String readmeExample() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    int marker = readme.indexOf("One example per matcher:");
    int start = readme.indexOf("```yaml\n", marker) + "```yaml\n".length();
    return readme.substring(start, readme.indexOf("```", start));
  }

  @Test
  void everyMatcherOfTheExampleDecides(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("policy.yaml");
    Files.writeString(file, readmeExample());
    ServerConfig config = ConfigLoader.load(vertx, file).await(10, TimeUnit.SECONDS);
    assertThat(config.policy().rules()).hasSize(16);
    Policy policy = new Policy(config.policy());

    assertThat(rule(policy.decide(north("websocket", "a.chat.example.com:443", null)))).isEqualTo("no-chat-websockets");
    assertThat(rule(policy.decide(north("http_2", "WIKI.corp.example:443", null)))).isEqualTo("internal-wiki");
    assertThat(rule(policy.decide(north("http_2", "img.cdn.example.net:443", null)))).isEqualTo("cdn");
    assertThat(rule(policy.decide(north("http_2", "s3.eu-west-1.amazonaws.com:443", null)))).isEqualTo("regional-storage");
    assertThat(rule(policy.decide(north("http_2", "mirror12.example.org:443", null)))).isEqualTo("numbered-mirrors");
    assertThat(rule(policy.decide(north("http_2", "irc.example:6667", null)))).isEqualTo("odd-ports");
    assertThat(rule(policy.decide(north("http_2", "10.1.2.3:8443", null)))).isEqualTo("private-upstreams");
    assertThat(rule(policy.decide(fromClient("192.0.2.7", "example.com:443")))).isEqualTo("lab-clients");
    assertThat(rule(policy.decide(north("http_2", "example.com:443", "backup-robot")))).isEqualTo("backup-robot");
    Decision contractor = policy.decide(north("http_2", "example.com:443", "ext-joe"));
    assertThat(contractor.rule()).isEqualTo("contractors");
    assertThat(contractor.options()).isEqualTo(new SessionOptions(List.of("dlp"), true, 64L << 20));
    assertThat(rule(policy.decide(north("imap", "mail.example.com:993", "alice")))).isEqualTo("staff-mail");
    assertThat(rule(policy.decide(north("http_2", "upload.example.com:443", null)))).isEqualTo("anonymous-uploads");
    assertThat(rule(policy.decide(websocket("example.com:443", "/admin/x\r\nhost: example.com\r\n")))).isEqualTo("ws-admin");
    assertThat(rule(policy.decide(websocket("example.com:443",
        "/x\r\nhost: example.com\r\norigin: https://evil.example\r\n")))).isEqualTo("ws-foreign-origin");
    assertThat(rule(policy.decide(websocket("example.com:443", "/x\r\nhost: api.example.com\r\n")))).isEqualTo("ws-api-host");
    assertThat(rule(policy.decide(websocket("example.com:443",
        "/x\r\nhost: example.com\r\nsec-websocket-protocol: v2, mqtt\r\n")))).isEqualTo("ws-mqtt");
    Decision other = policy.decide(north("http_2", "example.com:443", "dave"));
    assertThat(other.action()).isEqualTo(Action.CONTINUE);
    assertThat(other.rule()).isEqualTo("default");
  }

  private static String rule(Decision decision) {
    return decision.rule();
  }
}
