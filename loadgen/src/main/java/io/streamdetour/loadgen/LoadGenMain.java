package io.streamdetour.loadgen;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The command line: parses and checks the options, runs, prints the summary, exits 0 when every session passed. */
@Command(name = "stream-detour-loadgen", mixinStandardHelpOptions = true, sortOptions = false,
    usageHelpWidth = 100, abbreviateSynopsis = true, version = "stream-detour-loadgen 0.1.0",
    description = {
        "Load generator for stream-detour servers: a g3proxy-like detour client on Netty's QUIC codec.",
        "Prints a progress line every second on stderr and one summary line (or --json) on stdout.",
        "Exit status: 0 when every session passed, 1 when not, 2 on bad usage."},
    footer = {"", "Sizes take K, M, G (binary) suffixes; times are seconds (fractions allowed)."})
public final class LoadGenMain implements Callable<Integer> {

  /** Exit status of a run where a session failed. */
  static final int EXIT_FAILED = 1;

  @Option(names = "--server", paramLabel = "HOST:PORT", description = "detour server (default ${DEFAULT-VALUE})")
  String server = "127.0.0.1:2888";

  @Option(names = "--server-name", paramLabel = "NAME",
      description = "TLS server name to send and verify (default: the server's IP address, as g3proxy)")
  String serverName;

  @Option(names = "--alpn", paramLabel = "PROTO", split = ",",
      description = "ALPN ids to offer (default ${DEFAULT-VALUE}); QUIC with BoringSSL needs one, g3proxy offers none")
  List<String> alpn = List.of("g3-detour");

  @Option(names = "--ca-cert", paramLabel = "FILE", description = "verify the server certificate against this PEM")
  Path caCert;

  @Option(names = "--insecure", description = "skip certificate verification (the default unless --ca-cert)")
  boolean insecure;

  @Option(names = "--connections", paramLabel = "N",
      description = "connections kept open that still take sessions (pool minimum; default ${DEFAULT-VALUE})")
  int connections = 4;

  @Option(names = "--reuse-limit", paramLabel = "N",
      description = "sessions per connection, then it is closed 0 \"finished\" (default ${DEFAULT-VALUE})")
  int reuseLimit = 16;

  @Option(names = "--threads", paramLabel = "N", description = "event loop threads (default ${DEFAULT-VALUE})")
  int threads = 1;

  @Option(names = "--handshake-timeout", paramLabel = "SECS",
      description = "QUIC handshake limit (default ${DEFAULT-VALUE})")
  double handshakeTimeout = 10;

  @Option(names = "--idle-timeout", paramLabel = "SECS", description = "QUIC max idle timeout (default ${DEFAULT-VALUE})")
  double idleTimeout = 60;

  @Option(names = "--keep-alive", paramLabel = "SECS",
      description = "keep-alive interval of --hold-idle connections (default ${DEFAULT-VALUE})")
  double keepAlive = 10;

  @Option(names = "--stream-window", paramLabel = "BYTES", converter = SizeConverter.class,
      description = "receive window per stream (default 1M)")
  long streamWindow = 1 << 20;

  @Option(names = "--connection-window", paramLabel = "BYTES", converter = SizeConverter.class,
      description = "receive window per connection (default 16M)")
  long connectionWindow = 16 << 20;

  @Option(names = "--max-udp-payload", paramLabel = "BYTES",
      description = "largest UDP payload sent and taken (default ${DEFAULT-VALUE}, as quinn 0.9)")
  int maxUdpPayload = 1200;

  @Option(names = "--connections-per-socket", paramLabel = "N",
      description = "connections one UDP socket carries at a time (default ${DEFAULT-VALUE}, as g3proxy)")
  int connectionsPerSocket = 1;

  @Option(names = "--udp-buffer", paramLabel = "BYTES", converter = SizeConverter.class,
      description = "SO_RCVBUF and SO_SNDBUF of each UDP socket (default 1M; the kernel caps it at rmem_max)")
  long udpBuffer = 1 << 20;

  @Option(names = "--sessions", paramLabel = "N",
      description = "sessions in all (default 100; with --duration: no limit unless given)")
  Long sessions;

