package io.streamdetour.pairing;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.PairingKey;
import io.streamdetour.bus.PairingRequest;
import io.streamdetour.bus.PairingRequest.Half;
import io.streamdetour.bus.PairingResult;
import io.streamdetour.bus.PairingResult.Outcome;
import io.streamdetour.bus.RecordCodec;
import io.streamdetour.cluster.Membership;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The pairing service on a real event bus. */
class PairingVerticleTest {

  /** Long enough that a loaded machine pairs the halves the tests expect to pair, in time. */
  private static final Duration TIMEOUT = Duration.ofSeconds(2);
  private static final String NODE = "n1";

  private Vertx vertx;
  private PairingVerticle pairing;

  @BeforeEach
  void deploy() throws Exception {
    vertx = Vertx.vertx();
    RecordCodec.registerAll(vertx);
    pairing = new PairingVerticle(TIMEOUT, Membership.single(NODE), PairingDirectory.local());
    vertx.deployVerticle(pairing).await(5, TimeUnit.SECONDS);
  }

  @AfterEach
  void close() throws Exception {
    vertx.close().await(5, TimeUnit.SECONDS);
  }

  private Future<PairingResult> join(String connection, int matchId, Half half) {
    return vertx.eventBus().<PairingResult>request(Addresses.PAIR,
        new PairingRequest(new PairingKey(connection, matchId), half, NODE)).map(Message::body);
  }

  private static PairingResult await(Future<PairingResult> f) throws Exception {
    return f.await(5, TimeUnit.SECONDS);
  }

  private int waiting() throws Exception {
    return vertx.executeBlocking(() -> pairing.waitingCount()).await(5, TimeUnit.SECONDS);
  }

  @Test
  void northThenSouthArePairedAndForgotten() throws Exception {
    Future<PairingResult> north = join("n1-1", 0, Half.NORTH);
    Future<PairingResult> south = join("n1-1", 0, Half.SOUTH);
    assertThat(await(north).outcome()).isEqualTo(Outcome.PAIRED);
    assertThat(await(south).outcome()).isEqualTo(Outcome.PAIRED);
    assertThat(waiting()).isZero();
  }

  @Test
  void southBeforeNorthIsPairedToo() throws Exception {
    Future<PairingResult> south = join("n1-1", 5, Half.SOUTH);
    Future<PairingResult> north = join("n1-1", 5, Half.NORTH);
    assertThat(await(south).outcome()).isEqualTo(Outcome.PAIRED);
    assertThat(await(north).outcome()).isEqualTo(Outcome.PAIRED);
  }

  @Test
  void theSameMatchIdOnAnotherConnectionIsAnotherSession() throws Exception {
    Future<PairingResult> northA = join("n1-1", 0, Half.NORTH);
    Future<PairingResult> northB = join("n1-2", 0, Half.NORTH);
    Future<PairingResult> southB = join("n1-2", 0, Half.SOUTH);
    assertThat(await(southB).outcome()).isEqualTo(Outcome.PAIRED);
    assertThat(await(northB).outcome()).isEqualTo(Outcome.PAIRED);
    assertThat(northA.isComplete()).isFalse();
    assertThat(await(northA).outcome()).isEqualTo(Outcome.TIMED_OUT);
  }

  @Test
  void aHalfWithoutPartnerTimesOutAndLeavesNothingBehind() throws Exception {
    long start = System.nanoTime();
    PairingResult result = await(join("n1-1", 65535, Half.NORTH));
    assertThat(result.outcome()).isEqualTo(Outcome.TIMED_OUT);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(TIMEOUT.minusMillis(50));
    assertThat(waiting()).isZero();
  }

  @Test
  void aDuplicateHalfIsRefusedAndTheFirstStillPairs() throws Exception {
    Future<PairingResult> first = join("n1-1", 9, Half.NORTH);
    assertThat(await(join("n1-1", 9, Half.NORTH)).outcome()).isEqualTo(Outcome.DUPLICATE);
    assertThat(await(join("n1-1", 9, Half.SOUTH)).outcome()).isEqualTo(Outcome.PAIRED);
    assertThat(await(first).outcome()).isEqualTo(Outcome.PAIRED);
  }

  @Test
  void cancellingOnlyTouchesTheSameHalf() throws Exception {
    Future<PairingResult> north = join("n1-1", 3, Half.NORTH);
    vertx.eventBus().send(Addresses.PAIR_CANCEL, new PairingRequest(new PairingKey("n1-1", 3), Half.SOUTH, NODE));
    vertx.eventBus().send(Addresses.PAIR_CANCEL, new PairingRequest(new PairingKey("n1-1", 3), Half.NORTH, NODE));
    assertThat(await(north).outcome()).isEqualTo(Outcome.CANCELLED);
    assertThat(waiting()).isZero();
  }

  @Test
  void matchIdsWrapWithoutConfusion() throws Exception {
    for (int count = 65530; count < 65546; count++) {
      int matchId = count & 0xFFFF;
      Future<PairingResult> north = join("n1-7", matchId, Half.NORTH);
      assertThat(await(join("n1-7", matchId, Half.SOUTH)).outcome()).isEqualTo(Outcome.PAIRED);
      assertThat(await(north).outcome()).isEqualTo(Outcome.PAIRED);
    }
    assertThat(waiting()).isZero();
  }
}
