package io.streamdetour.bench;

import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.netty.NettyListener;
import io.streamdetour.tls.TlsIdentity;

/**
 * The ceiling of the Netty QUIC stack, for the benchmarks (bench/compare_echo.py): the server's
 * own {@link NettyListener} with the server's {@code quic.*} settings (same windows, limits, idle
 * timeout, {@code quic.sockets}, ALPN ids, the same stream bridge with a virtual thread per
 * stream), but none of the server above it: no header decoding beyond the match id, no policy,
 * no event bus, no pairing, no metrics. Every north stream is answered continue; every stream is
 * echoed with a {@code relay.buffer-bytes} buffer, FIN after the last byte; a STOP_SENDING makes
 * it read the rest away. Configuration as the server reads it (embedded defaults,
 * {@code --conf FILE}, {@code STREAM_DETOUR_*} variables), whatever {@code quic.edge} says;
 * {@code quic.alpn} must name at least one id. Vert.x only reads it and is closed before the
 * listener starts.
 *
 * <p>usage: {@code STREAM_DETOUR_QUIC__ALPN=g3-detour java --enable-native-access=ALL-UNNAMED -cp
 * stream-detour.jar io.streamdetour.bench.NettyEchoServer [--conf FILE]}
 */
public final class NettyEchoServer {

  private NettyEchoServer() {}

  public static void main(String[] args) throws Exception {
    NettyListener listener = start(EchoService.config(args, "NettyEchoServer [--conf FILE]"));
    EchoService.runUntilStopped("bare Netty echo", listener.localAddress(), code -> listener.close(code, "stopping"));
  }

  /** Starts the echo on {@code quic.*}, with {@code relay.buffer-bytes} buffers. */
  static NettyListener start(ServerConfig config) throws Exception {
    if (config.quic().alpn().isEmpty()) {
      throw new IllegalArgumentException("quic.alpn is empty: the Netty echo serves only clients that offer ALPN"
          + " (STREAM_DETOUR_QUIC__ALPN=g3-detour)");
    }
    NettyListener listener = new NettyListener(config.quic(),
        TlsIdentity.load(config.tls(), config.quic().host()), "echo");
    int bufferBytes = config.relay().bufferBytes();
    listener.start(stream -> EchoService.serve(stream, bufferBytes));
    return listener;
  }
}
