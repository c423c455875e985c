package io.streamdetour.policy;

import io.streamdetour.codec.Action;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.streamdetour.policy.Headers.north;
import static io.streamdetour.policy.Headers.websocket;
import static io.streamdetour.policy.PolicyTest.decidedBy;
import static io.streamdetour.policy.RuleBuilder.policy;
import static io.streamdetour.policy.RuleBuilder.rule;
import static org.assertj.core.api.Assertions.assertThat;

/** The index only narrows the rules to try: whichever lists a rule sits in, rule order decides. */
class PolicyIndexTest {

  @Test
  void aWildcardRuleBeforeAHostRuleStillWins() {
    Policy policy = new Policy(policy(
        rule("port-8443", Action.BLOCK).port("8443"),
        rule("exact", Action.BYPASS).host("a.example.com"),
        rule("suffix", Action.BYPASS).hostSuffix("example.com")));
    assertThat(decidedBy(policy, north("http_2", "a.example.com:8443", null))).isEqualTo("port-8443");
    assertThat(decidedBy(policy, north("http_2", "a.example.com:443", null))).isEqualTo("exact");
    assertThat(decidedBy(policy, north("http_2", "b.example.com:8443", null))).isEqualTo("port-8443");
  }

  @Test
  void aSuffixRuleAfterAnExactRuleLosesToItAndBeforeItWins() {
    Policy exactFirst = new Policy(policy(
        rule("exact", Action.BLOCK).host("a.example.com"),
        rule("suffix", Action.BYPASS).hostSuffix("example.com")));
    assertThat(decidedBy(exactFirst, north("http_2", "a.example.com:443", null))).isEqualTo("exact");
    assertThat(decidedBy(exactFirst, north("http_2", "b.example.com:443", null))).isEqualTo("suffix");
    Policy suffixFirst = new Policy(policy(
        rule("suffix", Action.BYPASS).hostSuffix("example.com"),
        rule("exact", Action.BLOCK).host("a.example.com")));
    assertThat(decidedBy(suffixFirst, north("http_2", "a.example.com:443", null))).isEqualTo("suffix");
  }

  @Test
  void aLongerSuffixAfterAShorterOneDoesNotJumpTheQueue() {
    Policy policy = new Policy(policy(
        rule("com", Action.BLOCK).hostSuffix("com").user("eve"),
        rule("deep", Action.BYPASS).hostSuffix("b.example.com"),
        rule("example", Action.BLOCK).hostSuffix("example.com")));
    assertThat(decidedBy(policy, north("http_2", "a.b.example.com:443", "eve"))).isEqualTo("com");
    assertThat(decidedBy(policy, north("http_2", "a.b.example.com:443", "bob"))).isEqualTo("deep");
    assertThat(decidedBy(policy, north("http_2", "a.c.example.com:443", "bob"))).isEqualTo("example");
  }

  @Test
  void globsAndRegexesKeepTheirPlace() {
    Policy policy = new Policy(policy(
        rule("regex", Action.BLOCK).hostRegex("x\\d+\\..*"),
        rule("glob", Action.BYPASS).hostGlob("*.cdn.example.com"),
        rule("suffix", Action.BLOCK).hostSuffix("cdn.example.com"),
        rule("everywhere", Action.BYPASS).hostGlob("**")));
    assertThat(decidedBy(policy, north("http_2", "x1.cdn.example.com:443", null))).isEqualTo("regex");
    assertThat(decidedBy(policy, north("http_2", "img.cdn.example.com:443", null))).isEqualTo("glob");
    assertThat(decidedBy(policy, north("http_2", "a.img.cdn.example.com:443", null))).isEqualTo("suffix");
    assertThat(decidedBy(policy, north("http_2", "other.test:443", null))).isEqualTo("everywhere");
  }

  @Test
  void protocolBucketsKeepRulesWithoutAProtocolInOrder() {
    Policy policy = new Policy(policy(
        rule("any-protocol", Action.BLOCK).host("a.test").user("eve"),
        rule("smtp", Action.BYPASS).protocol("smtp"),
        rule("after", Action.BLOCK).host("a.test")));
    assertThat(decidedBy(policy, north("smtp", "a.test:25", "eve"))).isEqualTo("any-protocol");
    assertThat(decidedBy(policy, north("smtp", "a.test:25", "bob"))).isEqualTo("smtp");
    assertThat(decidedBy(policy, north("imap", "a.test:993", "bob"))).isEqualTo("after");
    assertThat(decidedBy(policy, north("some_new_protocol", "a.test:1", "bob"))).isEqualTo("after");
  }

  @Test
  void webSocketMatchersImplyTheWebSocketProtocol() {
    Policy policy = new Policy(policy(
        rule("smtp-and-ws", Action.BLOCK).protocol("smtp").wsResource("/"),
        rule("ws-admin", Action.BLOCK).wsResource("/admin"),
        rule("rest", Action.BYPASS).hostSuffix("test")));
    assertThat(decidedBy(policy, websocket("a.test:443", "/admin\r\n"))).isEqualTo("ws-admin");
    assertThat(decidedBy(policy, websocket("a.test:443", "/chat\r\n"))).isEqualTo("rest");
    assertThat(decidedBy(policy, north("smtp", "a.test:25", null))).isEqualTo("rest");
  }

  @Test
  void ipLiteralRulesAreTriedOnlyForAddressesAndInOrder() {
    Policy policy = new Policy(policy(
        rule("port", Action.BLOCK).port("22"),
        rule("private", Action.BLOCK).upstreamCidr("10.0.0.0/8"),
        rule("any", Action.BYPASS).port("0-65535")));
    assertThat(decidedBy(policy, north("http_2", "10.1.1.1:22", null))).isEqualTo("port");
    assertThat(decidedBy(policy, north("http_2", "10.1.1.1:443", null))).isEqualTo("private");
    assertThat(decidedBy(policy, north("http_2", "ten.test:443", null))).isEqualTo("any");
  }

  @Test
  void rulesFiledByUsernameKeepTheirPlace() {
    Policy policy = new Policy(policy(Action.CONTINUE, Map.of("staff", List.of("alice", "bob")),
        rule("ssh", Action.BLOCK).port("22"),
        rule("robots", Action.BYPASS).userRegex("svc-\\d+"),
        rule("staff", Action.BYPASS).userGroup("staff"),
        rule("anonymous", Action.BLOCK).userAbsent(true),
        rule("bob", Action.BLOCK).user("bob"),
        rule("named", Action.CONTINUE).userAbsent(false)));
    assertThat(decidedBy(policy, north("http_2", "a.test:22", "bob"))).isEqualTo("ssh");
    assertThat(decidedBy(policy, north("http_2", "a.test:443", "svc-1"))).isEqualTo("robots");
    assertThat(decidedBy(policy, north("http_2", "a.test:443", "bob"))).isEqualTo("staff");
    assertThat(decidedBy(policy, north("http_2", "a.test:443", null))).isEqualTo("anonymous");
    assertThat(decidedBy(policy, north("http_2", "a.test:443", "carol"))).isEqualTo("named");
  }

  @Test
  void aRuleInSeveralOfTheHostsBucketsIsTriedOnce() {
    Policy policy = new Policy(policy(
        rule("twice", Action.BLOCK).hostSuffix("example.com", "b.example.com").user("eve"),
        rule("next", Action.BYPASS).hostSuffix("example.com")));
    assertThat(decidedBy(policy, north("http_2", "a.b.example.com:443", "bob"))).isEqualTo("next");
    assertThat(decidedBy(policy, north("http_2", "a.b.example.com:443", "eve"))).isEqualTo("twice");
  }
}
