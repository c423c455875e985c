package io.streamdetour.policy;

import io.streamdetour.bus.SessionOptions;
import io.streamdetour.codec.Action;
import io.streamdetour.config.ServerConfig;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Map;

/** Policy rules for tests, one method per {@code match} key, values as they are written in YAML. */
final class RuleBuilder {

  private final String name;
  private final Action action;
  private List<String> protocols = List.of();
  private List<String> hosts = List.of();
  private List<String> hostSuffixes = List.of();
  private List<String> hostGlobs = List.of();
  private List<String> hostRegexes = List.of();
  private List<ServerConfig.PortRange> ports = List.of();
  private List<ServerConfig.Cidr> upstreamCidrs = List.of();
  private List<ServerConfig.Cidr> clientCidrs = List.of();
  private List<String> users = List.of();
  private List<String> userRegexes = List.of();
  private List<String> userGroups = List.of();
  private Boolean userAbsent;
  private List<String> wsResources = List.of();
  private List<String> wsOrigins = List.of();
  private List<String> wsHosts = List.of();
  private List<String> wsSubprotocols = List.of();
  private SessionOptions options = SessionOptions.NONE;

  private RuleBuilder(String name, Action action) {
    this.name = name;
    this.action = action;
  }

  static RuleBuilder rule(String name, Action action) {
    return new RuleBuilder(name, action);
  }

  static ServerConfig.Policy policy(Action defaultAction, Map<String, List<String>> userGroups, RuleBuilder... rules) {
    return new ServerConfig.Policy(defaultAction, userGroups, List.of(rules).stream().map(RuleBuilder::build).toList());
  }

  static ServerConfig.Policy policy(RuleBuilder... rules) {
    return policy(Action.CONTINUE, Map.of(), rules);
  }

  RuleBuilder protocol(String... values) {
    protocols = List.of(values);
    return this;
  }

  RuleBuilder host(String... values) {
    hosts = List.of(values);
    return this;
  }

  RuleBuilder hostSuffix(String... values) {
    hostSuffixes = List.of(values);
    return this;
  }

  RuleBuilder hostGlob(String... values) {
    hostGlobs = List.of(values);
    return this;
  }

  RuleBuilder hostRegex(String... values) {
    hostRegexes = List.of(values);
    return this;
  }

  /** "443" or "8000-8999". */
  RuleBuilder port(String... values) {
    ports = List.of(values).stream().map(RuleBuilder::portRange).toList();
    return this;
  }

  RuleBuilder upstreamCidr(String... values) {
    upstreamCidrs = List.of(values).stream().map(RuleBuilder::cidr).toList();
    return this;
  }

  RuleBuilder clientCidr(String... values) {
    clientCidrs = List.of(values).stream().map(RuleBuilder::cidr).toList();
    return this;
  }

  RuleBuilder user(String... values) {
    users = List.of(values);
    return this;
  }

  RuleBuilder userRegex(String... values) {
    userRegexes = List.of(values);
    return this;
  }

  RuleBuilder userGroup(String... values) {
    userGroups = List.of(values);
    return this;
  }

  RuleBuilder userAbsent(boolean value) {
    userAbsent = value;
    return this;
  }

  RuleBuilder wsResource(String... values) {
    wsResources = List.of(values);
    return this;
  }

  RuleBuilder wsOrigin(String... values) {
    wsOrigins = List.of(values);
    return this;
  }

  RuleBuilder wsHost(String... values) {
    wsHosts = List.of(values);
    return this;
  }

  RuleBuilder wsSubprotocol(String... values) {
    wsSubprotocols = List.of(values);
    return this;
  }

  RuleBuilder options(List<String> inspectors, boolean capture, long byteCap) {
    options = new SessionOptions(inspectors, capture, byteCap);
    return this;
  }

  ServerConfig.Rule build() {
    return new ServerConfig.Rule(name, action, new ServerConfig.Match(protocols, hosts, hostSuffixes, hostGlobs,
        hostRegexes, ports, upstreamCidrs, clientCidrs, users, userRegexes, userGroups, userAbsent, wsResources,
        wsOrigins, wsHosts, wsSubprotocols), options);
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
