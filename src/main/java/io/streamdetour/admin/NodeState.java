package io.streamdetour.admin;

import io.streamdetour.bus.RunningSession;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/** What the admin API reads from, and does to, the node it runs on. */
public interface NodeState {

  /** The UDP address the QUIC edge is bound to, or null when it is not. */
  String edgeAddress();

  /** False once a shutdown started: no new sessions are taken. */
  boolean accepting();

  int configVersion();

  /** Why the last configuration change was refused, or null when it was not. */
  String configError();

  /** The configuration in force as loaded (defaults, file, overrides), secrets included. */
  JsonObject configSource();

  /** The keys of {@link #configSource} changed since start that wait for a restart. */
  List<String> restartPending();

  /** The admin token in force now (empty: none). */
  String adminToken();

  /** This node's running sessions. */
  List<RunningSession> sessions();

  /** Whether this node runs a pairing instance. */
  boolean pairingInstance();

  /** Pairing instances this node can send sessions to (its own, or the cluster's). */
  int pairingInstancesKnown();

  /** The plugin jars, inspectors and verticles: {@code [{name, kind, jar, status, error}]}. */
  default JsonArray plugins() {
    return new JsonArray();
  }

  /** @return how many sessions of task {@code taskId} were cut */
  int cut(String taskId);
}
