package io.streamdetour.bench;

import io.streamdetour.config.ServerConfig;
import io.streamdetour.edge.kwik.KwikListener;
import io.streamdetour.tls.TlsIdentity;

/**
 * The ceiling of the Kwik stack, for the benchmarks (bench/compare_echo.py): the server's own
 * {@link KwikListener} with the server's {@code quic.*} settings (same windows, limits, idle
 * timeout, ALPN-less handshake, send-stall guard, a virtual thread per stream), but none of the
 * server above it: no header decoding beyond the match id, no policy, no event bus, no
 * pairing, no metrics. Every north stream is answered continue; every stream is echoed with a
 * {@code relay.buffer-bytes} buffer, FIN after the last byte; a STOP_SENDING makes it read the
 * rest away. Configuration as the server reads it (embedded defaults, {@code --conf FILE},
 * {@code STREAM_DETOUR_*} variables); Vert.x only reads it and is closed before the listener
 * starts.
 *
 * <p>usage: {@code java -cp stream-detour.jar io.streamdetour.bench.KwikEchoServer [--conf FILE]}
 */
public final class KwikEchoServer {

  private KwikEchoServer() {}

  public static void main(String[] args) throws Exception {
    KwikListener listener = start(EchoService.config(args, "KwikEchoServer [--conf FILE]"));
    EchoService.runUntilStopped("bare Kwik echo", listener.localAddress(), code -> listener.close(code, "stopping"));
  }

  /** Starts the echo on {@code quic.*}, with {@code relay.buffer-bytes} buffers. */
  static KwikListener start(ServerConfig config) throws Exception {
    KwikListener listener = new KwikListener(config.quic(),
        TlsIdentity.load(config.tls(), config.quic().host()), "echo");
    int bufferBytes = config.relay().bufferBytes();
    listener.start(stream -> EchoService.serve(stream, bufferBytes));
    return listener;
  }
}
