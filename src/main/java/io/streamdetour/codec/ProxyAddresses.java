package io.streamdetour.codec;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * The PPv2 address block: source is g3proxy's client, destination the address g3proxy listened
 * on. Both are null for the UNSPEC family and for the LOCAL command, which carry no usable
 * addresses.
 */
public record ProxyAddresses(Family family, InetSocketAddress source, InetSocketAddress destination) {

    public enum Family {
        UNSPEC,
        INET,
        INET6
    }

    /** No addresses: the UNSPEC family or the LOCAL command. */
    public static final ProxyAddresses NONE = new ProxyAddresses(Family.UNSPEC, null, null);

    public ProxyAddresses {
        Objects.requireNonNull(family, "family");
        boolean expected = family != Family.UNSPEC;
        if ((source != null) != expected || (destination != null) != expected) {
            throw new IllegalArgumentException(family + " requires "
                    + (expected ? "both addresses" : "no addresses")
                    + ", got source " + source + " and destination " + destination);
        }
    }
}
