package io.streamdetour.edge;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;

import java.util.concurrent.Callable;

/**
 * Runs a {@link DetourEdge} as a verticle: binding (which blocks briefly) happens off the event
 * loop, and undeploying closes every connection.
 */
public final class QuicEdgeVerticle extends VerticleBase {

  private final DetourEdge edge;
  private final DecodedStreamHandler handler;
  private final long closeCode;

  public QuicEdgeVerticle(DetourEdge edge, DecodedStreamHandler handler, long closeCode) {
    this.edge = edge;
    this.handler = handler;
    this.closeCode = closeCode;
  }

  public DetourEdge edge() {
    return edge;
  }

  @Override
  public Future<?> start() {
    return vertx.executeBlocking((Callable<Void>) () -> {
      edge.start(handler);
      return null;
    });
  }

  @Override
  public Future<?> stop() {
    return vertx.executeBlocking((Callable<Void>) () -> {
      edge.close(closeCode, "server shutting down");
      return null;
    });
  }
}
