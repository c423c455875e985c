package io.streamdetour.loadgen;

import io.netty.buffer.ByteBuf;

/**
 * The deterministic pseudo-random bytes of one direction of one session. Byte {@code i} is byte
 * {@code i & 7} (little-endian) of the SplitMix64 mix of {@code seed + (i >>> 3) * golden}, so any
 * range can be written or checked on its own, whatever the chunking, without keeping what was sent.
 */
final class PatternData {

  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  private final long seed;

  PatternData(long seed) {
    this.seed = mix(seed);
  }

  /** The seed of one direction of one session: independent streams for every pair. */
  static PatternData of(long runSeed, long session, boolean north) {
    return new PatternData(mix(runSeed * GOLDEN + session) * 2 + (north ? 0 : 1));
  }

  /** Appends bytes {@code [offset, offset + length)} to {@code dst}. */
  void write(long offset, int length, ByteBuf dst) {
    long position = offset;
    long end = offset + length;
    while (position < end && (position & 7) != 0) {
      dst.writeByte(byteAt(position++));
    }
    while (end - position >= 8) {
      dst.writeLongLE(word(position >>> 3));
      position += 8;
    }
    while (position < end) {
      dst.writeByte(byteAt(position++));
    }
  }

  /**
   * Checks the readable bytes of {@code src} against bytes {@code offset..} of this data.
   *
   * @return the index in {@code src}'s readable bytes of the first byte that differs, or -1
   */
  int firstMismatch(long offset, ByteBuf src) {
    int index = src.readerIndex();
    int end = src.writerIndex();
    long position = offset;
    while (index < end && (position & 7) != 0) {
      if (src.getByte(index) != byteAt(position)) {
        return index - src.readerIndex();
      }
      index++;
      position++;
    }
    while (end - index >= 8) {
      if (src.getLongLE(index) != word(position >>> 3)) {
        break; // the byte loop below finds which byte
      }
      index += 8;
      position += 8;
    }
    while (index < end) {
      if (src.getByte(index) != byteAt(position)) {
        return index - src.readerIndex();
      }
      index++;
      position++;
    }
    return -1;
  }

  byte byteAt(long position) {
    return (byte) (word(position >>> 3) >>> ((position & 7) << 3));
  }

  private long word(long index) {
    return mix(seed + index * GOLDEN);
  }

  /** The SplitMix64 finalizer. */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
