package io.streamdetour.policy;

import io.streamdetour.bus.Decision;
import io.streamdetour.codec.Action;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.ProxyAddresses;
import io.streamdetour.config.ServerConfig;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The indexed policy against a scan of every rule in order, over random rules and headers drawn
 * from one small vocabulary (so that rules overlap and most headers match something). Same seed
 * every run: a failure reproduces.
 */
class PolicyIndexPropertyTest {

  private static final long SEED = 0x5EED_2025L;
  private static final Map<String, List<String>> GROUPS = Map.of("staff", List.of("alice", "bob"), "robots",
      List.of("svc-1"));

  private static final String[] LABELS = {"a", "b", "cdn", "img", "example", "test", "com", "net", "x1"};
  private static final String[] PROTOCOLS = {"http_2", "websocket", "smtp", "imap", "other_proto"};
  private static final String[] USERS = {"alice", "bob", "carol", "svc-1", "svc-2"};
  private static final String[] IPS = {"10.1.2.3", "10.200.0.1", "192.0.2.10", "192.0.2.200", "198.51.100.7",
      "2001:db8::1", "2001:db8:ff::2", "2001:db9::3", "::ffff:10.9.9.9"};
  private static final String[] CIDRS = {"10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24", "192.0.2.128/25",
      "2001:db8::/32", "2001:db8:ff::/48", "0.0.0.0/0", "::/0"};
  private static final String[] RESOURCES = {"/chat", "/admin/users", "/", "/chat/room"};
  private static final String[] ORIGINS = {"https://example.com", "https://a.test", "http://evil.net"};
  private static final String[] SUBPROTOCOLS = {"chat", "superchat", "mqtt"};

