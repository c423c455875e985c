package io.streamdetour.policy;

import io.streamdetour.bus.Addresses;
import io.streamdetour.bus.DecisionRequest;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.Supplier;

/**
 * Answers decision requests from the policy. Deployed as worker instances, so a slow matcher
 * (or a plugin's) never holds an event loop.
 */
public final class PolicyVerticle extends VerticleBase {

  /** The failure code of a decision the policy could not make; the asker's fallback answers. */
  public static final int POLICY_ERROR = 500;
  private static final Logger LOG = LoggerFactory.getLogger(PolicyVerticle.class);

  private final Supplier<Policy> policy;
  private MessageConsumer<DecisionRequest> consumer;

  /** @param policy the policy in force; read per request, so a reloaded one applies at once */
  public PolicyVerticle(Supplier<Policy> policy) {
    this.policy = policy;
  }

  @Override
  public Future<?> start() {
    // Local: each node decides by its own policy, as its own file says.
    consumer = vertx.eventBus().localConsumer(Addresses.DECIDE, message -> {
      DecisionRequest request = message.body();
      try {
        message.reply(policy.get().decide(request.header()));
      } catch (RuntimeException e) {
        LOG.error("policy failed on task {}: {}", request.header().taskId(), e.toString(), e);
        message.fail(POLICY_ERROR, "policy failed: " + e);
      }
    });
    return consumer.completion();
  }

  @Override
  public Future<?> stop() {
    return consumer.unregister();
  }
}
