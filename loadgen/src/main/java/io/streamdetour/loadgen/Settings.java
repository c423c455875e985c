package io.streamdetour.loadgen;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * Everything one run is told: the command line after parsing and checking.
 *
 * @param sessions sessions to run in all; 0 with a {@code duration} means as many as fit
 * @param duration how long sessions are started for, or null to run {@code sessions}
 * @param warmup how long the same load runs before {@code duration}, outside every figure but failures
 * @param rate open-loop arrivals per second, or 0 for a closed loop of {@code concurrency}
 * @param caCert the CA to verify the server against, or null to skip verification
 * @param sessionIdle how long a continue session stays open and idle before its data flows, or null
 * @param holdIdle hold {@code connections} idle connections this long instead of running sessions
 */
record Settings(
    InetSocketAddress server,
    String serverName,
    List<String> alpn,
    Path caCert,
    int connections,
    int reuseLimit,
    int threads,
    Duration handshakeTimeout,
    Duration idleTimeout,
    Duration keepAlive,
    long streamWindow,
    long connectionWindow,
    int maxUdpPayload,
    int connectionsPerSocket,
    int udpBuffer,
    long sessions,
    Duration duration,
    Duration warmup,
    int concurrency,
    double rate,
    int backlog,
    long bytes,
    int chunk,
    Duration sessionIdle,
    EndMode end,
    EndFirst endFirst,
    Action expectAction,
    Duration requestTimeout,
    Duration relayTimeout,
    long seed,
    InetSocketAddress clientAddress,
    InetSocketAddress proxyAddress,
    String username,
    String upstream,
    String protocol,
    byte[] payload,
    Duration holdIdle,
    Long serverPid,
    URI serverMetrics,
    boolean json,
    boolean progress,
    boolean verbose) {

  /** How a continue session's data phase ends (the quinn client's {@code --end}). */
  enum EndMode {
    /** Each direction sends its bytes and finishes on its own; both echoes are read to EOF. */
    EACH,
    /** As g3proxy: once one side closes, both send sides are finished at once and the other echo is dropped. */
    G3
  }

  /** With {@code --end g3}, the side of the proxied session that closes first. */
  enum EndFirst {
    CLIENT, REMOTE, ALTERNATE
  }

  /** The server's answer to a north header. */
  enum Action {
    CONTINUE, BYPASS, BLOCK;

    /** g3proxy's reading of the action code: anything but 0 and 1 blocks. */
    static Action ofCode(int code) {
      return switch (code) {
        case 0 -> CONTINUE;
        case 1 -> BYPASS;
        default -> BLOCK;
      };
    }

    String key() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  boolean openLoop() {
    return rate > 0;
  }
}
