package io.streamdetour.policy;

/** One matcher of a rule (one key under {@code match}), compiled. Implementations are immutable. */
@FunctionalInterface
interface Matcher {

  boolean matches(MatchInput input);
}
