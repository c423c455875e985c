package io.streamdetour.bus;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageCodec;
import io.vertx.core.json.JsonObject;

import java.util.function.Function;

/**
 * One codec for every record on the bus: within a node the record itself is delivered (it is
 * immutable, so nothing is copied or serialized); across nodes it goes as its JSON form.
 */
public final class RecordCodec<T> implements MessageCodec<T, T> {

  private final Class<T> type;
  private final Function<T, JsonObject> toJson;
  private final Function<JsonObject, T> fromJson;

  private RecordCodec(Class<T> type, Function<T, JsonObject> toJson, Function<JsonObject, T> fromJson) {
    this.type = type;
    this.toJson = toJson;
    this.fromJson = fromJson;
  }

  @Override
  public void encodeToWire(Buffer buffer, T value) {
    Buffer json = toJson.apply(value).toBuffer();
    buffer.appendInt(json.length()).appendBuffer(json);
  }

  @Override
  public T decodeFromWire(int pos, Buffer buffer) {
    int length = buffer.getInt(pos);
    return fromJson.apply(new JsonObject(buffer.getBuffer(pos + 4, pos + 4 + length)));
  }

  @Override
  public T transform(T value) {
    return value;
  }

  @Override
  public String name() {
    return "stream-detour." + type.getSimpleName();
  }

  @Override
  public byte systemCodecID() {
    return -1;
  }

  /** Registers the codecs of every bus record on this Vert.x instance, once. */
  public static synchronized void registerAll(Vertx vertx) {
    register(vertx, DecisionRequest.class, DecisionRequest::toJson, DecisionRequest::fromJson);
    register(vertx, Decision.class, Decision::toJson, Decision::fromJson);
    register(vertx, PairingKey.class, PairingKey::toJson, PairingKey::fromJson);
    register(vertx, PairingRequest.class, PairingRequest::toJson, PairingRequest::fromJson);
    register(vertx, PairingResult.class, PairingResult::toJson, PairingResult::fromJson);
    register(vertx, SessionEnded.class, SessionEnded::toJson, SessionEnded::fromJson);
    register(vertx, SessionQuery.class, SessionQuery::toJson, SessionQuery::fromJson);
    register(vertx, NodeSessions.class, NodeSessions::toJson, NodeSessions::fromJson);
    register(vertx, SessionCut.class, SessionCut::toJson, SessionCut::fromJson);
    register(vertx, NodeCut.class, NodeCut::toJson, NodeCut::fromJson);
    register(vertx, NodeStatus.class, NodeStatus::toJson, NodeStatus::fromJson);
  }

  private static <T> void register(Vertx vertx, Class<T> type, Function<T, JsonObject> toJson,
      Function<JsonObject, T> fromJson) {
    try {
      vertx.eventBus().registerDefaultCodec(type, new RecordCodec<>(type, toJson, fromJson));
    } catch (IllegalStateException alreadyRegistered) {
      // a second server on the same Vert.x instance shares the codecs
    }
  }
}
