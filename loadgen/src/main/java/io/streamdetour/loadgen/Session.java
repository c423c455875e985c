package io.streamdetour.loadgen;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.ChannelOutputShutdownException;
import io.netty.handler.codec.quic.DefaultQuicStreamFrame;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamResetException;
import io.netty.handler.codec.quic.QuicStreamType;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One client-remote session as g3proxy's detour client runs it, on one connection's event loop:
 * open north then south, write the north header (and payload), read the 4-byte reply, and on
 * continue write the south header and relay pseudo-random data both ways, checking every echoed
 * byte as it arrives. Nothing of a session is kept but offsets: the data is regenerated from the
 * session's seed to check it.
 */
final class Session {

  /** Application error code of the RESET_STREAM and STOP_SENDING sent when a session is aborted. */
  static final int ABORT_CODE = 1;

  /** What the session's owner hears when it has ended, ok or not. */
  interface Owner {
    void sessionEnded(Session session, boolean ok);
  }

  private enum State { OPENING, AWAIT_REPLY, RELAY, DONE }

  private final SessionContext context;
  private final Owner owner;
  private final DetourConnection connection;
  private final long number;
  private final int matchId;
  private final Stream north;
  private final Stream south;
  private State state = State.OPENING;
  private long headerWrittenAt;
  private ScheduledFuture<?> timer;
  private int replyBytesRead;
  private int reply;
  /** With --end g3: the stream whose side of the proxied session closes first, and the other. */
  private Stream first;
  private Stream other;
  private boolean bothFinished;

  Session(SessionContext context, Owner owner, DetourConnection connection, long number) {
    this.context = context;
    this.owner = owner;
    this.connection = connection;
    this.number = number;
    this.matchId = connection.takeSession();
    long seed = context.settings().seed();
    this.north = new Stream("north", PatternData.of(seed, number, true));
    this.south = new Stream("south", PatternData.of(seed, number, false));
  }

  DetourConnection connection() {
    return connection;
  }

  /** Opens north, then south, on the connection (as g3proxy: both before the header goes out). */
  void start() {
    open(north, () -> open(south, this::writeNorthHeader));
  }

  private void open(Stream stream, Runnable then) {
    connection.quic().newStreamBootstrap()
        .type(QuicStreamType.BIDIRECTIONAL)
        .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .handler(stream)
        .create()
        .addListener(f -> {
          if (f.isSuccess()) {
            stream.channel = (QuicStreamChannel) f.getNow();
            if (state == State.DONE) {
              stream.abort();
            } else {
              then.run();
            }
          } else {
            fail(ErrorKind.STREAM_OPEN, "opening the " + stream.name + " stream: " + f.cause());
          }
        });
  }

  private void writeNorthHeader() {
    ByteBuf header = north.channel.alloc().directBuffer(context.headers().northLength());
    context.headers().writeNorth(matchId, header);
    state = State.AWAIT_REPLY;
    headerWrittenAt = System.nanoTime();
    north.channel.writeAndFlush(header, north.channel.voidPromise());
    timer = north.channel.eventLoop().schedule(
        () -> fail(ErrorKind.REPLY_TIMEOUT, "no reply within " + context.settings().requestTimeout()),
        context.settings().requestTimeout().toNanos(), TimeUnit.NANOSECONDS);
  }

  private void replyRead() {
    long now = System.nanoTime();
    timer.cancel(false);
    context.stats().decision(now - headerWrittenAt);
    int echoedMatchId = reply >>> 16;
    Settings.Action action = Settings.Action.ofCode(reply & 0xFFFF);
    context.stats().actions.get(action).increment();
    if (echoedMatchId != matchId) {
      fail(ErrorKind.INVALID_MATCH_ID, "reply match id " + echoedMatchId + ", expected " + matchId);
      return;
    }
    if (action != context.settings().expectAction()) {
      fail(ErrorKind.UNEXPECTED_ACTION, "reply " + action.key() + ", expected "
          + context.settings().expectAction().key());
      return;
    }
    if (action != Settings.Action.CONTINUE) {
      // g3proxy finishes both detour streams and drops them (STOP_SENDING 0 for what is unread).
      context.stats().setup(now - headerWrittenAt);
      state = State.DONE; // before the drops, whose events must not fail the session
      north.drop();
      south.drop();
      end(true);
      return;
    }
    ByteBuf header = south.channel.alloc().directBuffer(context.headers().southLength());
    context.headers().writeSouth(matchId, header);
    south.channel.writeAndFlush(header, south.channel.voidPromise());
    context.stats().setup(System.nanoTime() - headerWrittenAt);
    startRelay();
  }

