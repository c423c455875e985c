package io.streamdetour.policy;

import io.streamdetour.bus.Decision;
import io.streamdetour.codec.Action;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.ProxyAddresses;
import io.streamdetour.codec.Upstream;
import io.streamdetour.config.ServerConfig;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

class PolicyTest {

  private static ServerConfig.Rule rule(String name, Action action, List<String> protocols, List<String> hosts,
      List<String> suffixes, List<Integer> ports, List<String> users) {
    return new ServerConfig.Rule(name, action, protocols, hosts, suffixes, ports, users, List.of());
  }

  private static NorthHeader north(String protocol, String upstream, String user) {
    return new NorthHeader(ProxyAddresses.NONE, Upstream.parse(upstream), user, UUID.randomUUID(), protocol, 7,
        null, 0, new byte[0]);
  }

  private final Policy policy = new Policy(new ServerConfig.Policy(Action.CONTINUE, List.of(
      rule("ws-chat", Action.BLOCK, List.of("websocket"), List.of(), List.of("chat.example.com"), List.of(), List.of()),
      rule("mail", Action.BYPASS, List.of("smtp", "imap"), List.of(), List.of(), List.of(), List.of()),
      rule("exact", Action.BLOCK, List.of(), List.of("evil.test"), List.of(), List.of(8443), List.of()),
      rule("bob", Action.BYPASS, List.of(), List.of(), List.of(), List.of(), List.of("bob")),
      rule("catch-ws", Action.BYPASS, List.of("websocket"), List.of(), List.of(), List.of(), List.of()))));

  @Test
  void firstMatchingRuleWins() {
    assertThat(policy.decide(north("websocket", "a.chat.example.com:443", null)))
        .isEqualTo(new Decision(Action.BLOCK, "ws-chat"));
    assertThat(policy.decide(north("websocket", "other.example.com:443", null)))
        .isEqualTo(new Decision(Action.BYPASS, "catch-ws"));
  }

  @Test
  void hostSuffixMatchesTheDomainAndItsSubdomainsOnly() {
    assertThat(policy.decide(north("websocket", "CHAT.example.com:443", null)).rule()).isEqualTo("ws-chat");
    assertThat(policy.decide(north("websocket", "notchat.example.com:443", null)).rule()).isEqualTo("catch-ws");
  }

  @Test
  void protocolExactHostPortAndUserMatchers() {
    assertThat(policy.decide(north("imap", "mail.test:993", null)).rule()).isEqualTo("mail");
    assertThat(policy.decide(north("http_2", "evil.test:8443", null)).rule()).isEqualTo("exact");
    assertThat(policy.decide(north("http_2", "evil.test:443", null)).rule()).isEqualTo("default");
    assertThat(policy.decide(north("http_2", "x.test:443", "bob")).rule()).isEqualTo("bob");
    assertThat(policy.decide(north("http_2", "x.test:443", "alice")).rule()).isEqualTo("default");
  }

  @Test
  void webSocketResourceIsMatchedByPrefixFromThePayload() {
    Policy admin = new Policy(new ServerConfig.Policy(Action.CONTINUE, List.of(new ServerConfig.Rule(
        "admin", Action.BLOCK, List.of(), List.of(), List.of(), List.of(), List.of(), List.of("/admin")))));
    byte[] adminPayload = "/admin/users\r\nhost: a.test\r\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] chatPayload = "/chat\r\nhost: a.test\r\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    assertThat(admin.decide(websocket(adminPayload)).rule()).isEqualTo("admin");
    assertThat(admin.decide(websocket(chatPayload)).rule()).isEqualTo("default");
    assertThat(admin.decide(websocket("no line end and: no resource".getBytes())).rule()).isEqualTo("default");
  }

  private static NorthHeader websocket(byte[] payload) {
    return new NorthHeader(ProxyAddresses.NONE, Upstream.parse("a.test:443"), null, UUID.randomUUID(), "websocket", 1,
        null, payload.length, payload);
  }

  @Test
  void noMatchGivesTheDefault() {
    assertThat(policy.decide(north("http_2", "example.com:443", null)))
        .isEqualTo(new Decision(Action.CONTINUE, "default"));
  }
}
