package io.streamdetour.policy;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.DecisionRequest;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;

import java.util.function.Supplier;

/**
 * Answers decision requests from the policy. Deployed as worker instances, so a slow matcher
 * (or a plugin's) never holds an event loop.
 */
public final class PolicyVerticle extends VerticleBase {

  private final Supplier<Policy> policy;
  private MessageConsumer<DecisionRequest> consumer;

  /** @param policy the policy in force; read per request, so a reloaded one applies at once */
  public PolicyVerticle(Supplier<Policy> policy) {
    this.policy = policy;
  }

  @Override
  public Future<?> start() {
    // Only the decision travels for now: bus.Decision has no place for the session options yet.
    consumer = vertx.eventBus().consumer(Addresses.DECIDE, message ->
        message.reply(policy.get().decide(message.body().header()).decision()));
    return consumer.completion();
  }

  @Override
  public Future<?> stop() {
    return consumer.unregister();
  }
}