  @Option(names = "--duration", paramLabel = "SECS", description = "start sessions for this long")
  Double duration;

  @Option(names = "--warmup", paramLabel = "SECS",
      description = "with --duration: run the same load this long first, left out of every figure but failures"
          + " (a fresh client JVM is slow for its first seconds)")
  Double warmup;

  @Option(names = "--concurrency", paramLabel = "N",
      description = "sessions at once (default 16; with --rate: 10000)")
  Integer concurrency;

  @Option(names = "--rate", paramLabel = "PER_S",
      description = "open loop: sessions arriving per second (default: closed loop of --concurrency)")
  double rate;

  @Option(names = "--backlog", paramLabel = "N",
      description = "open loop: arrivals that may wait for a slot; more are dropped (default ${DEFAULT-VALUE})")
  int backlog = 10_000;

  @Option(names = "--bytes", paramLabel = "BYTES", converter = SizeConverter.class,
      description = "bytes each way per continue session (default 1M)")
  long bytes = 1 << 20;

  @Option(names = "--chunk", paramLabel = "BYTES", converter = SizeConverter.class,
      description = "write size of relayed data (default 16K)")
  long chunk = 16 << 10;

  @Option(names = "--session-idle", paramLabel = "SECS",
      description = "keep each continue session open and idle this long before its data (many sessions at once)")
  Double sessionIdle;

  @Option(names = "--end", paramLabel = "each|g3",
      description = "each: both ways sent and finished on their own, both echoes read to EOF; "
          + "g3: as g3proxy, one side closes, both send sides finish at once, the other echo is dropped "
          + "(default ${DEFAULT-VALUE})")
  String end = "each";

  @Option(names = "--end-first", paramLabel = "client|remote|alternate",
      description = "with --end g3: who closes first (default ${DEFAULT-VALUE})")
  String endFirst = "alternate";

  @Option(names = "--expect-action", paramLabel = "ACTION",
      description = "continue, bypass or block: the reply every session must get (default ${DEFAULT-VALUE})")
  String expectAction = "continue";

  @Option(names = "--request-timeout", paramLabel = "SECS", description = "wait for the reply (default ${DEFAULT-VALUE})")
  double requestTimeout = 60;

  @Option(names = "--relay-timeout", paramLabel = "SECS",
      description = "limit of one session's data phase (default ${DEFAULT-VALUE})")
  double relayTimeout = 300;

  @Option(names = "--seed", paramLabel = "N", description = "seed of the test data (default ${DEFAULT-VALUE})")
  long seed = 1;

  @Option(names = "--client-addr", paramLabel = "IP:PORT", description = "PROXY header source (default ${DEFAULT-VALUE})")
  String clientAddr = "192.0.2.1:50000";

  @Option(names = "--server-addr", paramLabel = "IP:PORT",
      description = "PROXY header destination (default ${DEFAULT-VALUE})")
  String serverAddr = "198.51.100.1:443";

  @Option(names = "--username", paramLabel = "NAME", description = "TLV 0xE2 (default: not sent)")
  String username;

  @Option(names = "--upstream", paramLabel = "HOST:PORT", description = "TLV 0xE0 (default ${DEFAULT-VALUE})")
  String upstream = "example.com:443";

  @Option(names = "--protocol", paramLabel = "P",
      description = "TLV 0xE4: http_2, websocket, smtp, imap (default ${DEFAULT-VALUE})")
  String protocol = "http_2";

  @Option(names = "--payload-file", paramLabel = "FILE", description = "north payload (TLV 0xE6 = its length)")
  Path payloadFile;

  @Option(names = "--ws-resource", paramLabel = "PATH",
      description = "resource line of the websocket payload (default ${DEFAULT-VALUE})")
  String wsResource = "/chat";

  @Option(names = "--hold-idle", paramLabel = "SECS",
      description = "only open --connections connections and hold them idle this long")
  Double holdIdle;

  @Option(names = "--server-pid", paramLabel = "PID",
      description = "server process: CPU time, threads, RSS from /proc (and heap through jcmd for a JVM)")
  Long serverPid;

  @Option(names = "--server-metrics", paramLabel = "URL",
      description = "server's Prometheus endpoint, e.g. http://127.0.0.1:2889/metrics")
  URI serverMetrics;

