package io.streamdetour.edge.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.quic.DefaultQuicStreamFrame;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.streamdetour.edge.EdgeStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A Netty {@link QuicStreamChannel} as a blocking {@link EdgeStream}, for virtual threads.
 *
 * <p>Every operation on the channel runs on its event loop, in the order the stream's thread
 * issued it, through the channel's own write path: the FIN is a frame written after the data
 * (never {@code shutdownOutput()}, which bypasses the bytes Netty still queues for a full
 * window), with the last bytes when the caller knows them ({@link #writeAndFinish}: quiche never
 * sends a lost FIN again when it travelled alone and the bytes before it were acknowledged), and
 * each write, once quiche takes it, makes the connection send and flush its datagrams. The
 * channel is closed only when both directions are done and the FIN's write has completed, so
 * nothing queued is dropped.
 *
 * <p>Bounded both ways: received buffers wait in a queue of at most {@link #READ_QUEUE_BYTES};
 * when it is full, auto-read goes off and quiche holds the rest within the stream's flow-control
 * window. A write blocks while more than {@link #WRITE_PENDING_BYTES} handed to the channel have
 * not yet been taken by quiche (the channel's own unwritable state, counted exactly).
 */
final class NettyStream extends ChannelInboundHandlerAdapter implements EdgeStream {

  private static final Logger LOG = LoggerFactory.getLogger(NettyStream.class);

  static final int READ_QUEUE_BYTES = 256 * 1024;
  static final int WRITE_PENDING_BYTES = 256 * 1024;

  private final QuicStreamChannel channel;
  private final NettyConnection connection;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();

  // Guarded by lock.
  private final ArrayDeque<ByteBuf> received = new ArrayDeque<>();
  private int receivedBytes;
  private boolean endOfInput;
  private IOException inputFailure;
  private boolean readPaused;
  private long pendingWriteBytes;
  private IOException outputFailure;
  private boolean finishing;
  private boolean inputDone;
  private boolean outputDone;
  private boolean closed;

  NettyStream(QuicStreamChannel channel, NettyConnection connection) {
    this.channel = channel;
    this.connection = connection;
  }

  @Override
  public String connectionId() {
    return connection.id();
  }

  @Override
  public long streamId() {
    return channel.streamId();
  }

  @Override
  public String remoteAddress() {
    return connection.remoteAddress();
  }

  // ---- the stream's thread ----

  @Override
  public int available() {
    lock.lock();
    try {
      return receivedBytes;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public int read(byte[] buffer, int offset, int length) throws IOException {
    if (length == 0) {
      return 0;
    }
    boolean resume = false;
    int n;
    lock.lock();
    try {
      while (received.isEmpty() && !endOfInput && inputFailure == null) {
        changed.awaitUninterruptibly();
      }
      if (inputFailure != null) {
        throw inputFailure;
      }
      if (received.isEmpty()) {
        inputDone = true;
        n = -1;
      } else {
        ByteBuf head = received.peekFirst();
        n = Math.min(length, head.readableBytes());
        head.readBytes(buffer, offset, n);
        if (!head.isReadable()) {
          received.pollFirst().release();
        }
        receivedBytes -= n;
        if (readPaused && receivedBytes <= READ_QUEUE_BYTES / 2) {
          readPaused = false;
          resume = true;
        }
      }
    } finally {
      lock.unlock();
    }
    if (resume) {
      onLoop(() -> channel.config().setAutoRead(true));
    } else if (n < 0) {
      closeIfDone();
    }
    return n;
  }

  @Override
  public boolean inputComplete() {
    lock.lock();
    try {
      return endOfInput && received.isEmpty() && inputFailure == null;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void write(byte[] buffer, int offset, int length) throws IOException {
    send(buffer, offset, length, false);
  }

  @Override
  public void writeAndFinish(byte[] buffer, int offset, int length) throws IOException {
    if (length == 0) {
      finish();
    } else {
      send(buffer, offset, length, true);
    }
  }

  private void send(byte[] buffer, int offset, int length, boolean fin) throws IOException {
    if (length == 0) {
      return;
    }
    lock.lock();
    try {
      while (pendingWriteBytes >= WRITE_PENDING_BYTES && outputFailure == null) {
        changed.awaitUninterruptibly();
      }
      if (outputFailure != null) {
        throw outputFailure;
      }
      if (finishing) {
        throw new IOException("stream " + this + " already finished");
      }
      pendingWriteBytes += length;
      finishing = fin;
    } finally {
      lock.unlock();
    }
    // The copy happens here, off the event loop; quiche reads direct memory.
    ByteBuf data = channel.alloc().directBuffer(length).writeBytes(buffer, offset, length);
    Object message = fin ? new DefaultQuicStreamFrame(data, true) : data;
    if (!onLoop(() -> channel.writeAndFlush(message).addListener(f -> {
      written(f, length);
      if (fin) {
        finWritten(f);
      }
    }))) {
      data.release();
    }
  }

  @Override
  public void finish() {
    lock.lock();
    try {
      if (finishing || outputFailure != null) {
        return;
      }
      finishing = true;
    } finally {
      lock.unlock();
    }
    // In order after every write so far, through Netty's write queue.
    onLoop(() -> channel.writeAndFlush(new DefaultQuicStreamFrame(Unpooled.EMPTY_BUFFER, true))
        .addListener(this::finWritten));
  }

  private void finWritten(Future<? super Void> future) {
    lock.lock();
    try {
      outputDone = true;
      if (!future.isSuccess() && outputFailure == null) {
        outputFailure = new IOException("stream " + this + ": FIN not sent", future.cause());
      }
    } finally {
      lock.unlock();
    }
    closeIfDone();
  }

  @Override
  public void reset(long applicationErrorCode) {
    boolean cut = failOutput(new IOException("stream " + this + " reset by the server"));
    boolean stop = failInput(new IOException("stream " + this + " reset by the server"));
    if (cut || stop) {
      onLoop(() -> {
        if (channel.isActive()) {
          int code = (int) applicationErrorCode;
          if (cut && stop) {
            channel.shutdown(code);
          } else if (cut) {
            channel.shutdownOutput(code);
          } else {
            channel.shutdownInput(code);
          }
        }
        closeIfDone();
      });
    }
  }

  @Override
  public void stopReading(long applicationErrorCode) {
    if (failInput(new IOException("stream " + this + ": reading stopped by the server"))) {
      onLoop(() -> {
        if (channel.isActive()) {
          channel.shutdownInput((int) applicationErrorCode);
        }
        closeIfDone();
      });
    }
  }

  /** Ends the input side with {@code failure} unless it ended already; true if it did now. */
  private boolean failInput(IOException failure) {
    lock.lock();
    try {
      if (inputDone) {
        return false;
      }
      inputDone = true;
      if (inputFailure == null) {
        inputFailure = failure;
      }
      releaseReceived();
      changed.signalAll();
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Ends the output side with {@code failure} unless it ended already; true if it did now. */
  private boolean failOutput(IOException failure) {
    lock.lock();
    try {
      if (outputDone) {
        return false;
      }
      outputDone = true;
      finishing = true;
      if (outputFailure == null) {
        outputFailure = failure;
      }
      changed.signalAll();
      return true;
    } finally {
      lock.unlock();
    }
  }

  private void releaseReceived() {
    received.forEach(ReferenceCountUtil::release);
    received.clear();
    receivedBytes = 0;
  }

  /** Runs {@code task} on the channel's event loop; false if the loop is gone (then all fails). */
  private boolean onLoop(Runnable task) {
    try {
      channel.eventLoop().execute(task);
      return true;
    } catch (RejectedExecutionException stopped) {
      IOException failure = new IOException("stream " + this + ": event loop stopped");
      failInput(failure);
      failOutput(failure);
      return false;
    }
  }

  // ---- the event loop ----

  private void written(Future<? super Void> future, int length) {
    boolean failed = !future.isSuccess();
    lock.lock();
    try {
      pendingWriteBytes -= length;
      if (failed) {
        // STOP_SENDING from the peer, or the stream or connection closed: this side is over.
        outputDone = true;
        if (outputFailure == null) {
          outputFailure = new IOException("stream " + this + ": write failed: " + future.cause(), future.cause());
        }
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    if (failed) {
      LOG.debug("stream {}: write failed: {}", this, future.cause().toString());
      closeIfDone();
    }
  }

  /**
   * The stream's thread is over: whatever side it left open is ended, so the channel closes and
   * its buffers go back.
   */
  void serviceEnded(long applicationErrorCode) {
    boolean inputOpen;
    boolean outputOpen;
    lock.lock();
    try {
      inputOpen = !inputDone;
      outputOpen = !outputDone && !finishing;
    } finally {
      lock.unlock();
    }
    if (outputOpen) {
      reset(applicationErrorCode);
    } else if (inputOpen) {
      stopReading(applicationErrorCode);
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    // Frames (READ_FRAMES), so that a FIN arriving with the last bytes is seen with them.
    QuicStreamFrame frame = (QuicStreamFrame) msg;
    ByteBuf data = frame.content();
    lock.lock();
    try {
      if (inputDone || endOfInput || inputFailure != null) {
        data.release();
        return;
      }
      if (data.isReadable()) {
        received.addLast(data);
        receivedBytes += data.readableBytes();
      } else {
        data.release();
      }
      if (frame.hasFin()) {
        endOfInput = true;
      }
      if (receivedBytes >= READ_QUEUE_BYTES && !readPaused) {
        readPaused = true;
        ctx.channel().config().setAutoRead(false);
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
    if (event instanceof ChannelInputShutdownEvent) {
      lock.lock();
      try {
        endOfInput = true;
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }
    ReferenceCountUtil.release(event);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // A RESET_STREAM from the peer (QuicStreamResetException) or another receive error.
    lock.lock();
    try {
      if (!endOfInput && inputFailure == null) {
        inputFailure = new IOException("stream " + this + ": " + cause, cause);
        releaseReceived();
        changed.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    // Closed by the connection's end, or by Netty once both FINs passed: the reader keeps what
    // arrived before a FIN; anything else waiting is failed.
    lock.lock();
    try {
      closed = true;
      if (!endOfInput && inputFailure == null) {
        inputFailure = new IOException("stream " + this + ": closed (connection " + connection.id() + " ended)");
        releaseReceived();
      }
      if (outputFailure == null && !outputDone) {
        outputFailure = new IOException("stream " + this + ": closed (connection " + connection.id() + " ended)");
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    connection.streams().remove(this);
  }

  /** Closes the channel once both sides are done (Netty closes it itself after both FINs). */
  private void closeIfDone() {
    lock.lock();
    try {
      if (!inputDone || !outputDone || closed) {
        return;
      }
      closed = true;
    } finally {
      lock.unlock();
    }
    onLoop(() -> {
      if (channel.isActive()) {
        channel.close();
      }
    });
  }

  ChannelFuture closeFuture() {
    return channel.closeFuture();
  }

  @Override
  public String toString() {
    return connection.id() + "/" + channel.streamId();
  }
}
