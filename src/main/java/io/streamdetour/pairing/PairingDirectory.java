package io.streamdetour.pairing;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListSet;

/** Which nodes run a pairing instance. Reading it costs no round trip. */
public interface PairingDirectory {

  /** The nodes with a pairing instance now, sorted. */
  List<String> instances();

  /** {@code node}'s instance takes requests from now on. */
  void announce(String node);

  /** {@code node}'s instance is gone. */
  void withdraw(String node);

  /** The directory of a node that is its own cluster. */
  static PairingDirectory local() {
    Set<String> nodes = new ConcurrentSkipListSet<>();
    return new PairingDirectory() {
      @Override
      public List<String> instances() {
        return List.copyOf(new TreeSet<>(nodes));
      }

      @Override
      public void announce(String node) {
        nodes.add(node);
      }

      @Override
      public void withdraw(String node) {
        nodes.remove(node);
      }
    };
  }
}
