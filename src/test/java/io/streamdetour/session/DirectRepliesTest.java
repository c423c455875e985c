package io.streamdetour.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.ThreadingModel;
import io.vertx.core.VerticleBase;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A stream thread inside {@link DirectReplies#run} gets a worker's reply from the worker itself;
 * any other thread still gets it through an event loop; a reply that never comes still times out.
 */
class DirectRepliesTest {

  private static final String ECHO = "test.direct-replies.echo";
  private static final String SILENT = "test.direct-replies.silent";
  private static Vertx vertx;
  /** Holds the worker's reply until the asker has attached its listener (else the listener runs on the asker). */
  private static volatile CountDownLatch listening;

  @BeforeAll
  static void deployAWorker() throws Exception {
    vertx = Vertx.vertx();
    vertx.deployVerticle(new VerticleBase() {
      @Override
      public Future<?> start() {
        vertx.eventBus().<String>localConsumer(SILENT, message -> {});
        return vertx.eventBus().<String>localConsumer(ECHO, message -> {
          try {
            if (!listening.await(10, TimeUnit.SECONDS)) {
              throw new IllegalStateException("the asker never attached its listener");
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          message.reply(message.body());
        }).completion();
      }
    }, new DeploymentOptions().setThreadingModel(ThreadingModel.WORKER)).await(10, TimeUnit.SECONDS);
  }

  @AfterAll
  static void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  /** The thread that completed a request sent from a fresh virtual thread, direct or not. */
  private static String replyThread(boolean direct) throws Exception {
    AtomicReference<String> completedOn = new AtomicReference<>();
    CompletableFuture<String> body = new CompletableFuture<>();
    listening = new CountDownLatch(1);
    Runnable ask = () -> {
      try {
        Future<Message<String>> reply = vertx.eventBus().request(ECHO, "x", new DeliveryOptions().setLocalOnly(true));
        reply.onComplete(r -> completedOn.set(Thread.currentThread().getName()));
        listening.countDown();
        body.complete(reply.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).body());
      } catch (Exception e) {
        body.completeExceptionally(e);
      }
    };
    Thread.ofVirtual().start(direct ? () -> DirectReplies.run(ask) : ask).join();
    assertEquals("x", body.get());
    return completedOn.get();
  }

  @Test
  void aStreamThreadGetsItsReplyFromTheWorkerThatReplied() throws Exception {
    String direct = replyThread(true);
    assertTrue(direct.startsWith("vert.x-worker-thread"), "completed on " + direct);
    String hopped = replyThread(false);
    assertTrue(hopped.startsWith("vert.x-eventloop-thread"), "without it, an event loop: " + hopped);
  }

  @Test
  void aReplyThatNeverComesStillTimesOut() throws Exception {
    CompletableFuture<Throwable> failure = new CompletableFuture<>();
    Thread.ofVirtual().start(() -> DirectReplies.run(() -> {
      try {
        vertx.eventBus().request(SILENT, "x", new DeliveryOptions().setSendTimeout(200).setLocalOnly(true))
            .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        failure.complete(null);
      } catch (ExecutionException e) {
        failure.complete(e.getCause());
      } catch (Exception e) {
        failure.complete(e);
      }
    })).join();
    ReplyException timeout = assertInstanceOf(ReplyException.class, failure.get());
    assertEquals(ReplyFailure.TIMEOUT, timeout.failureType());
  }
}
