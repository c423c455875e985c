package io.streamdetour.policy;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.DecisionRequest;
import io.streamdetour.config.ServerConfig;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;

/**
 * Answers decision requests from the policy. Deployed as worker instances, so a slow matcher
 * (or a plugin's) never holds an event loop.
 */
public final class PolicyVerticle extends VerticleBase {

  private final Policy policy;
  private MessageConsumer<DecisionRequest> consumer;

  public PolicyVerticle(ServerConfig.Policy config) {
    this.policy = new Policy(config);
  }

  @Override
  public Future<?> start() {
    consumer = vertx.eventBus().consumer(Addresses.DECIDE, message ->
        message.reply(policy.decide(message.body().header())));
    return consumer.completion();
  }

  @Override
  public Future<?> stop() {
    return consumer.unregister();
  }
}
