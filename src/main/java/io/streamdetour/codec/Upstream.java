package io.streamdetour.codec;

/**
 * The remote g3proxy connects to (TLV 0xE0), as {@code host:port}. An IPv6 host is held without
 * brackets, so it can be handed to a resolver or socket as is.
 */
public record Upstream(String host, int port) {

    public Upstream {
        if (host == null || host.isEmpty()) {
            throw new IllegalArgumentException("upstream host is empty");
        }
        if (port < 0 || port > 0xFFFF) {
            throw new IllegalArgumentException("upstream port " + port + " is outside 0..65535");
        }
    }

    /**
     * Parses {@code example.com:443}, {@code 1.2.3.4:80} or {@code [::1]:443}. An unbracketed host
     * may not contain ':', since the port could not be told apart from an IPv6 address.
     */
    public static Upstream parse(String hostPort) {
        if (hostPort == null) {
            throw new IllegalArgumentException("upstream is null");
        }
        String host;
        int colon;
        if (hostPort.startsWith("[")) {
            int close = hostPort.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("upstream '" + hostPort + "' lacks the closing ']'");
            }
            host = hostPort.substring(1, close);
            colon = close + 1;
            if (colon >= hostPort.length() || hostPort.charAt(colon) != ':') {
                throw new IllegalArgumentException("upstream '" + hostPort + "' has no ':port' after ']'");
            }
        } else {
            colon = hostPort.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("upstream '" + hostPort + "' has no port");
            }
            host = hostPort.substring(0, colon);
            if (host.indexOf(':') >= 0) {
                throw new IllegalArgumentException(
                        "upstream '" + hostPort + "' has an IPv6 host without brackets");
            }
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("upstream '" + hostPort + "' has an empty host");
        }
        return new Upstream(host, parsePort(hostPort, colon + 1));
    }

    /** ASCII digits only (Integer.parseInt would also take a sign), at most 65535. */
    private static int parsePort(String hostPort, int from) {
        int digits = hostPort.length() - from;
        if (digits < 1 || digits > 5) {
            throw new IllegalArgumentException("upstream '" + hostPort + "' has no valid port");
        }
        int port = 0;
        for (int i = from; i < hostPort.length(); i++) {
            char c = hostPort.charAt(i);
            if (c < '0' || c > '9') {
                throw new IllegalArgumentException("upstream '" + hostPort + "' has a non-numeric port");
            }
            port = port * 10 + (c - '0');
        }
        if (port > 0xFFFF) {
            throw new IllegalArgumentException(
                    "upstream '" + hostPort + "' has port " + port + ", above 65535");
        }
        return port;
    }

    /** {@code host:port}, with an IPv6 host in brackets: the form {@link #parse} reads. */
    @Override
    public String toString() {
        return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
    }
}
