package io.streamdetour.policy;

import io.streamdetour.bus.Decision;
import io.streamdetour.codec.HeaderException;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.config.ServerConfig;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/** Ordered rules compiled once per configuration; first match wins, else the default. */
public final class Policy {

  private final List<CompiledRule> rules;
  private final Decision defaultDecision;

  public Policy(ServerConfig.Policy config) {
    this.rules = config.rules().stream().map(CompiledRule::new).toList();
    this.defaultDecision = new Decision(config.defaultAction(), "default");
  }

  public Decision decide(NorthHeader header) {
    String host = header.upstream().host().toLowerCase(Locale.ROOT);
    for (CompiledRule rule : rules) {
      if (rule.matches(header, host)) {
        return rule.decision;
      }
    }
    return defaultDecision;
  }

  private static final class CompiledRule {

    private final Decision decision;
    private final Set<String> protocols;
    private final Set<String> hosts;
    private final List<String> suffixes;
    private final Set<Integer> ports;
    private final Set<String> users;
    private final List<String> resources;

    CompiledRule(ServerConfig.Rule rule) {
      this.decision = new Decision(rule.action(), rule.name());
      this.protocols = Set.copyOf(rule.protocols());
      this.hosts = Set.copyOf(rule.hosts());
      this.suffixes = rule.hostSuffixes().stream().map(s -> s.startsWith(".") ? s.substring(1) : s).toList();
      this.ports = Set.copyOf(rule.ports());
      this.users = Set.copyOf(rule.users());
      this.resources = rule.webSocketResources();
    }

    boolean matches(NorthHeader header, String host) {
      return (protocols.isEmpty() || protocols.contains(header.protocol()))
          && (ports.isEmpty() || ports.contains(header.upstream().port()))
          && (users.isEmpty() || (header.username() != null && users.contains(header.username())))
          && (hosts.isEmpty() || hosts.contains(host))
          && (suffixes.isEmpty() || suffixes.stream().anyMatch(s -> host.equals(s) || host.endsWith("." + s)))
          && (resources.isEmpty() || resourceMatches(header));
    }

    /** A path prefix of the websocket upgrade's resource; a payload that does not parse never matches. */
    private boolean resourceMatches(NorthHeader header) {
      try {
        return header.webSocket()
            .map(upgrade -> resources.stream().anyMatch(upgrade.resource()::startsWith))
            .orElse(false);
      } catch (HeaderException e) {
        return false;
      }
    }
  }
}
