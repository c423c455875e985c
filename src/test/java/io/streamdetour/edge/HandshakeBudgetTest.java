package io.streamdetour.edge;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Which datagrams count against quic.max-handshake-rate, and how many pass when. */
class HandshakeBudgetTest {

  private static final int V1 = 0x00000001;
  private static final int V2 = 0x6b3343cf;
  private static final InetAddress A = address(10, 0, 0, 1);
  private static final InetAddress B = address(10, 0, 0, 2);

  @Test
  void onlyDatagramsThatCouldStartAConnectionCount() {
    // QUIC v1 long headers: Initial (type 0) counts; 0-RTT, Handshake, Retry belong to a connection.
    assertThat(HandshakeBudget.startsConnection(0xC3, V1)).isTrue();
    assertThat(HandshakeBudget.startsConnection(0xC0, V1)).isTrue();
    assertThat(HandshakeBudget.startsConnection(0xD3, V1)).isFalse();
    assertThat(HandshakeBudget.startsConnection(0xE3, V1)).isFalse();
    assertThat(HandshakeBudget.startsConnection(0xF0, V1)).isFalse();
    // QUIC v2 (RFC 9369) numbers its types differently: Initial is 1, Retry 0.
    assertThat(HandshakeBudget.startsConnection(0xD3, V2)).isTrue();
    assertThat(HandshakeBudget.startsConnection(0xC3, V2)).isFalse();
    // A version the server does not speak is answered with version negotiation: a start too.
    assertThat(HandshakeBudget.startsConnection(0xC3, 0x1a2a3a4a)).isTrue();
    // Short headers are open connections' packets.
    assertThat(HandshakeBudget.startsConnection(0x43, V1)).isFalse();
    assertThat(HandshakeBudget.startsConnection(0x5f, 0)).isFalse();
  }

  @Test
  void aBurstOfOneSecondsWorthThenTheRate() {
    AtomicLong now = new AtomicLong(1_000_000_000L);
    HandshakeBudget budget = new HandshakeBudget(100, "test", now::get);
    // From many addresses, so that no one address's share is what runs out.
    assertThat(admitted(budget, 150, 50)).isEqualTo(100);
    assertThat(budget.dropped()).isEqualTo(50);
    // Every 10 ms, one more.
    now.addAndGet(10_000_000L);
    assertThat(admitted(budget, 5, 5)).isEqualTo(1);
    now.addAndGet(95_000_000L);
    assertThat(admitted(budget, 20, 20)).isEqualTo(9);
    // Idle for a minute: the burst again, not a minute's worth.
    now.addAndGet(60_000_000_000L);
    assertThat(admitted(budget, 1000, 100)).isEqualTo(100);
  }

  @Test
  void oneAddressGetsAQuarterAndTheOthersTheRest() {
    AtomicLong now = new AtomicLong();
    HandshakeBudget budget = new HandshakeBudget(100, "test", now::get);
    int fromA = 0;
    for (int i = 0; i < 1000; i++) {
      fromA += budget.admit(0xC3, V1, A) ? 1 : 0;
    }
    assertThat(fromA).isEqualTo(25);
    // B's handshakes still pass while A floods; A's quarter refills at 25 a second.
    assertThat(budget.admit(0xC3, V1, B)).isTrue();
    now.addAndGet(40_000_000L);
    assertThat(budget.admit(0xC3, V1, A)).isTrue();
    assertThat(budget.admit(0xC3, V1, A)).isFalse();
  }

  @Test
  void openConnectionsPacketsPassWhateverTheBudget() {
    AtomicLong now = new AtomicLong();
    HandshakeBudget budget = new HandshakeBudget(1, "test", now::get);
    assertThat(budget.admit(0xC3, V1, A)).isTrue();
    assertThat(budget.admit(0xC3, V1, B)).isFalse();
    for (int i = 0; i < 1000; i++) {
      assertThat(budget.admit(0x41, 0, A)).isTrue();
      assertThat(budget.admit(0xE1, V1, A)).isTrue();
    }
    assertThat(budget.dropped()).isEqualTo(1);
  }

  @Test
  void forgedAddressesAreToldApartUpToABoundAndForgottenOnceTheirShareIsFull() {
    AtomicLong now = new AtomicLong();
    HandshakeBudget budget = new HandshakeBudget(1_000_000, "test", now::get);
    for (int i = 0; i < 3 * HandshakeBudget.MAX_SOURCES; i++) {
      budget.admit(0xC3, V1, address(10, i >> 16, i >> 8, i));
    }
    assertThat(budget.trackedSources()).isEqualTo(HandshakeBudget.MAX_SOURCES);
    // Each share is full again 4 us on (250 000 a second each); sweeps come at most every 10 ms.
    now.addAndGet(1_000_000L);
    budget.admit(0xC3, V1, address(192, 0, 2, 1));
    assertThat(budget.trackedSources()).isEqualTo(HandshakeBudget.MAX_SOURCES);
    now.addAndGet(9_000_000L);
    assertThat(budget.admit(0xC3, V1, address(192, 0, 2, 1))).isTrue();
    assertThat(budget.trackedSources()).isEqualTo(1);
  }

  /** How many of {@code initials} pass, sent round-robin from {@code addresses} addresses. */
  private static int admitted(HandshakeBudget budget, int initials, int addresses) {
    int admitted = 0;
    for (int i = 0; i < initials; i++) {
      if (budget.admit(0xC3, V1, address(10, 1, 0, i % addresses))) {
        admitted++;
      }
    }
    return admitted;
  }

  private static InetAddress address(int a, int b, int c, int d) {
    try {
      return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }
}
