package io.streamdetour.testclient;

/**
 * Deterministic pseudo-random bytes for one direction of one session. Byte {@code i} depends only on the
 * seed and {@code i}, so any range can be regenerated to check an echo, whatever the chunking.
 */
final class TestData {

    private final long seed;

    TestData(long seed) {
        this.seed = mix(seed);
    }

    /** Writes bytes {@code [offset, offset + length)} of this data into {@code dst[0..length)}. */
    void fill(long offset, byte[] dst, int length) {
        long word = 0;
        long wordIndex = -1;
        for (int i = 0; i < length; i++) {
            long position = offset + i;
            if (position >>> 3 != wordIndex) {
                wordIndex = position >>> 3;
                word = mix(seed + wordIndex * 0x9E3779B97F4A7C15L);
            }
            dst[i] = (byte) (word >>> ((position & 7) << 3));
        }
    }

    /** The SplitMix64 finalizer. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
