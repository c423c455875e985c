package io.streamdetour.codec;

import java.util.Locale;

/** The server's verdict on a session, sent as the second half of the {@link DetourReply}. */
public enum Action {
    CONTINUE(0),
    BYPASS(1),
    BLOCK(2);

    private final int wireValue;

    Action(int wireValue) {
        this.wireValue = wireValue;
    }

    /** The uint16 value on the wire. */
    public int wireValue() {
        return wireValue;
    }

    /** Unknown values read as {@link #BLOCK}, because that is what g3proxy does with them. */
    public static Action fromWire(int value) {
        return switch (value) {
            case 0 -> CONTINUE;
            case 1 -> BYPASS;
            default -> BLOCK;
        };
    }

    /** Parses a configured name: {@code continue}, {@code bypass} or {@code block}, in any case. */
    public static Action parse(String name) {
        if (name != null) {
            switch (name.toLowerCase(Locale.ROOT)) {
                case "continue":
                    return CONTINUE;
                case "bypass":
                    return BYPASS;
                case "block":
                    return BLOCK;
                default:
                    break;
            }
        }
        throw new IllegalArgumentException(
                "unknown action '" + name + "', expected continue, bypass or block");
    }
}
