package io.streamdetour.codec;

import java.util.Objects;

/** The 4 bytes the server writes on the north stream after header and payload. */
public record DetourReply(int matchId, Action action) {

    public static final int BYTES = 4;

    public DetourReply {
        if (matchId < 0 || matchId > 0xFFFF) {
            throw new IllegalArgumentException("match id " + matchId + " is outside 0..65535");
        }
        Objects.requireNonNull(action, "action");
    }

    /** uint16 BE match id, then uint16 BE action. */
    public byte[] encode() {
        byte[] bytes = new byte[BYTES];
        encodeTo(bytes, 0);
        return bytes;
    }

    public void encodeTo(byte[] dst, int offset) {
        Objects.checkFromIndexSize(offset, BYTES, dst.length);
        int action = this.action.wireValue();
        dst[offset] = (byte) (matchId >>> 8);
        dst[offset + 1] = (byte) matchId;
        dst[offset + 2] = (byte) (action >>> 8);
        dst[offset + 3] = (byte) action;
    }

    /** Reads a reply as g3proxy would, an unknown action becoming {@link Action#BLOCK}. */
    public static DetourReply decode(byte[] src, int offset) {
        Objects.checkFromIndexSize(offset, BYTES, src.length);
        int matchId = (src[offset] & 0xFF) << 8 | src[offset + 1] & 0xFF;
        int action = (src[offset + 2] & 0xFF) << 8 | src[offset + 3] & 0xFF;
        return new DetourReply(matchId, Action.fromWire(action));
    }
}
