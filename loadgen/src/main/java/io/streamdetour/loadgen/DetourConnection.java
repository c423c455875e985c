package io.streamdetour.loadgen;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicConnectionStats;
import io.netty.handler.codec.quic.QuicDatagramExtensionEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One pooled QUIC connection with its own UDP socket, as g3proxy's detour client keeps them: it
 * numbers its sessions 0, 1, 2, ... (match id = number &amp; 0xFFFF), takes at most
 * {@code reuseLimit} of them, and once the last has ended is closed with application error 0,
 * reason {@code finished}. All its state lives on its event loop.
 */
final class DetourConnection {

  /** What the connection's owner hears about it, on the connection's event loop. */
  interface Listener {
    void connected(DetourConnection connection);

    void connectFailed(DetourConnection connection, Throwable cause);

    void closed(DetourConnection connection);

    /** The connection's QUIC counters, read just before it is closed "finished". */
    default void stats(QuicConnectionStats stats) {
    }
  }

  private static final byte[] FINISHED = "finished".getBytes(StandardCharsets.US_ASCII);

  private final int reuseLimit;
  private final Listener listener;
  private EventLoop loop;
  private boolean handshakeTimedOut;
  private long handshakeTimeoutMillis;
  private ScheduledFuture<?> handshakeTimer;
  private boolean established;
  private QuicChannel quic;
  private int sessionsStarted;
  private int sessionsActive;
  private boolean closing;
  private boolean closed;
  /** The largest DATAGRAM payload the server takes, or 0 when it takes none. */
  private int datagramLimit;

  DetourConnection(int reuseLimit, Listener listener) {
    this.reuseLimit = reuseLimit;
    this.listener = listener;
  }

  void connect(QuicClient client, EventLoop loop, long handshakeTimeoutMillis) {
    this.loop = loop;
    this.handshakeTimeoutMillis = handshakeTimeoutMillis;
    client.connect(loop, new ConnectionHandler()).addListener(f -> {
      if (handshakeTimer != null) {
        handshakeTimer.cancel(false);
      }
      if (f.isSuccess()) {
        if (closing || closed) { // given up while the handshake ran
          quic.close();
          return;
        }
        established = true;
        listener.connected(this);
      } else {
        boolean wanted = !closing && !closed;
        closed = true;
        if (wanted) {
          listener.connectFailed(this, handshakeTimedOut
              ? new TimeoutException("QUIC handshake not done in " + handshakeTimeoutMillis + " ms") : f.cause());
        }
      }
    });
  }

  /** The event loop that runs the connection and its sessions. */
  EventLoop quicLoop() {
    return loop;
  }

  QuicChannel quic() {
    return quic;
  }

  boolean isUsable() {
    return established && !closing && !closed && sessionsStarted < reuseLimit;
  }

  int slotsLeft() {
    return closing || closed ? 0 : reuseLimit - sessionsStarted;
  }

  /** Sessions it would still have taken, closed or not. */
  int unusedSlots() {
    return reuseLimit - sessionsStarted;
  }

  /** Takes the next session slot; returns its match id. */
  int takeSession() {
    int matchId = sessionsStarted & 0xFFFF;
    sessionsStarted++;
    sessionsActive++;
    return matchId;
  }

  /** A session of this connection ended; the last one of a used-up connection closes it. */
  void sessionEnded() {
    sessionsActive--;
    if (sessionsActive == 0 && sessionsStarted >= reuseLimit) {
      closeFinished();
    }
  }

  boolean isEstablished() {
    return established;
  }

  /** Closes with application error 0, reason {@code finished}, as g3proxy does. */
  void closeFinished() {
    if (closing || closed) {
      return;
    }
    closing = true;
    if (established && quic.isActive()) {
      quic.collectStats().addListener(f -> {
        if (f.isSuccess()) {
          listener.stats((QuicConnectionStats) f.getNow());
        }
        quic.close(true, 0, Unpooled.wrappedBuffer(FINISHED));
      });
    } else if (quic != null) {
      quic.close();
    } else {
      closed = true;
    }
  }

  /** Whether the server takes DATAGRAM frames on this connection (and so keep-alives). */
  boolean takesDatagrams() {
    return datagramLimit > 0;
  }

  /** Sends one small DATAGRAM frame so the connection does not idle out; false if the server takes none. */
  boolean keepAlive() {
    if (!established || closing || closed || datagramLimit <= 0) {
      return false;
    }
    quic.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {0}), quic.voidPromise());
    return true;
  }

  private final class ConnectionHandler extends ChannelInboundHandlerAdapter {

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      // The handshake starts now, whatever it took to get a socket.
      quic = (QuicChannel) ctx.channel();
      handshakeTimer = loop.schedule(() -> {
        if (!established) {
          handshakeTimedOut = true;
          quic.close(); // fails the handshake, which reports it
        }
      }, handshakeTimeoutMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
      if (event instanceof QuicDatagramExtensionEvent datagrams) {
        datagramLimit = datagrams.maxLength();
      }
      ctx.fireUserEventTriggered(event);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ReferenceCountUtil.release(msg); // DATAGRAM frames from the server: none expected
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      boolean wasOpen = established && !closed;
      closed = true;
      if (wasOpen) {
        listener.closed(DetourConnection.this);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // Connection-level errors end in channelInactive; the sessions on it report what failed.
    }
  }
}
