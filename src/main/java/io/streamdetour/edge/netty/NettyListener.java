package io.streamdetour.edge.netty;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.handler.codec.quic.QLogConfiguration;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicChannelOption;
import io.netty.handler.codec.quic.QuicCodecDispatcher;
import io.netty.handler.codec.quic.QuicConnectionIdGenerator;
import io.netty.handler.codec.quic.QuicServerCodecBuilder;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamType;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.streamdetour.codec.DetourErrorCodes;
import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.EdgeStream;
import io.streamdetour.edge.HandshakeBudget;
import io.streamdetour.edge.UdpBuffers;
import io.streamdetour.tls.TlsIdentity;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A listener on Netty's QUIC codec (quiche and BoringSSL) with the server's transport settings
 * ({@code quic.*}): epoll, {@code quic.sockets} UDP sockets on one port ({@code SO_REUSEPORT},
 * each on an event-loop thread of its own, joined by a {@link QuicCodecDispatcher} so a
 * connection's datagrams reach its codec whichever socket they arrive on), TLS 1.3 with the
 * ALPN ids of {@code quic.alpn}. BoringSSL refuses a client that offers none, so this listener is
 * for clients that offer ALPN, not g3proxy. Every client-opened bidirectional stream is handed,
 * on a virtual thread of its own, to a stream service. {@link NettyEdge} puts the detour
 * protocol on it; the benchmarks' bare echo uses it alone.
 */
public final class NettyListener {

  private static final Logger LOG = LoggerFactory.getLogger(NettyListener.class);
  private static final AttributeKey<NettyConnection> CONNECTION = AttributeKey.valueOf(NettyListener.class, "connection");
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(2);

  private final ServerConfig.Quic settings;
  private final TlsIdentity identity;
  private final String connectionIdPrefix;
  private final ThreadFactory streamThreads = Thread.ofVirtual().name("stream-", 0).factory();
  private final Map<QuicChannel, NettyConnection> connections = new ConcurrentHashMap<>();
  private final AtomicLong connectionCounter = new AtomicLong();
  private final List<Channel> sockets = new ArrayList<>();
  private volatile boolean accepting = true;
  private volatile InetSocketAddress localAddress;
  private final HandshakeBudget handshakes;
  private SwappableKeyManager keyManager;
  private EventLoopGroup group;
  private Consumer<EdgeStream> service;

  /**
   * @param connectionIdPrefix prefixes connection ids so they are unique across a cluster and
   *     across the node's listeners
   */
  public NettyListener(ServerConfig.Quic settings, TlsIdentity identity, String connectionIdPrefix) {
    this.settings = settings;
    this.identity = identity;
    this.connectionIdPrefix = connectionIdPrefix;
    this.handshakes = new HandshakeBudget(settings);
  }

  /**
   * Binds and starts accepting. {@code service} runs once per stream, on that stream's own
   * virtual thread: it may block, and the stream is its until it returns.
   */
  public void start(Consumer<EdgeStream> service) throws Exception {
    this.service = service;
    if (!Epoll.isAvailable()) {
      throw new IllegalStateException("the netty edge needs the epoll transport: " + Epoll.unavailabilityCause());
    }
    if (!settings.qlogDir().isEmpty()) {
      // Netty writes one file per connection only into an existing directory.
      Files.createDirectories(Path.of(settings.qlogDir()));
      LOG.warn("qlog traces of every connection go to {} (quic.qlog-dir): for a diagnosis only", settings.qlogDir());
    }
    keyManager = new SwappableKeyManager(identity);
    QuicSslContext ssl = QuicSslContextBuilder.forServer(keyManager, null)
        .applicationProtocols(settings.alpn().toArray(String[]::new))
        .earlyData(false)
        .build();
    HandshakeGate gate = new HandshakeGate(handshakes);
    QuicCodecDispatcher dispatcher = new RoutableConnectionIds.Dispatcher(settings.serverId()) {
      @Override
      protected void initChannel(Channel channel, int localConnectionIdLength, QuicConnectionIdGenerator ids) {
        channel.pipeline().addLast(gate, codec(ssl, localConnectionIdLength, ids));
      }
    };
    group = new MultiThreadIoEventLoopGroup(settings.sockets(), new DefaultThreadFactory("netty-quic", true),
        EpollIoHandler.newFactory());
    try {
      Bootstrap bootstrap = new Bootstrap().group(group).channel(EpollDatagramChannel.class).handler(dispatcher)
          .option(ChannelOption.SO_RCVBUF, settings.udpBufferBytes())
          .option(ChannelOption.SO_SNDBUF, settings.udpBufferBytes());
      if (settings.sockets() > 1) {
        bootstrap.option(EpollChannelOption.SO_REUSEPORT, true);
      }
      // UDP_GRO stays off: with it on, throughput fell to a few MiB/s with no error (stack.md).
      Channel first = bootstrap.bind(settings.host(), settings.port()).sync().channel();
      sockets.add(first);
      InetSocketAddress bound = (InetSocketAddress) first.localAddress();
      for (int i = 1; i < settings.sockets(); i++) {
        sockets.add(bootstrap.bind(settings.host(), bound.getPort()).sync().channel());
      }
      localAddress = bound;
      UdpBuffers.check(bound, settings.udpBufferBytes(), first.config().getOption(ChannelOption.SO_RCVBUF),
          first.config().getOption(ChannelOption.SO_SNDBUF));
    } catch (Exception | Error e) {
      sockets.forEach(Channel::close);
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw e;
    }
  }

  private io.netty.channel.ChannelHandler codec(QuicSslContext ssl, int connectionIdLength, QuicConnectionIdGenerator ids) {
    QuicServerCodecBuilder builder = new QuicServerCodecBuilder();
    if (!settings.qlogDir().isEmpty()) {
      builder.option(QuicChannelOption.QLOG, new QLogConfiguration(settings.qlogDir(), "stream-detour", "netty edge"));
    }
    return builder
        .sslContext(ssl)
        .maxIdleTimeout(settings.idleTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .initialMaxData(settings.connectionWindow())
        .initialMaxStreamDataBidirectionalRemote(settings.streamWindow())
        // The server never opens streams, and the client may open no unidirectional ones.
        .initialMaxStreamDataBidirectionalLocal(0)
        .initialMaxStreamDataUnidirectional(0)
        .initialMaxStreamsBidirectional(settings.maxStreamsPerConnection())
        .initialMaxStreamsUnidirectional(0)
        .localConnectionIdLength(connectionIdLength)
        .connectionIdAddressGenerator(ids)
        // No token handler: no Retry round trip, as on the Kwik edge; the connection limit guards.
        .handler(new ChannelInitializer<QuicChannel>() {
          @Override
          protected void initChannel(QuicChannel channel) {
            channel.pipeline().addLast(new ConnectionHandler());
          }
        })
        // A FIN from the client ends its side only; the server still sends.
        .streamOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .streamHandler(new ChannelInitializer<QuicStreamChannel>() {
          @Override
          protected void initChannel(QuicStreamChannel channel) {
            onStream(channel);
          }
        })
        .build();
  }

  /** The bound UDP address, or null before start and after close. */
  public InetSocketAddress localAddress() {
    return localAddress;
  }

  public boolean accepting() {
    return accepting && localAddress != null;
  }

  public int connectionCount() {
    return connections.size();
  }

  /** Datagrams that would have started a connection, dropped over {@code quic.max-handshake-rate}. */
  public long handshakesDropped() {
    return handshakes.dropped();
  }

  /** New handshakes use this certificate from now on; established connections keep theirs. */
  public void replaceIdentity(TlsIdentity next) throws GeneralSecurityException {
    keyManager.replace(next);
  }

  public void stopAccepting() {
    accepting = false;
  }

  /** Closes every connection with {@code applicationErrorCode}, then the sockets. */
  public void close(long applicationErrorCode, String reason) {
    stopAccepting();
    List<ChannelFuture> closing = new ArrayList<>();
    for (NettyConnection connection : connections.values()) {
      closing.add(closeConnection(connection.channel(), applicationErrorCode, reason));
    }
    long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
    for (ChannelFuture future : closing) {
      future.awaitUninterruptibly(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    }
    sockets.forEach(s -> s.close().awaitUninterruptibly(CLOSE_WAIT.toMillis()));
    sockets.clear();
    localAddress = null;
    if (group != null) {
      group.shutdownGracefully(0, CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS)
          .awaitUninterruptibly(2 * CLOSE_WAIT.toMillis());
    }
  }

  private static ChannelFuture closeConnection(QuicChannel channel, long code, String reason) {
    return channel.close(true, (int) code, Unpooled.copiedBuffer(reason, StandardCharsets.UTF_8));
  }

  /** The connection a channel is, made at its first use: its handshake or, should one come first, a stream. */
  private NettyConnection connection(QuicChannel channel) {
    NettyConnection connection = channel.attr(CONNECTION).get();
    if (connection == null) {
      connection = new NettyConnection(connectionIdPrefix + "-" + connectionCounter.incrementAndGet(),
          String.valueOf(channel.remoteSocketAddress()), channel);
      channel.attr(CONNECTION).set(connection);
    }
    return connection;
  }

  /** On the connection's event loop. */
  private void onStream(QuicStreamChannel channel) {
    NettyConnection connection = connection(channel.parent());
    NettyStream stream = new NettyStream(channel, connection);
    // Frames, not bare buffers: a FIN that arrives with the last bytes is seen with them. (Set
    // here: as a streamOption Netty 4.2.18 applies it but logs it as unknown for every stream.)
    channel.config().setReadFrames(true);
    channel.pipeline().addLast(stream);
    if (channel.type() != QuicStreamType.BIDIRECTIONAL || channel.isLocalCreated()) {
      // The transport parameters allow none; a peer that opens one anyway gets it cut.
      stream.reset(DetourErrorCodes.LIMIT_EXCEEDED);
      return;
    }
    connection.streams().add(stream);
    streamThreads.newThread(() -> {
      try {
        service.accept(stream);
      } finally {
        stream.serviceEnded(DetourErrorCodes.SESSION_ABORTED);
        connection.streams().remove(stream);
      }
    }).start();
  }

  /** One per QUIC connection, on its event loop. */
  private final class ConnectionHandler extends ChannelInboundHandlerAdapter {

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      QuicChannel channel = (QuicChannel) ctx.channel();
      NettyConnection connection = connection(channel);
      if (!accepting) {
        closeConnection(channel, DetourErrorCodes.SERVER_SHUTDOWN, "server shutting down");
        return;
      }
      if (connections.size() >= settings.maxConnections()) {
        LOG.warn("connection {} from {} refused: {} connections open (quic.max-connections)",
            connection.id(), connection.remoteAddress(), connections.size());
        closeConnection(channel, DetourErrorCodes.LIMIT_EXCEEDED, "too many connections");
        return;
      }
      connections.put(channel, connection);
      LOG.debug("connection {} from {} (ALPN {})", connection.id(), connection.remoteAddress(),
          channel.sslEngine() == null ? "?" : channel.sslEngine().getApplicationProtocol());
      ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      NettyConnection connection = connections.remove((QuicChannel) ctx.channel());
      if (connection != null) {
        LOG.debug("connection {} from {} ended", connection.id(), connection.remoteAddress());
      }
      ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
      if (event instanceof SslHandshakeCompletionEvent done && !done.isSuccess()) {
        String remote = String.valueOf(((QuicChannel) ctx.channel()).remoteSocketAddress());
        String cause = String.valueOf(done.cause().getMessage());
        if (cause.contains("NO_APPLICATION_PROTOCOL")) {
          LOG.warn("handshake from {} refused: the client offered no ALPN id this listener accepts ({}); the netty"
              + " edge serves only clients that offer one (g3proxy offers none: it needs a kwik listener)",
              remote, settings.alpn());
        } else {
          LOG.warn("handshake from {} failed: {}", remote, cause);
        }
      }
      ctx.fireUserEventTriggered(event);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      LOG.debug("connection from {}: {}", ((QuicChannel) ctx.channel()).remoteSocketAddress(), cause.toString());
    }
  }
}
