package io.streamdetour.policy;

import io.streamdetour.codec.Action;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.ProxyAddresses;
import org.junit.jupiter.api.Test;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;

import static io.streamdetour.policy.Headers.G3_WEBSOCKET_PAYLOAD;
import static io.streamdetour.policy.Headers.fromClient;
import static io.streamdetour.policy.Headers.north;
import static io.streamdetour.policy.Headers.websocket;
import static io.streamdetour.policy.RuleBuilder.policy;
import static io.streamdetour.policy.RuleBuilder.rule;
import static org.assertj.core.api.Assertions.assertThat;

/** Each matcher on its own: what it matches and what it does not. */
class PolicyMatchersTest {

  private static boolean matches(RuleBuilder rule, NorthHeader header) {
    return new Policy(policy(rule)).decide(header).rule().equals("r");
  }

  private static RuleBuilder r() {
    return rule("r", Action.BLOCK);
  }

  private static NorthHeader to(String upstream) {
    return north("http_2", upstream, null);
  }

  @Test
  void protocol() {
    assertThat(matches(r().protocol("smtp", "imap"), north("imap", "a.test:993", null))).isTrue();
    assertThat(matches(r().protocol("smtp", "imap"), north("http_2", "a.test:993", null))).isFalse();
  }

  @Test
  void hostIsExactAndCaseInsensitive() {
    assertThat(matches(r().host("Evil.Test"), to("EVIL.test:443"))).isTrue();
    assertThat(matches(r().host("evil.test"), to("evil.test.:443"))).isTrue();
    assertThat(matches(r().host("evil.test"), to("a.evil.test:443"))).isFalse();
    assertThat(matches(r().host("evil.test"), to("evil.test.com:443"))).isFalse();
  }

  @Test
  void hostSuffixIsADomainAndItsSubdomains() {
    RuleBuilder suffix = r().hostSuffix("example.com");
    assertThat(matches(suffix, to("example.com:443"))).isTrue();
    assertThat(matches(suffix, to("a.b.Example.com:443"))).isTrue();
    assertThat(matches(suffix, to("badexample.com:443"))).isFalse();
    assertThat(matches(suffix, to("example.com.evil:443"))).isFalse();
    assertThat(matches(r().hostSuffix(".example.com"), to("example.com:443"))).isTrue();
  }

  @Test
  void hostGlobStarStaysWithinALabel() {
    RuleBuilder glob = r().hostGlob("*.cdn.example.com");
    assertThat(matches(glob, to("img.cdn.example.com:443"))).isTrue();
    assertThat(matches(glob, to("IMG.CDN.example.com:443"))).isTrue();
    assertThat(matches(glob, to("a.img.cdn.example.com:443"))).isFalse();
    assertThat(matches(glob, to("cdn.example.com:443"))).isFalse();
    assertThat(matches(glob, to("img.cdnxexample.com:443"))).isFalse();
    assertThat(matches(r().hostGlob("img*.example.com"), to("img42.example.com:443"))).isTrue();
    assertThat(matches(r().hostGlob("img*.example.com"), to("video.example.com:443"))).isFalse();
  }

  @Test
  void hostGlobDoubleStarCrossesLabels() {
    RuleBuilder glob = r().hostGlob("**.example.com");
    assertThat(matches(glob, to("a.b.c.example.com:443"))).isTrue();
    assertThat(matches(glob, to("example.com:443"))).isFalse();
    assertThat(matches(r().hostGlob("api.**"), to("api.eu.example.net:443"))).isTrue();
    assertThat(matches(r().hostGlob("api.**"), to("www.api.example.net:443"))).isFalse();
    assertThat(matches(r().hostGlob("**"), to("anything.test:443"))).isTrue();
  }

  @Test
  void hostRegexMustMatchTheWholeHostInAnyCase() {
    RuleBuilder regex = r().hostRegex("[a-z]+\\d+\\.example\\.com");
    assertThat(matches(regex, to("Node12.example.com:443"))).isTrue();
    assertThat(matches(regex, to("node12.example.com.evil:443"))).isFalse();
    assertThat(matches(regex, to("x.node12.example.com:443"))).isFalse();
  }

  @Test
  void portNumbersAndRanges() {
    RuleBuilder ports = r().port("443", "8000-8999");
    assertThat(matches(ports, to("a.test:443"))).isTrue();
    assertThat(matches(ports, to("a.test:8000"))).isTrue();
    assertThat(matches(ports, to("a.test:8999"))).isTrue();
    assertThat(matches(ports, to("a.test:9000"))).isFalse();
    assertThat(matches(ports, to("a.test:444"))).isFalse();
  }

  @Test
  void upstreamCidrMatchesIpLiteralsOnly() {
    RuleBuilder cidr = r().upstreamCidr("10.0.0.0/8", "2001:db8::/32", "192.0.2.128/25");
    assertThat(matches(cidr, to("10.200.3.4:443"))).isTrue();
    assertThat(matches(cidr, to("11.0.0.1:443"))).isFalse();
    assertThat(matches(cidr, to("[2001:db8:1::5]:443"))).isTrue();
    assertThat(matches(cidr, to("[2001:db9::5]:443"))).isFalse();
    assertThat(matches(cidr, to("192.0.2.200:443"))).isTrue();
    assertThat(matches(cidr, to("192.0.2.127:443"))).isFalse();
    assertThat(matches(cidr, to("[::ffff:10.1.2.3]:443"))).isTrue();
    // A name that looks like an address is still a name.
    assertThat(matches(cidr, to("10.0.0.1.example.com:443"))).isFalse();
    assertThat(matches(r().upstreamCidr("0.0.0.0/0"), to("localhost:443"))).isFalse();
  }

