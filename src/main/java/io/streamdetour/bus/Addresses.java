package io.streamdetour.bus;

/**
 * Event-bus addresses. Inside one node messages pass by reference (immutable records with a
 * local codec); between nodes and for plugins they travel in their JSON form.
 */
public final class Addresses {

  /** Request {@link DecisionRequest} (a decoded north header), reply {@link Decision}. */
  public static final String DECIDE = "stream-detour.policy.decide";

  /** Request {@link PairingRequest} (one half of a session), reply {@link PairingResult}. */
  public static final String PAIR = "stream-detour.pairing.join";

  /** Send {@link PairingRequest}: forget that half if it still waits (its stream ended). */
  public static final String PAIR_CANCEL = "stream-detour.pairing.cancel";

  /** Publish {@link SessionEnded}: one per relayed, bypassed or blocked session. */
  public static final String SESSION_ENDED = "stream-detour.session.ended";

  private Addresses() {}
}
