package io.streamdetour.testclient;

import java.net.InetSocketAddress;

/** The south stream's PROXY v2 header as g3proxy writes it after a continue: addresses and TLV E5 only. */
public record G3SouthHeader(InetSocketAddress client, InetSocketAddress proxy, int matchId) {

    static G3SouthHeader of(ClientSettings settings, int matchId) {
        return new G3SouthHeader(settings.clientAddress(), settings.proxyAddress(), matchId);
    }

    public byte[] encode() {
        return new ProxyV2Writer(client, proxy).tlvU16(G3NorthHeader.TLV_MATCH_ID, matchId).toBytes();
    }
}
