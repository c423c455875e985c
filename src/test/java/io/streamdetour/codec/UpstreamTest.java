package io.streamdetour.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class UpstreamTest {

    @ParameterizedTest
    @CsvSource({
        "example.com:443, example.com, 443",
        "1.2.3.4:80, 1.2.3.4, 80",
        "[::1]:443, ::1, 443",
        "[2001:db8::1]:0, 2001:db8::1, 0",
        "[::ffff:1.2.3.4]:65535, ::ffff:1.2.3.4, 65535",
        "localhost:00080, localhost, 80",
        "b\u00fccher.example:8443, b\u00fccher.example, 8443",
    })
    void parses(String text, String host, int port) {
        Upstream upstream = Upstream.parse(text);

        assertThat(upstream.host()).isEqualTo(host);
        assertThat(upstream.port()).isEqualTo(port);
    }

    @ParameterizedTest
    @ValueSource(strings = {"example.com:443", "1.2.3.4:80", "[::1]:443", "[2001:db8::1]:0", "h:65535"})
    void roundTrips(String text) {
        assertThat(Upstream.parse(text)).hasToString(text);
        assertThat(Upstream.parse(Upstream.parse(text).toString())).isEqualTo(Upstream.parse(text));
    }

    @Test
    void toStringBracketsIpv6Hosts() {
        assertThat(new Upstream("::1", 443)).hasToString("[::1]:443");
        assertThat(new Upstream("fe80::1", 8080)).hasToString("[fe80::1]:8080");
        assertThat(new Upstream("example.com", 443)).hasToString("example.com:443");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "noport", "[::1", "[::1]", "[::1]443", "[::1]:", "[]:80", "host:99999", "host:65536",
        "host:", ":80", "::1:443", "host:+80", "host:-1", "host: 80", "host:80 ", "host:123456",
        "host:8o", "",
    })
    void rejects(String text) {
        assertThatThrownBy(() -> Upstream.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("upstream");
    }

    @Test
    void rejectsNull() {
        assertThatThrownBy(() -> Upstream.parse(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void messagesSayWhatIsWrong() {
        assertThatThrownBy(() -> Upstream.parse("noport")).hasMessage("upstream 'noport' has no port");
        assertThatThrownBy(() -> Upstream.parse("[::1")).hasMessage("upstream '[::1' lacks the closing ']'");
        assertThatThrownBy(() -> Upstream.parse("host:99999"))
                .hasMessage("upstream 'host:99999' has port 99999, above 65535");
    }

    @Test
    void constructorValidates() {
        assertThatThrownBy(() -> new Upstream("", 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Upstream(null, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Upstream("a", -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Upstream("a", 65536)).isInstanceOf(IllegalArgumentException.class);
    }
}
