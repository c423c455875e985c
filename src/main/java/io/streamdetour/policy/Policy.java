package io.streamdetour.policy;

import io.streamdetour.bus.Decision;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.config.ServerConfig;

import java.util.List;

/**
 * Ordered rules compiled once per configuration into an index; first match wins, else the
 * default. Immutable, so one instance serves every policy worker at once.
 */
public final class Policy {

  private final RuleIndex index;
  private final Decision defaultDecision;

  /** @throws IllegalArgumentException when a rule names a user group the policy does not define */
  public Policy(ServerConfig.Policy config) {
    List<CompiledRule> rules = config.rules().stream()
        .map(rule -> new CompiledRule(rule, config.userGroups()))
        .toList();
    this.index = new RuleIndex(rules);
    this.defaultDecision = new Decision(config.defaultAction(), "default");
  }

  public Decision decide(NorthHeader header) {
    CompiledRule rule = index.firstMatch(new MatchInput(header));
    return rule == null ? defaultDecision : rule.decision();
  }
}
