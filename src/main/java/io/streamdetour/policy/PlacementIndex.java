package io.streamdetour.policy;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Rule positions by {@link Placement}: under a host, a domain suffix or a username, and in lists
 * for IP literal hosts, for sessions without a username and for sessions with one (each holding
 * the rules for every session too, so fewer lists need merging). Every list is in rule order.
 * Immutable.
 */
final class PlacementIndex {

  private final Map<String, int[]> byHost;
  private final Map<String, int[]> byHostSuffix;
  private final Map<String, int[]> byUser;
  private final int[] ipLiteral;
  private final int[] withoutUser;
  private final int[] withUser;

  /** Indexes {@code positions} (ascending) of {@code rules}. */
  PlacementIndex(CompiledRule[] rules, int[] positions) {
    Map<Placement.Kind, Map<String, List<Integer>>> keyed = new EnumMap<>(Placement.Kind.class);
    List<Integer> ipLiteral = new ArrayList<>();
    List<Integer> withoutUser = new ArrayList<>();
    List<Integer> withUser = new ArrayList<>();
    for (int position : positions) {
      Placement placement = rules[position].placement();
      switch (placement.kind()) {
        case IP_LITERAL -> ipLiteral.add(position);
        case USER_ABSENT -> withoutUser.add(position);
        case USER_PRESENT -> withUser.add(position);
        case EVERYWHERE -> {
          withoutUser.add(position);
          withUser.add(position);
        }
        case HOST, HOST_SUFFIX, USER -> placement.keys().forEach(key -> keyed
            .computeIfAbsent(placement.kind(), kind -> new HashMap<>())
            .computeIfAbsent(key, k -> new ArrayList<>())
            .add(position));
      }
    }
    this.byHost = toArrays(keyed.get(Placement.Kind.HOST));
    this.byHostSuffix = toArrays(keyed.get(Placement.Kind.HOST_SUFFIX));
    this.byUser = toArrays(keyed.get(Placement.Kind.USER));
    this.ipLiteral = toArray(ipLiteral);
    this.withoutUser = toArray(withoutUser);
    this.withUser = toArray(withUser);
  }

  /**
   * The position lists that may hold a rule matching {@code input}: its host's, one per domain
   * suffix of the host (com, example.com, a.example.com for a.example.com), the IP literal rules
   * when the host is one, its username's, and the rules for sessions with or without a username.
   */
  List<int[]> candidates(MatchInput input) {
    List<int[]> lists = new ArrayList<>(8);
    String host = input.host();
    add(lists, byHost.get(host));
    if (!byHostSuffix.isEmpty()) {
      int end = host.length();
      int dot;
      do {
        dot = host.lastIndexOf('.', end - 1);
        add(lists, byHostSuffix.get(host.substring(dot + 1)));
        end = dot;
      } while (dot >= 0);
    }
    if (ipLiteral.length > 0 && input.hostAddress() != null) {
      add(lists, ipLiteral);
    }
    if (input.user() == null) {
      add(lists, withoutUser);
    } else {
      add(lists, byUser.get(input.user()));
      add(lists, withUser);
    }
    return lists;
  }

  private static void add(List<int[]> lists, int[] positions) {
    if (positions != null && positions.length > 0) {
      lists.add(positions);
    }
  }

  private static Map<String, int[]> toArrays(Map<String, List<Integer>> lists) {
    if (lists == null) {
      return Map.of();
    }
    Map<String, int[]> arrays = new HashMap<>();
    lists.forEach((key, positions) -> arrays.put(key, toArray(positions)));
    return Map.copyOf(arrays);
  }

  private static int[] toArray(List<Integer> positions) {
    return positions.stream().mapToInt(Integer::intValue).toArray();
  }
}
