package io.streamdetour.loadgen;

import io.netty.channel.EventLoop;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * {@code --hold-idle}: opens {@code --connections} connections, as g3proxy's pool keeps them,
 * holds them without sessions, and reports what the server spends on them.
 *
 * <p>Netty's QUIC codec has no PING to send (quiche's {@code send_ack_eliciting} is not bound),
 * so every {@code --keep-alive} a connection sends a 1-byte DATAGRAM frame (RFC 9221) instead:
 * one ack-eliciting packet, like g3proxy's keep-alive PING, where the server takes DATAGRAM
 * frames. A server that takes none gets no keep-alive and closes the connections after its idle
 * timeout; the summary says which ({@code keepalive=datagram|none}).
 */
final class IdleHold {

  private static final double MIB = 1024.0 * 1024.0;
  /** Handshakes in flight at once while the pool is opened. */
  private static final int HANDSHAKES_AT_ONCE = 64;

  private final Settings settings;
  private final PrintStream progressOut;
  private final RunStats stats;

  IdleHold(Settings settings, PrintStream progressOut) {
    this.settings = settings;
    this.progressOut = progressOut;
    this.stats = new RunStats(settings.verbose());
  }

  Summary run() throws Exception {
    ServerProbe probe = new ServerProbe(settings.serverPid(), settings.serverMetrics());
    // After a full GC (of a JVM server), so that the heap and RSS held are compared with what is live.
    double heapIdle = probe.heapFromJcmd(true);
    ServerProbe.Sample idle = probe.enabled() ? probe.sample() : null;
    int total = settings.connections();
    AtomicInteger connected = new AtomicInteger();
    AtomicInteger closedEarly = new AtomicInteger();
    LongAdder keepAlives = new LongAdder();
    CountDownLatch settled = new CountDownLatch(total);
    CountDownLatch closedAtEnd = new CountDownLatch(total);
    AtomicBoolean holding = new AtomicBoolean(true);
    List<DetourConnection> pool = new ArrayList<>(total);
    long start = System.nanoTime();
    long clientCpuBefore = LoadRun.processCpuNanos();
    try (QuicClient client = new QuicClient(settings)) {
      Semaphore handshakes = new Semaphore(HANDSHAKES_AT_ONCE);
      for (int i = 0; i < total; i++) {
        handshakes.acquire();
        EventLoop loop = client.nextLoop();
        DetourConnection connection = new DetourConnection(settings.reuseLimit(), new DetourConnection.Listener() {
          @Override
          public void connected(DetourConnection c) {
            connected.incrementAndGet();
            handshakes.release();
            settled.countDown();
          }

          @Override
          public void connectFailed(DetourConnection c, Throwable cause) {
            stats.connectFailures.increment();
            closedAtEnd.countDown();
            stats.error(ErrorKind.CONNECT, "connecting to " + settings.server() + ": " + cause);
            handshakes.release();
            settled.countDown();
          }

          @Override
          public void closed(DetourConnection c) {
            if (holding.get()) {
              closedEarly.incrementAndGet();
              stats.error(ErrorKind.CONNECTION_CLOSED, "connection closed while held idle");
            }
            closedAtEnd.countDown();
          }
        });
        synchronized (pool) {
          pool.add(connection);
        }
        stats.connectionsOpened.increment();
        loop.execute(() -> connection.connect(client, loop, settings.handshakeTimeout().toMillis()));
      }
      settled.await();
      double setupSeconds = (System.nanoTime() - start) / 1e9;
      ServerProbe.Sample heldStart = probe.enabled() ? probe.sample() : null;
      long holdStart = System.nanoTime();
      long holdEnd = holdStart + settings.holdIdle().toNanos();
      long keepAliveNanos = settings.keepAlive().toNanos();
      long nextKeepAlive = holdStart + keepAliveNanos;
      while (System.nanoTime() < holdEnd) {
        long sleep = Math.min(TimeUnit.SECONDS.toNanos(1), Math.min(holdEnd, nextKeepAlive) - System.nanoTime());
        if (sleep > 0) {
          TimeUnit.NANOSECONDS.sleep(sleep);
        }
        if (System.nanoTime() >= nextKeepAlive) {
          nextKeepAlive += keepAliveNanos;
          for (DetourConnection connection : pool) {
            connection.quicLoop().execute(() -> {
              if (connection.keepAlive()) {
                keepAlives.increment();
              }
            });
          }
        }
        if (settings.progress()) {
          progressOut.printf(Locale.ROOT, "[%4ds] held %d of %d, closed early %d, keep-alives %d%n",
              TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - holdStart), connected.get() - closedEarly.get(),
              total, closedEarly.get(), keepAlives.sum());
        }
      }
      double holdSeconds = (System.nanoTime() - holdStart) / 1e9;
      ServerProbe.Sample heldCpu = probe.enabled() ? probe.sample() : null; // before the GC below
      double heapHeld = probe.heapFromJcmd(true);
      ServerProbe.Sample heldEnd = probe.enabled() ? probe.sample() : null;
      int alive = connected.get() - closedEarly.get();
      boolean datagrams = pool.stream().anyMatch(DetourConnection::takesDatagrams);
      holding.set(false);
      for (DetourConnection connection : pool) {
        connection.quicLoop().execute(connection::closeFinished);
      }
      closedAtEnd.await(5, TimeUnit.SECONDS);
      Summary s = new Summary()
          .put("mode", "hold_idle")
          .put("connections", total)
          .put("connected", connected.get())
          .put("connect_failed", stats.connectFailures.sum())
          .put("closed_early", closedEarly.get())
          .put("alive_at_end", alive)
          .put("connect_s", setupSeconds, 3)
          .put("hold_s", holdSeconds, 1)
          .put("keepalive", datagrams ? "datagram" : "none")
          .put("keepalives_sent", keepAlives.sum())
          .put("wall_s", (System.nanoTime() - start) / 1e9, 3)
          .put("client_cpu_s", (LoadRun.processCpuNanos() - clientCpuBefore) / 1e9, 2);
      if (idle != null) {
        heldFigures(s, idle, heldStart, heldCpu, heldEnd, holdSeconds, heapIdle, heapHeld, alive);
      }
      return s.put("result", connected.get() == total && closedEarly.get() == 0 ? "pass" : "fail");
    }
  }

  private static void heldFigures(Summary s, ServerProbe.Sample idle, ServerProbe.Sample heldStart,
      ServerProbe.Sample heldCpu, ServerProbe.Sample heldEnd, double holdSeconds, double heapIdle, double heapHeld,
      int alive) {
    double cpu = heldCpu.cpuSeconds() - heldStart.cpuSeconds();
    s.put("server_cpu_s", cpu, 3).put("server_cpu_pct", cpu / holdSeconds * 100, 1);
    if (idle.threads() >= 0) {
      s.put("server_threads_idle", idle.threads())
          .put("server_threads_held", heldEnd.threads())
          .put("server_rss_mib_idle", idle.rssBytes() / MIB, 1)
          .put("server_rss_mib_held", heldEnd.rssBytes() / MIB, 1);
      if (alive > 0) {
        s.put("server_rss_kib_per_connection", (heldEnd.rssBytes() - idle.rssBytes()) / 1024.0 / alive, 1);
      }
    }
    s.put("server_heap_mib_idle", heapIdle / MIB, 1).put("server_heap_mib_held", heapHeld / MIB, 1);
    if (alive > 0) {
      s.put("server_heap_kib_per_connection", (heapHeld - heapIdle) / 1024.0 / alive, 1);
    }
  }
}
