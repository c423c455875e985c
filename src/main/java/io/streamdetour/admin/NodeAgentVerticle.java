package io.streamdetour.admin;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.NodeCut;
import io.streamdetour.bus.NodeSessions;
import io.streamdetour.bus.NodeStatus;
import io.streamdetour.bus.SessionCut;
import io.streamdetour.bus.SessionQuery;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeSet;

/**
 * This node's side of the cluster-wide admin API: on addresses of its own it lists its running
 * sessions, cuts them and tells its state and configuration version to whichever node's admin
 * API asks. Runs whether or not this node serves the admin API itself.
 */
public final class NodeAgentVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(NodeAgentVerticle.class);

  private final String nodeId;
  private final NodeState node;
  private List<MessageConsumer<?>> consumers = List.of();

  public NodeAgentVerticle(String nodeId, NodeState node) {
    this.nodeId = nodeId;
    this.node = node;
  }

  @Override
  public Future<?> start() {
    MessageConsumer<SessionQuery> sessions = vertx.eventBus().consumer(Addresses.onNode(Addresses.NODE_SESSIONS, nodeId),
        m -> m.reply(new NodeSessions(nodeId, node.sessions().stream().filter(m.body()::matches).toList())));
    MessageConsumer<SessionCut> cut = vertx.eventBus().consumer(Addresses.onNode(Addresses.NODE_CUT, nodeId), m -> {
      int count = node.cut(m.body().taskId());
      if (count > 0) {
        LOG.info("admin: {} session(s) of task {} cut at the request of the cluster's admin API", count,
            m.body().taskId());
      }
      m.reply(new NodeCut(nodeId, count));
    });
    MessageConsumer<JsonObject> status = vertx.eventBus().consumer(Addresses.onNode(Addresses.NODE_STATUS, nodeId),
        m -> m.reply(status()));
    consumers = List.of(sessions, cut, status);
    return Future.all(consumers.stream().map(MessageConsumer::completion).toList());
  }

  private NodeStatus status() {
    return new NodeStatus(nodeId, node.edgeAddress(), node.accepting(), node.configVersion(),
        digest(sharedSettings(node.configSource())), node.configError(), node.pairingInstance(),
        node.sessions().size());
  }

  /**
   * What every node behind one VIP should agree on: how sessions are decided and relayed. Addresses,
   * files and whether the node runs pairing differ from node to node by design, so they are left
   * out; otherwise every real cluster would show drift.
   */
  static JsonObject sharedSettings(JsonObject config) {
    JsonObject shared = new JsonObject();
    for (String section : SHARED_SECTIONS) {
      Object value = config.getValue(section);
      if (value != null) {
        shared.put(section, value);
      }
    }
    JsonObject pairing = config.getJsonObject("pairing");
    if (pairing != null) {
      shared.put("pairing", pairing.copy().put("local", null));
    }
    return shared;
  }

  private static final List<String> SHARED_SECTIONS = List.of("policy", "limits", "decision", "header", "relay");

  /** The first 16 hex digits of SHA-256 over the configuration with its keys sorted. */
  static String digest(JsonObject config) {
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(canonical(config).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(hash, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  private static String canonical(Object value) {
    if (value instanceof JsonObject object) {
      StringBuilder out = new StringBuilder("{");
      for (String key : new TreeSet<>(object.fieldNames())) {
        out.append(canonical(key)).append(':').append(canonical(object.getValue(key))).append(',');
      }
      return out.append('}').toString();
    }
    if (value instanceof JsonArray array) {
      StringBuilder out = new StringBuilder("[");
      array.forEach(item -> out.append(canonical(item)).append(','));
      return out.append(']').toString();
    }
    // A scalar as the JSON text of a one-item list: quoted and escaped the same on every node.
    return new JsonArray().add(value).encode();
  }

  @Override
  public Future<?> stop() {
    return Future.all(consumers.stream().map(MessageConsumer::unregister).toList());
  }
}