  @Test
  void theIndexDecidesExactlyAsAScanOfEveryRule() {
    Random random = new Random(SEED);
    int defaults = 0;
    for (int round = 0; round < 5; round++) {
      List<RuleBuilder> builders = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        builders.add(randomRule(random, "r" + i));
      }
      ServerConfig.Policy config = RuleBuilder.policy(Action.BLOCK, GROUPS, builders.toArray(RuleBuilder[]::new));
      Policy indexed = new Policy(config);
      List<CompiledRule> scanned = config.rules().stream().map(rule -> new CompiledRule(rule, GROUPS)).toList();
      Set<String> decidedBy = new HashSet<>();
      for (int i = 0; i < 2000; i++) {
        NorthHeader header = randomHeader(random);
        Decision expected = scan(scanned, header);
        assertThat(indexed.decide(header)).as("round %d, %s", round, header).isEqualTo(expected);
        decidedBy.add(expected.rule());
      }
      // The comparison means something only if many different rules decide (and sometimes none).
      assertThat(decidedBy).hasSizeGreaterThan(40);
      defaults += decidedBy.contains("default") ? 1 : 0;
    }
    assertThat(defaults).isPositive();
  }

  /** Every rule in order, each with a fresh view of the header: no index, no shared state. */
  private static Decision scan(List<CompiledRule> rules, NorthHeader header) {
    return rules.stream().filter(rule -> rule.matches(new MatchInput(header)))
        .map(CompiledRule::decision)
        .findFirst()
        .orElse(new Decision(Action.BLOCK, "default"));
  }

  private static RuleBuilder randomRule(Random random, String name) {
    Action action = Action.values()[random.nextInt(3)];
    RuleBuilder rule = RuleBuilder.rule(name, action);
    if (action == Action.CONTINUE && random.nextInt(4) == 0) {
      rule.options(List.of("inspector-" + random.nextInt(3)), random.nextBoolean(), random.nextInt(1 << 20));
    }
    List<Consumer<RuleBuilder>> hostMatchers = List.of(
        r -> r.host(hosts(random)),
        r -> r.hostSuffix(suffixes(random)),
        r -> r.hostGlob(globs(random)),
        r -> r.hostRegex(random.nextBoolean() ? "[a-z]+\\.example\\.com" : "x1\\..*"),
        r -> r.upstreamCidr(pick(random, CIDRS, 1 + random.nextInt(2))));
    List<Consumer<RuleBuilder>> otherMatchers = List.of(
        r -> r.protocol(pick(random, PROTOCOLS, 1 + random.nextInt(2))),
        r -> r.port(random.nextBoolean() ? "443" : "8000-8999", String.valueOf(random.nextInt(3) == 0 ? 25 : 993)),
        r -> r.clientCidr(pick(random, CIDRS, 1 + random.nextInt(2))),
        r -> r.user(pick(random, USERS, 1 + random.nextInt(2))),
        r -> r.userRegex(random.nextBoolean() ? "svc-\\d" : "[ab].*"),
        r -> r.userGroup(random.nextBoolean() ? "staff" : "robots"),
        r -> r.userAbsent(random.nextBoolean()),
        r -> r.wsResource(pick(random, RESOURCES, 1)),
        r -> r.wsOrigin(pick(random, ORIGINS, 1)),
        r -> r.wsHost(random.nextBoolean() ? "example.com" : "a.test"),
        r -> r.wsSubprotocol(pick(random, SUBPROTOCOLS, 1)));
    // Mostly narrow rules, as real policies have, so that later rules get their turn; a few broad ones.
    if (random.nextInt(10) != 0) {
      hostMatchers.get(random.nextInt(hostMatchers.size())).accept(rule);
    }
    int others = random.nextInt(100) == 0 ? 0 : 1 + random.nextInt(2);
    for (int i = 0; i < others; i++) {
      otherMatchers.get(random.nextInt(otherMatchers.size())).accept(rule);
    }
    return rule;
  }

  private static NorthHeader randomHeader(Random random) {
    String protocol = PROTOCOLS[random.nextInt(PROTOCOLS.length)];
    String host = random.nextInt(4) == 0 ? IPS[random.nextInt(IPS.length)] : hostName(random);
    String upstream = (host.contains(":") ? "[" + host + "]" : host) + ":" + randomPort(random);
    String user = random.nextInt(3) == 0 ? null : USERS[random.nextInt(USERS.length)];
    ProxyAddresses addresses = random.nextInt(3) == 0
        ? ProxyAddresses.NONE
        : Headers.addresses(IPS[random.nextInt(IPS.length)]);
    String payload = protocol.equals("websocket") ? webSocketPayload(random) : "";
    return Headers.north(protocol, upstream, user, addresses, payload);
  }

  private static String webSocketPayload(Random random) {
    if (random.nextInt(10) == 0) {
      return "/chat\r\nbroken header line\r\n";
    }
    StringBuilder payload = new StringBuilder(RESOURCES[random.nextInt(RESOURCES.length)]).append("\r\n")
        .append("host: ").append(random.nextBoolean() ? "Example.com" : "a.test").append("\r\n")
        .append("origin: ").append(ORIGINS[random.nextInt(ORIGINS.length)]).append("\r\n")
        .append("sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n");
    if (random.nextBoolean()) {
      payload.append("sec-websocket-protocol: ").append(String.join(", ", pick(random, SUBPROTOCOLS, 2)))
          .append("\r\n");
    }
    return payload.toString();
  }

  private static int randomPort(Random random) {
    int[] ports = {25, 443, 993, 8000, 8443, 8999, 9000};
    return ports[random.nextInt(ports.length)];
  }

  private static String hostName(Random random) {
    int labels = 1 + random.nextInt(4);
    StringBuilder host = new StringBuilder();
    for (int i = 0; i < labels; i++) {
      host.append(i == 0 ? "" : ".").append(LABELS[random.nextInt(LABELS.length)]);
    }
    return random.nextInt(10) == 0 ? host.toString().toUpperCase() : host.toString();
  }

  private static String[] hosts(Random random) {
    return new String[] {hostName(random), hostName(random)};
  }

  private static String[] suffixes(Random random) {
    return random.nextBoolean() ? new String[] {hostName(random)} : new String[] {"com", "example.com"};
  }

  private static String[] globs(Random random) {
    String[] globs = {"*.cdn.example.com", "**.com", "img*.example.*", "*.*", "**", "a.**.net", "x1.*.test"};
    return pick(random, globs, 1 + random.nextInt(2));
  }

  private static String[] pick(Random random, String[] values, int count) {
    String[] picked = new String[count];
    for (int i = 0; i < count; i++) {
      picked[i] = values[random.nextInt(values.length)];
    }
    return picked;
  }
}
