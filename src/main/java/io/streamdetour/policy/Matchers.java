package io.streamdetour.policy;

import io.streamdetour.codec.WebSocketUpgrade;
import io.streamdetour.config.ServerConfig;

import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/** The matchers, one factory per {@code match} key; each compiles its values once. */
final class Matchers {

  private Matchers() {}

  static Matcher protocol(List<String> protocols) {
    Set<String> set = Set.copyOf(protocols);
    return input -> set.contains(input.protocol());
  }

  static Matcher host(List<String> hosts) {
    Set<String> set = Set.copyOf(hosts);
    return input -> set.contains(input.host());
  }

  static Matcher hostSuffix(List<String> suffixes) {
    String[] array = suffixes.toArray(String[]::new);
    return input -> {
      for (String suffix : array) {
        if (isDomainSuffix(suffix, input.host())) {
          return true;
        }
      }
      return false;
    };
  }

  /** {@code example.com} is a suffix of example.com and a.example.com, not of badexample.com. */
  private static boolean isDomainSuffix(String suffix, String host) {
    int dot = host.length() - suffix.length() - 1;
    return host.endsWith(suffix) && (dot < 0 || host.charAt(dot) == '.');
  }

  static Matcher hostGlob(List<String> globs) {
    Pattern pattern = HostGlob.compile(globs);
    return input -> pattern.matcher(input.host()).matches();
  }

  static Matcher hostRegex(List<String> regexes) {
    Predicate<String> anyMatches = wholeMatch(regexes, true);
    return input -> anyMatches.test(input.host());
  }

  static Matcher port(List<ServerConfig.PortRange> ranges) {
    int[] firsts = ranges.stream().mapToInt(ServerConfig.PortRange::first).toArray();
    int[] lasts = ranges.stream().mapToInt(ServerConfig.PortRange::last).toArray();
    return input -> {
      int port = input.port();
      for (int i = 0; i < firsts.length; i++) {
        if (port >= firsts[i] && port <= lasts[i]) {
          return true;
        }
      }
      return false;
    };
  }

  /** A host name never matches: only an IP literal is in a block. */
  static Matcher upstreamCidr(List<ServerConfig.Cidr> cidrs) {
    return inAnyBlock(cidrs, MatchInput::hostAddress);
  }

  static Matcher clientCidr(List<ServerConfig.Cidr> cidrs) {
    return inAnyBlock(cidrs, MatchInput::clientAddress);
  }

  private static Matcher inAnyBlock(List<ServerConfig.Cidr> cidrs, Function<MatchInput, byte[]> addressOf) {
    CidrBlock[] blocks = cidrs.stream().map(CidrBlock::new).toArray(CidrBlock[]::new);
    return input -> {
      byte[] address = addressOf.apply(input);
      if (address != null) {
        for (CidrBlock block : blocks) {
          if (block.contains(address)) {
            return true;
          }
        }
      }
      return false;
    };
  }

  /** Usernames, exact; also the members of the groups a user-group matcher names. */
  static Matcher user(Collection<String> users) {
    Set<String> set = Set.copyOf(users);
    return input -> input.user() != null && set.contains(input.user());
  }

  static Matcher userRegex(List<String> regexes) {
    Predicate<String> anyMatches = wholeMatch(regexes, false);
    return input -> input.user() != null && anyMatches.test(input.user());
  }

  static Matcher userAbsent(boolean absent) {
    return input -> (input.user() == null) == absent;
  }

  /** A path prefix: paths are case-sensitive. */
  static Matcher webSocketResource(List<String> prefixes) {
    String[] array = prefixes.toArray(String[]::new);
    return webSocket(upgrade -> {
      for (String prefix : array) {
        if (upgrade.resource().startsWith(prefix)) {
          return true;
        }
      }
      return false;
    });
  }

  static Matcher webSocketOrigin(List<String> origins) {
    return webSocketHeader("origin", origins);
  }

  static Matcher webSocketHost(List<String> hosts) {
    return webSocketHeader("host", hosts);
  }

  /**
   * Any value of sec-websocket-protocol, a comma-separated list. Compared case-insensitively: the
   * policy should not be side-stepped by a server that accepts "Chat" for "chat".
   */
  static Matcher webSocketSubprotocol(List<String> subprotocols) {
    Set<String> set = Set.copyOf(subprotocols);
    return webSocket(upgrade -> {
      for (String header : upgrade.headers("sec-websocket-protocol")) {
        for (String value : header.split(",")) {
          if (set.contains(value.trim().toLowerCase(Locale.ROOT))) {
            return true;
          }
        }
      }
      return false;
    });
  }

  private static Matcher webSocketHeader(String name, List<String> values) {
    Set<String> set = Set.copyOf(values);
    return webSocket(upgrade -> {
      for (String value : upgrade.headers(name)) {
        if (set.contains(value.toLowerCase(Locale.ROOT))) {
          return true;
        }
      }
      return false;
    });
  }

  /** Only a websocket session whose upgrade parses can match. */
  private static Matcher webSocket(Predicate<WebSocketUpgrade> test) {
    return input -> {
      WebSocketUpgrade upgrade = input.webSocket();
      return upgrade != null && test.test(upgrade);
    };
  }

  /** Whether any regex matches the whole value; a value without a regex's literal prefix skips it. */
  private static Predicate<String> wholeMatch(List<String> regexes, boolean ignoreCase) {
    int flags = ignoreCase ? Pattern.CASE_INSENSITIVE : 0;
    Pattern[] patterns = regexes.stream().map(regex -> Pattern.compile(regex, flags)).toArray(Pattern[]::new);
    String[] prefixes = regexes.stream().map(RegexPrefix::of).toArray(String[]::new);
    return value -> {
      for (int i = 0; i < patterns.length; i++) {
        if (value.regionMatches(ignoreCase, 0, prefixes[i], 0, prefixes[i].length())
            && patterns[i].matcher(value).matches()) {
          return true;
        }
      }
      return false;
    };
  }
}
