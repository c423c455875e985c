package io.streamdetour.loadgen;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicClientCodecBuilder;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The QUIC side of the client on Netty's QUIC codec (quiche + BoringSSL): the event loops and
 * the UDP sockets the connections run on.
 *
 * <p>g3proxy gives every QUIC connection a UDP socket of its own (a quinn endpoint), so a server
 * that spreads connections over {@code SO_REUSEPORT} sockets by source address sees them spread.
 * Here a socket carries at most {@code --connections-per-socket} connections at a time (1, as
 * g3proxy, by default) and is used again for a new connection once one has closed: each socket
 * has its own quiche configuration, whose creation costs milliseconds, too much to pay for every
 * one of thousands of connections a second.
 *
 * <p>Transport as g3proxy's detour client: the server may open no streams; idle timeout 60 s.
 * BoringSSL insists on ALPN for QUIC, so the client must offer at least one protocol id, which
 * g3proxy does not: see README.
 */
final class QuicClient implements AutoCloseable {

  /** A UDP socket with its QUIC codec, and how many connections it carries now. */
  private static final class Endpoint {
    final Channel udp;
    int connections;
    boolean spare;

    Endpoint(Channel udp) {
      this.udp = udp;
    }
  }

  private final EventLoopGroup group;
  private final Class<? extends DatagramChannel> channelType;
  private final QuicClientCodecBuilder codec;
  private final QuicSslContext ssl;
  private final InetSocketAddress server;
  private final String tlsName;
  private final int connectionsPerSocket;
  private final int udpBufferBytes;
  /** Per event loop, the sockets that can take another connection; touched on that loop only. */
  private final Map<EventLoop, ArrayDeque<Endpoint>> spares = new ConcurrentHashMap<>();
  private final ExecutorService codecFactory = Executors.newSingleThreadExecutor(task -> {
    Thread thread = new Thread(task, "quic-codec-factory");
    thread.setDaemon(true);
    return thread;
  });

  QuicClient(Settings settings) throws Exception {
    boolean epoll = Epoll.isAvailable();
    IoHandlerFactory ioHandler = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    group = new MultiThreadIoEventLoopGroup(settings.threads(), ioHandler);
    channelType = epoll ? EpollDatagramChannel.class : NioDatagramChannel.class;
    QuicSslContextBuilder sslBuilder = QuicSslContextBuilder.forClient()
        .applicationProtocols(settings.alpn().toArray(String[]::new));
    if (settings.caCert() == null) {
      sslBuilder.trustManager(InsecureTrustManagerFactory.INSTANCE);
    } else {
      sslBuilder.trustManager(settings.caCert().toFile());
    }
    ssl = sslBuilder.build();
    server = settings.server();
    // g3proxy checks the certificate against tls_name, else the server's IP address as a string.
    tlsName = settings.serverName() != null ? settings.serverName() : server.getAddress().getHostAddress();
    connectionsPerSocket = settings.connectionsPerSocket();
    udpBufferBytes = settings.udpBuffer();
    codec = new QuicClientCodecBuilder()
        .sslEngineProvider(quic -> ssl.newEngine(quic.alloc(), tlsName, server.getPort()))
        .maxIdleTimeout(settings.idleTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .maxSendUdpPayloadSize(settings.maxUdpPayload())
        .maxRecvUdpPayloadSize(settings.maxUdpPayload())
        .initialMaxData(settings.connectionWindow())
        .initialMaxStreamDataBidirectionalLocal(settings.streamWindow())
        .initialMaxStreamDataBidirectionalRemote(0)
        .initialMaxStreamDataUnidirectional(0)
        .initialMaxStreamsBidirectional(0)
        .initialMaxStreamsUnidirectional(0);
    if (settings.holdIdle() != null) {
      // The codec has no PING; an idle connection is kept alive with DATAGRAM frames (RFC 9221)
      // where the server takes them. See IdleHold.
      codec.datagram(16, 16);
    }
  }

  EventLoop nextLoop() {
    return group.next();
  }

  /**
   * Starts a QUIC handshake with the server on {@code loop} (call it on that loop), on a spare
   * socket or a new one; {@code handler} is the connection's handler. The socket is handed on
   * when the connection has closed.
   */
  Future<QuicChannel> connect(EventLoop loop, ChannelHandler handler) {
    Promise<QuicChannel> promise = loop.newPromise();
    ArrayDeque<Endpoint> spare = spares.computeIfAbsent(loop, l -> new ArrayDeque<>());
    Endpoint endpoint;
    while ((endpoint = spare.peekFirst()) != null && !endpoint.udp.isActive()) {
      spare.pollFirst().spare = false;
    }
    if (endpoint != null) {
      connectOn(endpoint, spare, handler, promise);
      return promise;
    }
    // A new socket's codec brings a quiche configuration of its own, which takes milliseconds of
    // CPU to create: made on the factory thread, so that the event loop's sessions do not wait.
    codecFactory.execute(() -> {
      ChannelHandler socketCodec;
      try {
        socketCodec = codec.clone().build();
      } catch (RuntimeException e) {
        promise.tryFailure(e);
        return;
      }
      try {
        loop.execute(() -> new Bootstrap().group(loop).channel(channelType).handler(socketCodec)
            .option(ChannelOption.SO_RCVBUF, udpBufferBytes)
            .option(ChannelOption.SO_SNDBUF, udpBufferBytes)
            .bind(new InetSocketAddress(0))
            .addListener((ChannelFuture bind) -> {
              if (bind.isSuccess()) {
                connectOn(new Endpoint(bind.channel()), spare, handler, promise);
              } else {
                promise.tryFailure(bind.cause());
              }
            }));
      } catch (RejectedExecutionException e) {
        // the run ended while the codec was made: nobody waits for this connection
      }
    });
    return promise;
  }

  private void connectOn(Endpoint endpoint, ArrayDeque<Endpoint> spare, ChannelHandler handler,
      Promise<QuicChannel> promise) {
    endpoint.connections++;
    if (endpoint.connections >= connectionsPerSocket && endpoint.spare) {
      spare.remove(endpoint);
      endpoint.spare = false;
    } else if (endpoint.connections < connectionsPerSocket && !endpoint.spare) {
      spare.addLast(endpoint);
      endpoint.spare = true;
    }
    QuicChannel.newBootstrap(endpoint.udp).handler(handler).remoteAddress(server).connect()
        .addListener(connect -> {
          if (connect.isSuccess()) {
            QuicChannel quic = (QuicChannel) connect.getNow();
            quic.closeFuture().addListener(closed -> release(endpoint, spare));
            promise.trySuccess(quic);
          } else {
            release(endpoint, spare);
            promise.tryFailure(connect.cause());
          }
        });
  }

  private void release(Endpoint endpoint, ArrayDeque<Endpoint> spare) {
    endpoint.connections--;
    if (!endpoint.spare && endpoint.udp.isActive()) {
      spare.addLast(endpoint);
      endpoint.spare = true;
    }
  }

  @Override
  public void close() {
    codecFactory.shutdownNow();
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
