package io.streamdetour.bench;

import io.streamdetour.bus.SessionOptions;
import io.streamdetour.codec.Action;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.ProxyAddresses;
import io.streamdetour.codec.Upstream;
import io.streamdetour.config.ServerConfig;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

/**
 * A policy of 1 000 rules of every kind of matcher, and headers that hit them (or nothing) in
 * realistic proportions. Built from a fixed seed, so every run measures the same work.
 */
final class PolicyFixture {

  static final int RULES = 1_000;
  private static final String[] BRANDS = {"acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne"};
  private static final String G3_PAYLOAD = "host: example.com\r\norigin: https://example.com\r\n"
      + "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n";

  private final Random random = new Random(42);

  private PolicyFixture() {}

  static ServerConfig.Policy policy() {
    return new PolicyFixture().rules();
  }

  static NorthHeader[] headers(int count) {
    PolicyFixture fixture = new PolicyFixture();
    NorthHeader[] headers = new NorthHeader[count];
    for (int i = 0; i < count; i++) {
      headers[i] = fixture.header();
    }
    return headers;
  }

  private ServerConfig.Policy rules() {
    List<ServerConfig.Rule> rules = new ArrayList<>();
    for (int i = 0; rules.size() < RULES; i++) {
      add(rules, 300, "exact-" + i, Map.of("host", List.of(exactHost(i)), "port", List.of("443", "8443")));
      add(rules, 250, "suffix-" + i, Map.of("host-suffix", List.of(suffix(i))));
      add(rules, 100, "glob-" + i, Map.of("host-glob", List.of(i % 2 == 0 ? "*.cdn" + i + ".example.org"
          : "img*.media" + i + ".net")));
      add(rules, 50, "cluster-" + i, Map.of("host-suffix", List.of("cluster" + i + ".internal"),
          "host-regex", List.of("node-\\d+\\.cluster" + i + "\\.internal")));
      add(rules, 20, "tracker-" + i, Map.of("host-regex", List.of("tracker" + i + "-[a-z]+\\.(com|net)")));
      add(rules, 60, "net-" + i, Map.of("upstream-cidr", List.of("10." + i + ".0.0/16")));
      add(rules, 40, "office-" + i, Map.of("client-cidr", List.of("198.51." + i + ".0/24"), "user-group",
          List.of("staff")));
      add(rules, 40, "user-" + i, Map.of(i % 2 == 0 ? "user" : "user-regex",
          List.of(i % 2 == 0 ? "robot-" + i : "svc-" + i + "-\\d+")));
      add(rules, 60, "ws-" + i, Map.of("ws-resource", List.of("/admin" + i), "ws-origin",
          List.of("https://app" + i + ".example.com")));
      add(rules, 40, "mail-" + i, Map.of("protocol", List.of("smtp", "imap"), "port", List.of("25", "587", "993"),
          "host-suffix", List.of("mail" + i + ".com")));
      add(rules, 40, "ports-" + i, Map.of("port", List.of((9000 + i * 10) + "-" + (9000 + i * 10 + 9)),
          "user-absent", List.of("true")));
    }
    return new ServerConfig.Policy(Action.CONTINUE, Map.of("staff", List.of("alice", "bob")), rules);
  }

  /** Adds rule {@code name} while its kind has fewer than {@code quota} rules (kinds interleave). */
  private void add(List<ServerConfig.Rule> rules, int quota, String name, Map<String, List<String>> match) {
    int index = Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
    if (index < quota && rules.size() < RULES) {
      Action action = Action.values()[random.nextInt(3)];
      SessionOptions options = action == Action.CONTINUE && index % 4 == 0
          ? new SessionOptions(List.of("audit"), true, 10_485_760)
          : SessionOptions.NONE;
      rules.add(new ServerConfig.Rule(name, action, match(match), options));
    }
  }

