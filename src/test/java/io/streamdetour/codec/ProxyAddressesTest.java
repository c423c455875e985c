package io.streamdetour.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.streamdetour.codec.ProxyAddresses.Family;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class ProxyAddressesTest {

    private static final InetSocketAddress A = new InetSocketAddress("127.0.0.1", 1);

    @Test
    void noneHasNoAddresses() {
        assertThat(ProxyAddresses.NONE.family()).isEqualTo(Family.UNSPEC);
        assertThat(ProxyAddresses.NONE.source()).isNull();
        assertThat(ProxyAddresses.NONE.destination()).isNull();
    }

    @Test
    void addressesMustMatchTheFamily() {
        assertThat(new ProxyAddresses(Family.INET, A, A).source()).isEqualTo(A);
        assertThatThrownBy(() -> new ProxyAddresses(Family.INET, A, null))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ProxyAddresses(Family.UNSPEC, A, A))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ProxyAddresses(null, null, null))
                .isInstanceOf(NullPointerException.class);
    }
}
