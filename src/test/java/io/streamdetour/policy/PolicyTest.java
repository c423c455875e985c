package io.streamdetour.policy;

import io.streamdetour.bus.SessionOptions;
import io.streamdetour.bus.Decision;
import io.streamdetour.codec.Action;
import io.streamdetour.codec.NorthHeader;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.streamdetour.policy.Headers.north;
import static io.streamdetour.policy.Headers.websocket;
import static io.streamdetour.policy.RuleBuilder.policy;
import static io.streamdetour.policy.RuleBuilder.rule;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PolicyTest {

  private final Policy policy = new Policy(policy(
      rule("ws-chat", Action.BLOCK).protocol("websocket").hostSuffix("chat.example.com"),
      rule("mail", Action.BYPASS).protocol("smtp", "imap"),
      rule("exact", Action.BLOCK).host("evil.test").port("8443"),
      rule("bob", Action.BYPASS).user("bob"),
      rule("catch-ws", Action.BYPASS).protocol("websocket")));

  @Test
  void firstMatchingRuleWins() {
    assertThat(policy.decide(north("websocket", "a.chat.example.com:443", null)))
        .isEqualTo(new Decision(Action.BLOCK, "ws-chat"));
    assertThat(policy.decide(north("websocket", "other.example.com:443", null)))
        .isEqualTo(new Decision(Action.BYPASS, "catch-ws"));
  }

  @Test
  void protocolExactHostPortAndUserMatchers() {
    assertThat(decidedBy(policy, north("imap", "mail.test:993", null))).isEqualTo("mail");
    assertThat(decidedBy(policy, north("http_2", "evil.test:8443", null))).isEqualTo("exact");
    assertThat(decidedBy(policy, north("http_2", "evil.test:443", null))).isEqualTo("default");
    assertThat(decidedBy(policy, north("http_2", "x.test:443", "bob"))).isEqualTo("bob");
    assertThat(decidedBy(policy, north("http_2", "x.test:443", "alice"))).isEqualTo("default");
  }

  @Test
  void noMatchGivesTheDefaultWithoutOptions() {
    assertThat(policy.decide(north("http_2", "example.com:443", null)))
        .isEqualTo(new Decision(Action.CONTINUE, "default"));
  }

  @Test
  void aContinueRuleCarriesItsOptionsAndOtherRulesNone() {
    Policy withOptions = new Policy(policy(
        rule("watch", Action.CONTINUE).hostSuffix("watch.test").options(List.of("log", "dlp"), true, 10_485_760),
        rule("plain", Action.CONTINUE).hostSuffix("plain.test")));
    assertThat(withOptions.decide(north("http_2", "a.watch.test:443", null)).options())
        .isEqualTo(new SessionOptions(List.of("log", "dlp"), true, 10_485_760));
    assertThat(withOptions.decide(north("http_2", "a.plain.test:443", null)).options()).isEqualTo(SessionOptions.NONE);
    assertThat(withOptions.decide(north("http_2", "other.test:443", null)).options()).isEqualTo(SessionOptions.NONE);
  }

  @Test
  void userGroupsMatchTheirMembers() {
    Policy groups = new Policy(policy(Action.CONTINUE,
        Map.of("staff", List.of("alice", "bob"), "robots", List.of("backup")),
        rule("staff-or-robots", Action.BYPASS).userGroup("staff", "robots"),
        rule("carol-in-staff", Action.BLOCK).user("carol").userGroup("staff")));
    assertThat(decidedBy(groups, north("http_2", "a.test:443", "alice"))).isEqualTo("staff-or-robots");
    assertThat(decidedBy(groups, north("http_2", "a.test:443", "backup"))).isEqualTo("staff-or-robots");
    assertThat(decidedBy(groups, north("http_2", "a.test:443", "carol"))).isEqualTo("default");
    assertThat(decidedBy(groups, north("http_2", "a.test:443", null))).isEqualTo("default");
  }

  @Test
  void aRuleNamingAnUndefinedGroupIsRefused() {
    assertThatThrownBy(() -> new Policy(policy(rule("r", Action.BLOCK).userGroup("nobody"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'nobody'");
  }

  @Test
  void webSocketResourceIsMatchedByPrefixFromThePayload() {
    Policy admin = new Policy(policy(rule("admin", Action.BLOCK).wsResource("/admin")));
    assertThat(decidedBy(admin, websocket("a.test:443", "/admin/users\r\nhost: a.test\r\n"))).isEqualTo("admin");
    assertThat(decidedBy(admin, websocket("a.test:443", "/chat\r\nhost: a.test\r\n"))).isEqualTo("default");
    assertThat(decidedBy(admin, websocket("a.test:443", "no line end and: no resource"))).isEqualTo("default");
  }

  static String decidedBy(Policy policy, NorthHeader header) {
    return policy.decide(header).rule();
  }
}
