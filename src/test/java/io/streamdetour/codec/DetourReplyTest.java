package io.streamdetour.codec;

import static io.streamdetour.codec.Ppv2.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DetourReplyTest {

    @Test
    void encodesMatchIdThenAction() {
        assertThat(new DetourReply(7, Action.CONTINUE).encode()).isEqualTo(hex("0007 0000"));
        assertThat(new DetourReply(0x1234, Action.BYPASS).encode()).isEqualTo(hex("1234 0001"));
        assertThat(new DetourReply(65535, Action.BLOCK).encode()).isEqualTo(hex("FFFF 0002"));
    }

    @Test
    void encodesAtAnOffset() {
        byte[] dst = new byte[6];

        new DetourReply(0xABCD, Action.BLOCK).encodeTo(dst, 2);

        assertThat(dst).isEqualTo(hex("0000 ABCD 0002"));
        assertThatThrownBy(() -> new DetourReply(1, Action.BLOCK).encodeTo(dst, 3))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void decodesWhatItEncodes() {
        for (Action action : Action.values()) {
            DetourReply reply = new DetourReply(513, action);
            assertThat(DetourReply.decode(reply.encode(), 0)).isEqualTo(reply);
        }
        assertThat(DetourReply.decode(hex("FF 0000 0001"), 1)).isEqualTo(new DetourReply(0, Action.BYPASS));
    }

    @Test
    void decodesAnUnknownActionAsBlockLikeG3proxy() {
        assertThat(DetourReply.decode(hex("0001 0007"), 0)).isEqualTo(new DetourReply(1, Action.BLOCK));
        assertThat(DetourReply.decode(hex("0001 FFFF"), 0).action()).isEqualTo(Action.BLOCK);
    }

    @Test
    void decodeNeedsFourBytes() {
        assertThatThrownBy(() -> DetourReply.decode(new byte[4], 1))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void validatesItsFields() {
        assertThat(DetourReply.BYTES).isEqualTo(4);
        assertThatThrownBy(() -> new DetourReply(-1, Action.BLOCK)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new DetourReply(65536, Action.BLOCK))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new DetourReply(0, null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void actionWireValues() {
        assertThat(Action.CONTINUE.wireValue()).isZero();
        assertThat(Action.BYPASS.wireValue()).isEqualTo(1);
        assertThat(Action.BLOCK.wireValue()).isEqualTo(2);
        assertThat(Action.fromWire(0)).isEqualTo(Action.CONTINUE);
        assertThat(Action.fromWire(1)).isEqualTo(Action.BYPASS);
        assertThat(Action.fromWire(2)).isEqualTo(Action.BLOCK);
        assertThat(Action.fromWire(7)).isEqualTo(Action.BLOCK);
    }

    @Test
    void actionParse() {
        assertThat(Action.parse("continue")).isEqualTo(Action.CONTINUE);
        assertThat(Action.parse("Bypass")).isEqualTo(Action.BYPASS);
        assertThat(Action.parse("BLOCK")).isEqualTo(Action.BLOCK);
        for (String bad : new String[] {"", "allow", " block", null}) {
            assertThatThrownBy(() -> Action.parse(bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("expected continue, bypass or block");
        }
    }

    @Test
    void errorCodes() {
        assertThat(DetourErrorCodes.NO_ERROR).isZero();
        assertThat(DetourErrorCodes.HEADER_ERROR).isEqualTo(0x201);
        assertThat(DetourErrorCodes.INTERNAL_ERROR).isEqualTo(0x2FF);
    }
}