  private NorthHeader header() {
    int kind = random.nextInt(100);
    String user = random.nextBoolean() ? null : List.of("alice", "bob", "robot-4", "svc-3-17").get(random.nextInt(4));
    String client = random.nextBoolean() ? "198.51." + random.nextInt(60) + ".7" : "192.0.2." + random.nextInt(250);
    if (kind < 30) {
      return north("http_2", exactHost(random.nextInt(330)) + ":443", user, client, "");
    }
    if (kind < 50) {
      return north("http_2", "www." + suffix(random.nextInt(270)) + ":443", user, client, "");
    }
    if (kind < 60) {
      return north("http_2", "edge7.cdn" + 2 * random.nextInt(55) + ".example.org:443", user, client, "");
    }
    if (kind < 65) {
      return north("http_2", "node-" + random.nextInt(9) + ".cluster" + random.nextInt(55) + ".internal:8443", user,
          client, "");
    }
    if (kind < 75) {
      return north("http_2", (random.nextBoolean() ? "10." : "172.") + random.nextInt(80) + ".3.4:443", user, client,
          "");
    }
    if (kind < 85) {
      String resource = random.nextBoolean() ? "/chat" : "/admin" + random.nextInt(70);
      return north("websocket", "example.com:443", user, client, resource + "\r\n" + G3_PAYLOAD);
    }
    if (kind < 90) {
      return north(random.nextBoolean() ? "smtp" : "imap", "mx.mail" + random.nextInt(45) + ".com:25", user, client,
          "");
    }
    return north("http_2", "www.unknown" + random.nextInt(1000) + ".org:443", user, client, "");
  }

  private static String exactHost(int i) {
    return "api" + i + "." + BRANDS[i % BRANDS.length] + ".com";
  }

  private static String suffix(int i) {
    return BRANDS[i % BRANDS.length] + i + ".net";
  }

  private static NorthHeader north(String protocol, String upstream, String user, String client, String payload) {
    byte[] bytes = payload.getBytes(StandardCharsets.UTF_8);
    try {
      ProxyAddresses addresses = new ProxyAddresses(ProxyAddresses.Family.INET,
          new InetSocketAddress(InetAddress.getByName(client), 50000),
          new InetSocketAddress(InetAddress.getByName("192.0.2.254"), 3128));
      return new NorthHeader(addresses, Upstream.parse(upstream), user, UUID.randomUUID(), protocol, 1, null,
          bytes.length, bytes);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(client, e);
    }
  }

  /** A match written as in YAML: key to values. */
  private static ServerConfig.Match match(Map<String, List<String>> keys) {
    return new ServerConfig.Match(
        get(keys, "protocol"),
        get(keys, "host"),
        get(keys, "host-suffix"),
        get(keys, "host-glob"),
        get(keys, "host-regex"),
        get(keys, "port").stream().map(PolicyFixture::portRange).toList(),
        get(keys, "upstream-cidr").stream().map(PolicyFixture::cidr).toList(),
        get(keys, "client-cidr").stream().map(PolicyFixture::cidr).toList(),
        get(keys, "user"),
        get(keys, "user-regex"),
        get(keys, "user-group"),
        keys.containsKey("user-absent") ? Boolean.valueOf(keys.get("user-absent").get(0)) : null,
        get(keys, "ws-resource"),
        get(keys, "ws-origin"),
        get(keys, "ws-host"),
        get(keys, "ws-subprotocol"));
  }

  private static List<String> get(Map<String, List<String>> keys, String key) {
    return keys.getOrDefault(key, List.of());
  }

  private static ServerConfig.PortRange portRange(String text) {
    String[] bounds = text.split("-");
    return new ServerConfig.PortRange(Integer.parseInt(bounds[0]), Integer.parseInt(bounds[bounds.length - 1]));
  }

  private static ServerConfig.Cidr cidr(String text) {
    String[] parts = text.split("/");
    try {
      return new ServerConfig.Cidr(InetAddress.getByName(parts[0]), Integer.parseInt(parts[1]));
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(text, e);
    }
  }
}