  private void startRelay() {
    state = State.RELAY;
    Settings settings = context.settings();
    long bytes = settings.bytes();
    if (settings.end() == Settings.EndMode.G3) {
      boolean clientFirst = switch (settings.endFirst()) {
        case CLIENT -> true;
        case REMOTE -> false;
        case ALTERNATE -> (number & 1) == 0;
      };
      first = clientFirst ? north : south;
      other = clientFirst ? south : north;
      first.toSend = bytes;
      // The other side has sent 0..100 % of --bytes by the time the first side closes.
      other.toSend = bytes * (Math.floorMod(PatternData.mix(settings.seed() ^ number), 101)) / 100;
    } else {
      north.toSend = bytes;
      south.toSend = bytes;
    }
    timer = north.channel.eventLoop().schedule(
        () -> fail(ErrorKind.RELAY_TIMEOUT, "data phase longer than " + settings.relayTimeout()),
        settings.relayTimeout().toNanos(), TimeUnit.NANOSECONDS);
    if (settings.sessionIdle() == null) {
      startWrites();
    } else {
      // Held open and idle first: many sessions at once without many bytes.
      north.channel.eventLoop().schedule(this::startWrites, settings.sessionIdle().toNanos(), TimeUnit.NANOSECONDS);
    }
  }

  private void startWrites() {
    if (state == State.RELAY) {
      north.pumpWrites();
      south.pumpWrites();
    }
  }

  /** A stream has had all its bytes written. */
  private void writesDone(Stream stream) {
    if (first == null) {
      stream.finish();
      return;
    }
    if (!bothFinished && first.sent == first.toSend && other.sent == other.toSend) {
      // g3proxy: one side of the proxied session closed; finish both send sides at once and stop
      // relaying the other direction.
      bothFinished = true;
      first.finish();
      other.finish();
      other.channel.config().setAutoRead(false);
    }
  }

  private void finReceived(Stream stream) {
    if (state != State.RELAY) {
      if (state == State.AWAIT_REPLY && stream == north) {
        fail(ErrorKind.REPLY_SHORT, "north stream ended after " + replyBytesRead + " reply bytes");
      }
      return;
    }
    if (first == null) {
      if (stream.received < stream.toSend) {
        fail(ErrorKind.SHORT_DATA, stream.name + " echo ended after " + stream.received + " of "
            + stream.toSend + " bytes");
      } else if (north.finReceived && south.finReceived && north.finSent && south.finSent) {
        end(true);
      }
      return;
    }
    if (!bothFinished) {
      fail(ErrorKind.SHORT_DATA, "server finished the " + stream.name + " stream before the session closed ("
          + stream.received + " of " + stream.toSend + " bytes back)");
    } else if (stream == first) {
      if (stream.received < stream.toSend) {
        fail(ErrorKind.SHORT_DATA, stream.name + " echo ended after " + stream.received + " of "
            + stream.toSend + " bytes");
      } else {
        state = State.DONE; // before the drop, whose events must not fail the session
        other.drop();
        end(true);
      }
    }
  }

  private void fail(ErrorKind kind, String description) {
    if (state == State.DONE) {
      return;
    }
    // DONE first: aborting a stream can fire events on the other that would fail the session again.
    state = State.DONE;
    context.stats().error(kind, "session " + number + " (match id " + matchId + "): " + description);
    north.abort();
    south.abort();
    end(false);
  }

  private void end(boolean ok) {
    state = State.DONE;
    if (timer != null) {
      timer.cancel(false);
    }
    owner.sessionEnded(this, ok);
  }

  /** One stream of the session: its Netty handler and what went out and came back on it. */
  private final class Stream extends ChannelInboundHandlerAdapter {

    final String name;
    final PatternData data;
    QuicStreamChannel channel;
    long toSend;
    long sent;
    long received;
    boolean finSent;
    boolean finReceived;

