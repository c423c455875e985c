package io.streamdetour.policy;

import io.streamdetour.config.ServerConfig;

import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Where a rule sits in the index: by the tightest constraint it has on the upstream host, else on
 * the username, else with the rules every session must be tried against. The constraint used is
 * necessary for a match, never sufficient: the rule's matchers are still all checked.
 */
record Placement(Kind kind, Set<String> keys) {

  enum Kind {
    /** Under each host named by {@code host}. */
    HOST,
    /** Under domain suffixes that every matching host ends with (host-suffix, host-glob). */
    HOST_SUFFIX,
    /** With the rules only an IP literal host can match (upstream-cidr). */
    IP_LITERAL,
    /** Under each username that can match: user, or the members of user-group (none: nowhere). */
    USER,
    /** With the rules only sessions without a username can match. */
    USER_ABSENT,
    /** With the rules only sessions with a username can match (user-regex, user-absent: false). */
    USER_PRESENT,
    /** With the rules any session may match. */
    EVERYWHERE
  }

  /** @param groupMembers the users of the groups {@code match} names under user-group */
  static Placement of(ServerConfig.Match match, Set<String> groupMembers) {
    if (!match.hosts().isEmpty()) {
      return new Placement(Kind.HOST, Set.copyOf(match.hosts()));
    }
    if (!match.hostSuffixes().isEmpty()) {
      return new Placement(Kind.HOST_SUFFIX, Set.copyOf(match.hostSuffixes()));
    }
    var globSuffixes = match.hostGlobs().stream().map(HostGlob::literalSuffix).toList();
    if (!globSuffixes.isEmpty() && globSuffixes.stream().allMatch(Optional::isPresent)) {
      return new Placement(Kind.HOST_SUFFIX, globSuffixes.stream().map(Optional::get).collect(Collectors.toSet()));
    }
    // A host name never matches upstream-cidr.
    if (!match.upstreamCidrs().isEmpty()) {
      return new Placement(Kind.IP_LITERAL, Set.of());
    }
    if (!match.users().isEmpty()) {
      return new Placement(Kind.USER, Set.copyOf(match.users()));
    }
    if (!match.userGroups().isEmpty()) {
      return new Placement(Kind.USER, Set.copyOf(groupMembers));
    }
    if (Boolean.TRUE.equals(match.userAbsent())) {
      return new Placement(Kind.USER_ABSENT, Set.of());
    }
    if (!match.userRegexes().isEmpty() || Boolean.FALSE.equals(match.userAbsent())) {
      return new Placement(Kind.USER_PRESENT, Set.of());
    }
    return new Placement(Kind.EVERYWHERE, Set.of());
  }
}
