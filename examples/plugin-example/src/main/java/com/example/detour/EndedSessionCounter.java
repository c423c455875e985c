package com.example.detour;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.SessionEnded;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;

import java.util.Map;
import java.util.TreeMap;

/**
 * Counts ended sessions per g3proxy user, from the server's {@code stream-detour.session.ended}
 * events, and answers any message sent to {@code config().address} with the counts so far:
 * {@code {"alice": 3, "-": 1}} ("-": sessions without a user).
 * Deploy one instance: each instance counts on its own.
 */
public class EndedSessionCounter extends VerticleBase {

  /** Touched on this verticle's own context only (event loop, worker or virtual thread). */
  private final Map<String, Long> sessionsPerUser = new TreeMap<>();

  @Override
  public Future<?> start() {
    String address = config().getString("address", "example.sessions-per-user");
    // Within the node the body is the server's own immutable record; toJson() gives its JSON form.
    vertx.eventBus().<SessionEnded>localConsumer(Addresses.SESSION_ENDED, message -> {
      SessionEnded ended = message.body();
      sessionsPerUser.merge(ended.user() == null ? "-" : ended.user(), 1L, Long::sum);
    });
    return vertx.eventBus().consumer(address, request -> {
      JsonObject counts = new JsonObject();
      sessionsPerUser.forEach(counts::put);
      request.reply(counts);
    }).completion();
  }
}
