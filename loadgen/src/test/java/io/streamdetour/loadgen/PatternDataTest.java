package io.streamdetour.loadgen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PatternDataTest {

  private static final int LENGTH = 10_000;

  @Test
  void anyChunkingWritesTheSameBytes() {
    PatternData data = PatternData.of(7, 3, true);
    ByteBuf whole = Unpooled.buffer(LENGTH);
    data.write(0, LENGTH, whole);
    ByteBuf pieces = Unpooled.buffer(LENGTH);
    Random random = new Random(1);
    for (int offset = 0; offset < LENGTH; ) {
      int length = Math.min(LENGTH - offset, 1 + random.nextInt(37));
      data.write(offset, length, pieces);
      offset += length;
    }
    assertEquals(whole, pieces);
    for (int i = 0; i < LENGTH; i++) {
      assertEquals(whole.getByte(i), data.byteAt(i), "byte " + i);
    }
  }

  @Test
  void findsTheFirstChangedByteAtEveryAlignment() {
    PatternData data = PatternData.of(7, 3, true);
    for (int offset = 0; offset < 16; offset++) {
      for (int flip = 0; flip < 40; flip++) {
        ByteBuf buf = Unpooled.buffer(40);
        data.write(offset, 40, buf);
        assertEquals(-1, data.firstMismatch(offset, buf));
        buf.setByte(flip, buf.getByte(flip) ^ 0x10);
        assertEquals(flip, data.firstMismatch(offset, buf), "offset " + offset + ", flip " + flip);
      }
    }
  }

  @Test
  void checksOnlyTheReadableBytes() {
    PatternData data = PatternData.of(1, 0, false);
    ByteBuf buf = Unpooled.buffer(64);
    buf.writeZero(5);
    data.write(100, 50, buf);
    buf.readerIndex(5);
    assertEquals(-1, data.firstMismatch(100, buf));
    assertEquals(0, data.firstMismatch(101, buf) == -1 ? 1 : 0, "shifted data must not match");
  }

  @Test
  void sessionsAndDirectionsDiffer() {
    ByteBuf north = Unpooled.buffer(64);
    ByteBuf south = Unpooled.buffer(64);
    ByteBuf other = Unpooled.buffer(64);
    PatternData.of(1, 5, true).write(0, 64, north);
    PatternData.of(1, 5, false).write(0, 64, south);
    PatternData.of(1, 6, true).write(0, 64, other);
    assertNotEquals(north, south);
    assertNotEquals(north, other);
  }
}
