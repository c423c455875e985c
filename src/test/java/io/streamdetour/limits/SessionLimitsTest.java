package io.streamdetour.limits;

import io.streamdetour.codec.Action;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.ProxyAddresses;
import io.streamdetour.codec.Upstream;
import io.streamdetour.config.ServerConfig;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import static org.assertj.core.api.Assertions.assertThat;

/** The caps of {@code limits} on one node's own counter (a clustered node counts in Hazelcast, ClusterLimitsTest). */
class SessionLimitsTest {

  private static final Duration WAIT = Duration.ofSeconds(1);
  private static final ServerConfig.Limits CAPS = new ServerConfig.Limits(2, 3, Action.BYPASS);

  private static NorthHeader header(String user, String upstream) {
    return new NorthHeader(ProxyAddresses.NONE, Upstream.parse(upstream), user, UUID.randomUUID(), "http_2", 0, null,
        0, new byte[0]);
  }

  @Test
  void aUserGetsItsCapAndItsCountsBackWhenSessionsEnd() {
    SessionLimits limits = new SessionLimits(LimitCounter.local());
    SessionLimits.Admission first = limits.admit(header("alice", "a.example:443"), CAPS, WAIT, Action.CONTINUE);
    SessionLimits.Admission second = limits.admit(header("alice", "b.example:443"), CAPS, WAIT, Action.CONTINUE);
    SessionLimits.Admission third = limits.admit(header("alice", "c.example:443"), CAPS, WAIT, Action.CONTINUE);
    assertThat(first.admitted()).isTrue();
    assertThat(second.admitted()).isTrue();
    assertThat(third.refusedBy()).isEqualTo("per-user");
    assertThat(third.action()).isEqualTo(Action.BYPASS);
    first.release().run();
    first.release().run(); // once only
    assertThat(limits.admit(header("alice", "d.example:443"), CAPS, WAIT, Action.CONTINUE).admitted()).isTrue();
    assertThat(limits.admit(header("alice", "e.example:443"), CAPS, WAIT, Action.CONTINUE).admitted()).isFalse();
  }

  @Test
  void anUpstreamOverItsCapGivesTheUsersCountBack() {
    SessionLimits limits = new SessionLimits(LimitCounter.local());
    for (String user : new String[] {"u1", "u2", "u3"}) {
      assertThat(limits.admit(header(user, "busy.example:443"), CAPS, WAIT, Action.CONTINUE).admitted()).isTrue();
    }
    // Upstreams compare case-insensitively; sessions without a username count per upstream only.
    assertThat(limits.admit(header("bob", "BUSY.example:443"), CAPS, WAIT, Action.CONTINUE).refusedBy())
        .isEqualTo("per-upstream");
    assertThat(limits.admit(header(null, "busy.example:443"), CAPS, WAIT, Action.CONTINUE).refusedBy())
        .isEqualTo("per-upstream");
    // bob's refused session took nothing of his cap.
    assertThat(limits.admit(header("bob", "x.example:443"), CAPS, WAIT, Action.CONTINUE).admitted()).isTrue();
    assertThat(limits.admit(header("bob", "y.example:443"), CAPS, WAIT, Action.CONTINUE).admitted()).isTrue();
  }

  @Test
  void withoutCapsNothingIsCounted() {
    SessionLimits limits = new SessionLimits(stalled());
    SessionLimits.Admission admission = limits.admit(header("alice", "a.example:443"),
        new ServerConfig.Limits(0, 0, Action.BLOCK), WAIT, Action.BLOCK);
    assertThat(admission.admitted()).isTrue();
  }

  @Test
  void aCounterThatDoesNotAnswerLeavesItToTheDecisionFallback() {
    SessionLimits limits = new SessionLimits(stalled());
    Duration shortWait = Duration.ofMillis(50);
    assertThat(limits.admit(header("alice", "a.example:443"), CAPS, shortWait, Action.CONTINUE).admitted()).isTrue();
    SessionLimits.Admission closed = limits.admit(header("alice", "a.example:443"), CAPS, shortWait, Action.BLOCK);
    assertThat(closed.admitted()).isFalse();
    assertThat(closed.action()).isEqualTo(Action.BLOCK);
  }

  /** A counter whose answers never come, as when the cluster cannot be reached. */
  private static LimitCounter stalled() {
    return new LimitCounter() {
      @Override
      public CompletionStage<Boolean> tryAcquire(String key, int cap) {
        return new CompletableFuture<>();
      }

      @Override
      public void release(String key) {
        // nothing was counted
      }
    };
  }
}
