package io.streamdetour.bus;

/**
 * Event-bus addresses. Inside one node messages pass by reference (immutable records with a
 * local codec), to plugins too; between nodes they travel in their JSON form.
 */
public final class Addresses {

  /** Request {@link DecisionRequest} (a decoded north header), reply {@link Decision}. */
  public static final String DECIDE = "stream-detour.policy.decide";

  /**
   * Request {@link PairingRequest} (one half of a session), reply {@link PairingResult}: this
   * node's own pairing instance, delivered locally. Another node's is at
   * {@link #onNode}{@code (PAIR, node)}.
   */
  public static final String PAIR = "stream-detour.pairing.join";

  /** Send {@link PairingRequest}: forget that half if it still waits (its stream ended). */
  public static final String PAIR_CANCEL = "stream-detour.pairing.cancel";

  /** Request {@link SessionQuery}, reply {@link NodeSessions}: one node's running sessions. */
  public static final String NODE_SESSIONS = "stream-detour.node.sessions";

  /** Request {@link SessionCut}, reply {@link NodeCut}: cut one node's sessions of a task. */
  public static final String NODE_CUT = "stream-detour.node.cut";

  /** Request (an empty JSON object), reply {@link NodeStatus}: one node's state and config version. */
  public static final String NODE_STATUS = "stream-detour.node.status";

  /** Publish {@link SessionEnded}: one per relayed, bypassed or blocked session. */
  public static final String SESSION_ENDED = "stream-detour.session.ended";

  /** The clustered address of {@code node}'s consumer of {@code address}. */
  public static String onNode(String address, String node) {
    return address + "." + node;
  }

  private Addresses() {}
}
