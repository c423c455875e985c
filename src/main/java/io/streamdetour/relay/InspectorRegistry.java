package io.streamdetour.relay;

import io.streamdetour.codec.NorthHeader;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Inspector factories by name; {@code relay.inspectors} in config names the ones to run. */
public final class InspectorRegistry {

  private final Map<String, InspectorFactory> factories = new ConcurrentHashMap<>();

  public void register(String name, InspectorFactory factory) {
    if (factories.putIfAbsent(name, factory) != null) {
      throw new IllegalArgumentException("an inspector named '" + name + "' is already registered");
    }
  }

  /** Names in {@code names} that nothing is registered under. */
  public List<String> unknown(List<String> names) {
    return names.stream().filter(n -> !factories.containsKey(n)).toList();
  }

  /**
   * A new inspector of each name, in order, for one session; names must all be registered. A
   * factory that throws gets the ones made before it closed, and an exception that names it.
   */
  public List<Inspector> create(List<String> names, NorthHeader session) {
    List<Inspector> made = new ArrayList<>(names.size());
    for (String name : names) {
      try {
        made.add(factories.get(name).create(session));
      } catch (RuntimeException e) {
        new InspectorChain(made).close();
        throw new IllegalStateException("inspector '" + name + "' could not be made: " + e, e);
      }
    }
    return made;
  }
}