    Stream(String name, PatternData data) {
      this.name = name;
      this.data = data;
    }

    void pumpWrites() {
      int chunk = context.settings().chunk();
      boolean wrote = false;
      while (sent < toSend && channel.isWritable() && state == State.RELAY) {
        int length = (int) Math.min(chunk, toSend - sent);
        ByteBuf buf = channel.alloc().directBuffer(length);
        data.write(sent, length, buf);
        sent += length;
        channel.write(buf, channel.voidPromise());
        wrote = true;
      }
      if (wrote) {
        channel.flush();
      }
      if (sent == toSend && state == State.RELAY && !finSent) {
        writesDone(this);
      }
    }

    void finish() {
      if (!finSent) {
        finSent = true;
        // A FIN frame written in line: shutdownOutput() would put the FIN into quiche at once,
        // ahead of any data still queued for lack of stream credit, and cut the stream short.
        channel.writeAndFlush(new DefaultQuicStreamFrame(Unpooled.EMPTY_BUFFER, true)).addListener(f -> {
          if (!f.isSuccess()) {
            fail(ErrorKind.WRITE, "finishing the " + name + " stream: " + f.cause());
          }
        });
      }
    }

    /** g3proxy's drop: FIN if not sent yet, STOP_SENDING(0) for what is unread. */
    void drop() {
      if (channel != null && channel.isActive()) {
        finSent = true;
        channel.shutdown().addListener(f -> channel.close());
      }
    }

    /** RESET_STREAM and STOP_SENDING with {@link #ABORT_CODE}. */
    void abort() {
      if (channel != null && channel.isActive()) {
        channel.shutdown(ABORT_CODE).addListener(f -> channel.close());
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf buf = (ByteBuf) msg;
      try {
        if (state == State.AWAIT_REPLY && this == north) {
          while (replyBytesRead < 4 && buf.isReadable()) {
            reply = (reply << 8) | buf.readUnsignedByte();
            replyBytesRead++;
          }
          if (replyBytesRead == 4) {
            replyRead();
          }
        }
        if (buf.isReadable() && state != State.DONE) {
          check(buf);
        }
      } finally {
        ReferenceCountUtil.release(buf);
      }
    }

    private void check(ByteBuf buf) {
      if (state != State.RELAY) {
        fail(ErrorKind.EXCESS_DATA, buf.readableBytes() + " bytes on " + name + " before the relay started");
        return;
      }
      int length = buf.readableBytes();
      long expected = Math.max(0, toSend - received);
      if (expected > 0) {
        ByteBuf within = length > expected ? buf.slice(buf.readerIndex(), (int) expected) : buf;
        int mismatch = data.firstMismatch(received, within);
        if (mismatch >= 0) {
          fail(ErrorKind.DATA_MISMATCH, name + " echo differs at byte " + (received + mismatch));
          return;
        }
        context.stats().bytesVerified.add(within.readableBytes());
      }
      if (length > expected) {
        fail(ErrorKind.EXCESS_DATA, name + " echo is longer than the " + toSend + " bytes sent");
        return;
      }
      received += length;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
      if (event == ChannelInputShutdownReadComplete.INSTANCE) {
        finReceived = true;
        finReceived(this);
      }
      ReferenceCountUtil.release(event);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (channel != null && channel.isWritable() && state == State.RELAY) {
        pumpWrites();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (cause instanceof QuicStreamResetException reset) {
        fail(ErrorKind.RESET, "server reset the " + name + " stream (code " + reset.applicationProtocolCode() + ")");
      } else if (cause instanceof ChannelOutputShutdownException) {
        fail(ErrorKind.RESET, "server stopped the " + name + " stream (STOP_SENDING): " + cause.getMessage());
      } else if (!connection.quic().isActive()) {
        fail(ErrorKind.CONNECTION_CLOSED, "connection closed: " + cause);
      } else {
        fail(ErrorKind.WRITE, name + " stream: " + cause);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (state == State.DONE || (finSent && finReceived)) {
        return;
      }
      if (!connection.quic().isActive()) {
        fail(ErrorKind.CONNECTION_CLOSED, "connection closed with the session running");
      } else {
        fail(ErrorKind.RESET, name + " stream closed with the session running");
      }
    }
  }
}
