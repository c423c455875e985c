package io.streamdetour.loadgen;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The Rust reference echo server ({@code detour-echo-server}, quinn + rustls) on a free loopback
 * port, accepting ALPN {@code g3-detour}. Found through {@code -Ddetour.echo.server}, then
 * {@code DETOUR_ECHO_SERVER}, then beside {@code G3_DETOUR_CLIENT}, then where {@code .ci/run}
 * builds it.
 */
final class EchoServer implements AutoCloseable {

  private final Process process;
  final int port;

  private EchoServer(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  static Path binary() {
    String property = System.getProperty("detour.echo.server", "");
    if (!property.isEmpty()) {
      return Path.of(property);
    }
    String env = System.getenv("DETOUR_ECHO_SERVER");
    if (env != null && !env.isEmpty()) {
      return Path.of(env);
    }
    String client = System.getenv("G3_DETOUR_CLIENT");
    if (client != null && !client.isEmpty()) {
      return Path.of(client).resolveSibling("detour-echo-server");
    }
    return Path.of("..", "target", "g3-detour-client", "release", "detour-echo-server");
  }

  static boolean available() {
    return Files.isExecutable(binary());
  }

  static EchoServer start(String... options) throws IOException, InterruptedException {
    int port;
    try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
      port = probe.getLocalPort();
    }
    List<String> command = new ArrayList<>(List.of(binary().toString(), "--listen", "127.0.0.1:" + port,
        "--alpn", "g3-detour", "--exit-after", "120"));
    command.addAll(List.of(options));
    Process process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    // It binds at once; a handshake sent before that is retried by QUIC.
    TimeUnit.MILLISECONDS.sleep(200);
    if (!process.isAlive()) {
      throw new IllegalStateException("detour-echo-server exited with " + process.exitValue());
    }
    return new EchoServer(process, port);
  }

  long pid() {
    return process.pid();
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(5, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
  }
}
