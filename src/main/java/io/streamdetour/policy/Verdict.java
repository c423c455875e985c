package io.streamdetour.policy;

import io.streamdetour.bus.Decision;

import java.util.Objects;

/** The policy's answer for one north stream: the decision g3proxy gets, and how to examine the session. */
public record Verdict(Decision decision, SessionOptions options) {

  public Verdict {
    Objects.requireNonNull(decision, "decision");
    Objects.requireNonNull(options, "options");
  }
}
