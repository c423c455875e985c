package io.streamdetour.policy;

import io.streamdetour.bus.Decision;
import io.streamdetour.config.ServerConfig;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/** One rule with its matchers compiled, cheapest first, and what the index needs to place it. */
final class CompiledRule {

  private static final String WEBSOCKET = "websocket";

  private final Decision decision;
  private final Matcher[] matchers;
  private final Set<String> protocols;
  private final boolean webSocketOnly;
  private final Placement placement;

  CompiledRule(ServerConfig.Rule rule, Map<String, List<String>> userGroups) {
    ServerConfig.Match match = rule.match();
    this.decision = new Decision(rule.action(), rule.name(), rule.options());
    Set<String> groupMembers = groupMembers(rule, userGroups);
    this.matchers = matchers(match, groupMembers).toArray(Matcher[]::new);
    this.protocols = Set.copyOf(match.protocols());
    // The ws-* matchers read the upgrade, which only websocket sessions carry.
    this.webSocketOnly = !match.webSocketResources().isEmpty() || !match.webSocketOrigins().isEmpty()
        || !match.webSocketHosts().isEmpty() || !match.webSocketSubprotocols().isEmpty();
    this.placement = Placement.of(match, groupMembers);
  }

  private static List<Matcher> matchers(ServerConfig.Match match, Set<String> groupMembers) {
    List<Matcher> matchers = new ArrayList<>();
    add(matchers, match.protocols(), Matchers::protocol);
    add(matchers, match.ports(), Matchers::port);
    if (match.userAbsent() != null) {
      matchers.add(Matchers.userAbsent(match.userAbsent()));
    }
    add(matchers, match.users(), Matchers::user);
    if (!match.userGroups().isEmpty()) {
      matchers.add(Matchers.user(groupMembers));
    }
    add(matchers, match.hosts(), Matchers::host);
    add(matchers, match.hostSuffixes(), Matchers::hostSuffix);
    add(matchers, match.clientCidrs(), Matchers::clientCidr);
    add(matchers, match.upstreamCidrs(), Matchers::upstreamCidr);
    add(matchers, match.userRegexes(), Matchers::userRegex);
    add(matchers, match.hostGlobs(), Matchers::hostGlob);
    add(matchers, match.hostRegexes(), Matchers::hostRegex);
    add(matchers, match.webSocketResources(), Matchers::webSocketResource);
    add(matchers, match.webSocketOrigins(), Matchers::webSocketOrigin);
    add(matchers, match.webSocketHosts(), Matchers::webSocketHost);
    add(matchers, match.webSocketSubprotocols(), Matchers::webSocketSubprotocol);
    return matchers;
  }

  /** A matcher left out (an empty list) matches anything, so it is not compiled at all. */
  private static <T> void add(List<Matcher> matchers, List<T> values, Function<List<T>, Matcher> compile) {
    if (!values.isEmpty()) {
      matchers.add(compile.apply(values));
    }
  }

  private static Set<String> groupMembers(ServerConfig.Rule rule, Map<String, List<String>> userGroups) {
    Set<String> members = new HashSet<>();
    for (String group : rule.match().userGroups()) {
      List<String> users = userGroups.get(group);
      if (users == null) {
        throw new IllegalArgumentException("rule '" + rule.name() + "' names user group '" + group
            + "', which the policy does not define");
      }
      members.addAll(users);
    }
    return members;
  }

  boolean matches(MatchInput input) {
    for (Matcher matcher : matchers) {
      if (!matcher.matches(input)) {
        return false;
      }
    }
    return true;
  }

  Decision decision() {
    return decision;
  }

  Placement placement() {
    return placement;
  }

  /** The protocols this rule names, explicitly or (through ws-* matchers) websocket. */
  Set<String> namedProtocols() {
    return webSocketOnly ? Set.of(WEBSOCKET) : protocols;
  }

  /** Whether a session of {@code protocol} could match; false for every protocol for some rules. */
  boolean admits(String protocol) {
    return (protocols.isEmpty() || protocols.contains(protocol)) && (!webSocketOnly || WEBSOCKET.equals(protocol));
  }

  /** Whether a session of a protocol that no rule names could match. */
  boolean admitsUnnamedProtocols() {
    return protocols.isEmpty() && !webSocketOnly;
  }
}