  @Option(names = "--json", description = "print the summary as JSON")
  boolean json;

  @Option(names = {"-q", "--quiet"}, description = "no progress line")
  boolean quiet;

  @Option(names = {"-v", "--verbose"}, description = "describe every error on stderr (default: the first 5)")
  boolean verbose;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new LoadGenMain());
    cl.setExitCodeExceptionMapper(e -> 2);
    cl.setParameterExceptionHandler((e, args) -> {
      e.getCommandLine().getErr().println("stream-detour-loadgen: " + e.getMessage());
      return 2;
    });
    return cl;
  }

  /** The settings these arguments give, as a run would get them. */
  static Settings parse(String... args) throws IOException {
    CommandLine cl = new CommandLine(new LoadGenMain());
    cl.parseArgs(args);
    return ((LoadGenMain) cl.getCommand()).settings();
  }

  @Override
  public Integer call() throws Exception {
    Settings settings;
    try {
      settings = settings();
    } catch (IllegalArgumentException e) {
      System.err.println("stream-detour-loadgen: " + e.getMessage());
      return 2;
    }
    Summary summary;
    if (settings.holdIdle() != null) {
      summary = new IdleHold(settings, System.err).run();
    } else {
      // Ctrl-C: start no more sessions, let the running ones end, print the summary.
      LoadRun run = new LoadRun(settings, System.err);
      CountDownLatch printed = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        run.stop();
        try {
          printed.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, "loadgen-stop"));
      try {
        summary = run.run();
        print(settings, summary);
      } finally {
        printed.countDown();
      }
      return exitStatus(summary);
    }
    print(settings, summary);
    return exitStatus(summary);
  }

  static int exitStatus(Summary summary) {
    return "pass".equals(summary.get("result")) ? 0 : EXIT_FAILED;
  }

  private static void print(Settings settings, Summary summary) {
    System.out.println(settings.json() ? summary.toJson() : summary.toLine());
    System.out.flush();
  }

  Settings settings() throws IOException {
    positive("--connections", connections, holdIdle != null ? 1 : 0);
    positive("--reuse-limit", reuseLimit, 1);
    positive("--threads", threads, 1);
    positive("--connections-per-socket", connectionsPerSocket, 1);
    positive("--max-udp-payload", maxUdpPayload, 1200);
    positive("--chunk", chunk, 1);
    positive("--backlog", backlog, 1);
    if (reuseLimit > 0x10000) {
      throw new IllegalArgumentException("--reuse-limit: at most 65536 (match ids are 16 bits)");
    }
    if (chunk > 1 << 24) {
      throw new IllegalArgumentException("--chunk: at most 16M");
    }
    if (bytes < 0 || rate < 0) {
      throw new IllegalArgumentException("--bytes and --rate must not be negative");
    }
    if (caCert != null && insecure) {
      throw new IllegalArgumentException("--ca-cert and --insecure exclude each other");
    }
    if (alpn.isEmpty() || alpn.stream().anyMatch(String::isEmpty)) {
      throw new IllegalArgumentException("--alpn: BoringSSL needs at least one non-empty ALPN id for QUIC");
    }
    long sessionCount = sessions != null ? sessions : duration != null ? 0 : 100;
    if (sessionCount < 0 || (sessionCount == 0 && duration == null)) {
      throw new IllegalArgumentException("--sessions must be positive (or give --duration)");
    }
    if (warmup != null && (duration == null || sessions != null)) {
      throw new IllegalArgumentException("--warmup needs --duration (and no --sessions)");
    }
    int concurrencyCount = concurrency != null ? concurrency : rate > 0 ? 10_000 : 16;
    positive("--concurrency", concurrencyCount, 1);
    byte[] payload = payload();
    return new Settings(
        address("--server", server, false), serverName, List.copyOf(alpn), caCert,
        connections, reuseLimit, threads,
        seconds("--handshake-timeout", handshakeTimeout), seconds("--idle-timeout", idleTimeout),
        seconds("--keep-alive", keepAlive), streamWindow, connectionWindow, maxUdpPayload,
        connectionsPerSocket, (int) Math.min(udpBuffer, Integer.MAX_VALUE),
        sessionCount, duration == null ? null : seconds("--duration", duration),
        warmup == null ? Duration.ZERO : seconds("--warmup", warmup), concurrencyCount, rate, backlog,
        bytes, (int) chunk, sessionIdle == null ? null : seconds("--session-idle", sessionIdle),
        choice("--end", end, Settings.EndMode.class), choice("--end-first", endFirst, Settings.EndFirst.class),
        choice("--expect-action", expectAction, Settings.Action.class),
        seconds("--request-timeout", requestTimeout), seconds("--relay-timeout", relayTimeout), seed,
        address("--client-addr", clientAddr, true), address("--server-addr", serverAddr, true),
        username, upstream, protocol, payload,
        holdIdle == null ? null : seconds("--hold-idle", holdIdle), serverPid, serverMetrics,
        json, !quiet, verbose);
  }

  /** The north payload: the file, or for websocket the upgrade lines g3proxy writes (lower-case names). */
  private byte[] payload() throws IOException {
    if (payloadFile != null) {
      return Files.readAllBytes(payloadFile);
    }
    if (!"websocket".equals(protocol)) {
      return new byte[0];
    }
    String host = hostOf(upstream);
    String lines = wsResource + "\r\n"
        + "host: " + host + "\r\n"
        + "origin: https://" + host + "\r\n"
        + "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        + "sec-websocket-version: 13\r\n";
    return lines.getBytes(StandardCharsets.UTF_8);
  }

  static String hostOf(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    String host = colon < 0 ? hostPort : hostPort.substring(0, colon);
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }

  static InetSocketAddress address(String option, String value, boolean literal) {
    int colon = value.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException(option + ": expected HOST:PORT, got '" + value + "'");
    }
    String host = hostOf(value);
    int port;
    try {
      port = Integer.parseInt(value.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(option + ": bad port in '" + value + "'");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(option + ": port out of range in '" + value + "'");
    }
    if (literal && !host.matches("[0-9.]+|[0-9a-fA-F:]+")) {
      throw new IllegalArgumentException(option + ": expected an IP address, got '" + host + "'");
    }
    try {
      return new InetSocketAddress(InetAddress.getByName(host), port);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(option + ": cannot resolve '" + host + "'");
    }
  }

  private static Duration seconds(String option, double seconds) {
    if (!(seconds > 0)) {
      throw new IllegalArgumentException(option + ": must be more than 0 seconds");
    }
    return Duration.ofNanos((long) (seconds * 1e9));
  }

  private static void positive(String option, long value, long min) {
    if (value < min) {
      throw new IllegalArgumentException(option + ": must be at least " + min + ", got " + value);
    }
  }

  private static <E extends Enum<E>> E choice(String option, String value, Class<E> type) {
    try {
      return Enum.valueOf(type, value.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(option + ": unknown value '" + value + "'");
    }
  }

  /** Byte sizes: 1048576, 64K, 1M, 2G (binary multiples; KiB/MiB/GiB also read). */
  static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      return parseSize(value);
    }
  }

  static long parseSize(String value) {
    String v = value.trim().toUpperCase(Locale.ROOT);
    if (v.endsWith("IB")) {
      v = v.substring(0, v.length() - 2);
    } else if (v.endsWith("B")) {
      v = v.substring(0, v.length() - 1);
    }
    long multiplier = 1;
    if (!v.isEmpty()) {
      switch (v.charAt(v.length() - 1)) {
        case 'K' -> multiplier = 1L << 10;
        case 'M' -> multiplier = 1L << 20;
        case 'G' -> multiplier = 1L << 30;
        default -> multiplier = 1;
      }
    }
    String digits = multiplier == 1 ? v : v.substring(0, v.length() - 1);
    try {
      long n = Long.parseLong(digits);
      if (n < 0) {
        throw new CommandLine.TypeConversionException("negative size '" + value + "'");
      }
      return Math.multiplyExact(n, multiplier);
    } catch (NumberFormatException | ArithmeticException e) {
      throw new CommandLine.TypeConversionException("not a size: '" + value + "'");
    }
  }
}
