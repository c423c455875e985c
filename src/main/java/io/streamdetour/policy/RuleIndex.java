package io.streamdetour.policy;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntPredicate;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The rules indexed by protocol, then by host or username, so that a decision looks only at rules
 * that could match. Candidates from the several lists a header selects are merged by position, so
 * they are tried in rule order and the first match is the one a scan of every rule would find.
 * Immutable.
 */
final class RuleIndex {

  private final CompiledRule[] rules;
  private final Map<String, PlacementIndex> byProtocol;
  private final PlacementIndex unnamedProtocols;

  RuleIndex(List<CompiledRule> rules) {
    this.rules = rules.toArray(CompiledRule[]::new);
    Set<String> named = rules.stream().flatMap(rule -> rule.namedProtocols().stream()).collect(Collectors.toSet());
    Map<String, PlacementIndex> byProtocol = new HashMap<>();
    for (String protocol : named) {
      byProtocol.put(protocol, placementIndex(position -> this.rules[position].admits(protocol)));
    }
    this.byProtocol = Map.copyOf(byProtocol);
    this.unnamedProtocols = placementIndex(position -> this.rules[position].admitsUnnamedProtocols());
  }

  private PlacementIndex placementIndex(IntPredicate admits) {
    return new PlacementIndex(rules, IntStream.range(0, rules.length).filter(admits).toArray());
  }

  /** The first rule in order that matches, or null. */
  CompiledRule firstMatch(MatchInput input) {
    List<int[]> lists = byProtocol.getOrDefault(input.protocol(), unnamedProtocols).candidates(input);
    int[] next = new int[lists.size()];
    while (true) {
      int position = Integer.MAX_VALUE;
      for (int i = 0; i < next.length; i++) {
        int[] list = lists.get(i);
        if (next[i] < list.length && list[next[i]] < position) {
          position = list[next[i]];
        }
      }
      if (position == Integer.MAX_VALUE) {
        return null;
      }
      CompiledRule rule = rules[position];
      if (rule.matches(input)) {
        return rule;
      }
      // A rule under several of the host's suffixes heads more than one list: step past it in each.
      for (int i = 0; i < next.length; i++) {
        int[] list = lists.get(i);
        if (next[i] < list.length && list[next[i]] == position) {
          next[i]++;
        }
      }
    }
  }
}
