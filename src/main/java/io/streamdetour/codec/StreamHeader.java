package io.streamdetour.codec;

/** A decoded PPv2 header: the north header opens a session, the south header joins it. */
public sealed interface StreamHeader permits NorthHeader, SouthHeader {

    /** Pairs a south stream with its north stream; unique only within one QUIC connection. */
    int matchId();

    ProxyAddresses addresses();
}
