package io.streamdetour.codec;

import java.util.Objects;

/** The header g3proxy sends on the south stream after a continue reply: addresses and match id. */
public record SouthHeader(ProxyAddresses addresses, int matchId) implements StreamHeader {

    public SouthHeader {
        Objects.requireNonNull(addresses, "addresses");
        if (matchId < 0 || matchId > 0xFFFF) {
            throw new IllegalArgumentException("match id " + matchId + " is outside 0..65535");
        }
    }
}
