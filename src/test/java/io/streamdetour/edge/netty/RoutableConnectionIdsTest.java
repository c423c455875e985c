package io.streamdetour.edge.netty;

import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RoutableConnectionIdsTest {

  private static byte[] bytes(ByteBuffer id) {
    byte[] out = new byte[id.remaining()];
    id.duplicate().get(out);
    return out;
  }

  @Test
  void everyIdCarriesItsLengthTheServerIdAndTheSocketThenRandomOctets() {
    RoutableConnectionIds ids = new RoutableConnectionIds(200, 513);
    ByteBuffer input = ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
    Set<String> randomParts = new HashSet<>();
    for (ByteBuffer id : List.of(ids.newId(RoutableConnectionIds.LENGTH),
        ids.newId(input.duplicate(), RoutableConnectionIds.LENGTH),
        ids.newId(input.duplicate(), input.duplicate(), RoutableConnectionIds.LENGTH),
        ids.newId(20))) {
      byte[] b = bytes(id);
      assertThat(b[0] & 0xFF).as("QUIC-LB first octet: rotation 0, length of the rest").isEqualTo(b.length - 1);
      assertThat(b[1] & 0xFF).as("server id").isEqualTo(200);
      assertThat(RoutableConnectionIds.socketOf(Unpooled.wrappedBuffer(b))).isEqualTo(513);
      randomParts.add(java.util.HexFormat.of().formatHex(b, 4, b.length));
    }
    assertThat(randomParts).hasSize(4);
  }

  @Test
  void idsTooShortForTheLayoutAreRefused() {
    assertThatThrownBy(() -> new RoutableConnectionIds(1, 0).newId(4)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new RoutableConnectionIds(256, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThat(RoutableConnectionIds.socketOf(Unpooled.wrappedBuffer(new byte[3]))).isEqualTo(-1);
  }
}