  @Test
  void clientCidrMatchesTheProxyHeaderSource() throws Exception {
    RuleBuilder cidr = r().clientCidr("192.0.2.0/24", "2001:db8::/32");
    assertThat(matches(cidr, fromClient("192.0.2.17", "a.test:443"))).isTrue();
    assertThat(matches(cidr, fromClient("198.51.100.17", "a.test:443"))).isFalse();
    assertThat(matches(cidr, fromClient("2001:db8::17", "a.test:443"))).isTrue();
    assertThat(matches(cidr, north("http_2", "a.test:443", null))).isFalse();
    // The decoder keeps an IPv4-mapped source in the IPv6 family; an IPv4 block still matches it.
    byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xFF, (byte) 0xFF, (byte) 192, 0, 2, 9};
    ProxyAddresses v6 = new ProxyAddresses(ProxyAddresses.Family.INET6,
        new InetSocketAddress(Inet6Address.getByAddress(null, mapped, -1), 50000),
        new InetSocketAddress(InetAddress.getByName("::1"), 3128));
    assertThat(matches(cidr, north("http_2", "a.test:443", null, v6, ""))).isTrue();
  }

  @Test
  void userExactAndRegex() {
    assertThat(matches(r().user("bob"), north("http_2", "a.test:443", "bob"))).isTrue();
    assertThat(matches(r().user("bob"), north("http_2", "a.test:443", "Bob"))).isFalse();
    assertThat(matches(r().user("bob"), north("http_2", "a.test:443", null))).isFalse();
    assertThat(matches(r().userRegex("svc-.*"), north("http_2", "a.test:443", "svc-backup"))).isTrue();
    assertThat(matches(r().userRegex("svc-.*"), north("http_2", "a.test:443", "x-svc-backup"))).isFalse();
    assertThat(matches(r().userRegex(".*"), north("http_2", "a.test:443", null))).isFalse();
  }

  @Test
  void userGroup() {
    Policy groups = new Policy(policy(Action.CONTINUE, Map.of("staff", List.of("alice")),
        r().userGroup("staff")));
    assertThat(groups.decide(north("http_2", "a.test:443", "alice")).rule()).isEqualTo("r");
    assertThat(groups.decide(north("http_2", "a.test:443", "mallory")).rule()).isEqualTo("default");
  }

  @Test
  void userAbsent() {
    assertThat(matches(r().userAbsent(true), north("http_2", "a.test:443", null))).isTrue();
    assertThat(matches(r().userAbsent(true), north("http_2", "a.test:443", "bob"))).isFalse();
    assertThat(matches(r().userAbsent(false), north("http_2", "a.test:443", "bob"))).isTrue();
    assertThat(matches(r().userAbsent(false), north("http_2", "a.test:443", null))).isFalse();
  }

  @Test
  void webSocketMatchersReadG3proxysUpgradeLines() {
    NorthHeader g3 = websocket("example.com:443", G3_WEBSOCKET_PAYLOAD);
    assertThat(matches(r().wsResource("/ch"), g3)).isTrue();
    assertThat(matches(r().wsResource("/admin"), g3)).isFalse();
    assertThat(matches(r().wsOrigin("HTTPS://Example.com"), g3)).isTrue();
    assertThat(matches(r().wsOrigin("https://example.com:8443"), g3)).isFalse();
    assertThat(matches(r().wsHost("Example.COM"), g3)).isTrue();
    assertThat(matches(r().wsHost("other.com"), g3)).isFalse();
    assertThat(matches(r().wsSubprotocol("chat"), g3)).isFalse();
  }

  @Test
  void webSocketSubprotocolIsAnyOfTheListedValues() {
    NorthHeader withProtocols = websocket("example.com:443",
        G3_WEBSOCKET_PAYLOAD + "sec-websocket-protocol: chat, Superchat\r\n");
    assertThat(matches(r().wsSubprotocol("superchat"), withProtocols)).isTrue();
    assertThat(matches(r().wsSubprotocol("chat"), withProtocols)).isTrue();
    assertThat(matches(r().wsSubprotocol("mqtt"), withProtocols)).isFalse();
    assertThat(matches(r().wsSubprotocol("chat, superchat"), withProtocols)).isFalse();
  }

  @Test
  void webSocketMatchersNeverMatchAnUnparsablePayloadOrAnotherProtocol() {
    NorthHeader broken = websocket("example.com:443", "/chat\r\norigin is missing its colon\r\n");
    assertThat(matches(r().wsResource("/"), broken)).isFalse();
    assertThat(matches(r().wsOrigin("https://example.com"), broken)).isFalse();
    assertThat(matches(r().wsResource("/"), north("http_2", "example.com:443", null))).isFalse();
  }

  @Test
  void allMatchersOfARuleMustMatch() {
    RuleBuilder both = r().hostSuffix("example.com").port("443").user("bob");
    assertThat(matches(both, north("http_2", "a.example.com:443", "bob"))).isTrue();
    assertThat(matches(both, north("http_2", "a.example.com:80", "bob"))).isFalse();
    assertThat(matches(both, north("http_2", "a.example.com:443", "eve"))).isFalse();
    assertThat(matches(both, north("http_2", "a.example.org:443", "bob"))).isFalse();
  }
}
