package io.streamdetour.loadgen;

import io.netty.channel.EventLoop;
import io.netty.handler.codec.quic.QuicConnectionStats;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The share of a run that one event loop carries: its own pool of connections, its sessions, and
 * its part of the concurrency, the arrival rate and the backlog. Everything here runs on that
 * loop, so nothing is shared between workers but the counters.
 *
 * <p>Closed loop: up to {@code concurrency} sessions at once until {@code quota} have started or
 * the deadline passed. Open loop: sessions arrive at {@code rate} per second into a backlog of at
 * most {@code backlogLimit}; arrivals beyond it are dropped and counted; up to {@code concurrency}
 * run at once.
 */
final class Worker implements DetourConnection.Listener, Session.Owner {

  /** Connection attempts that may fail in a row before the run gives up. */
  private static final int MAX_CONNECT_FAILURES_IN_A_ROW = 10;
  private static final long TICK_MICROS = 1000;
  private static final long CLOSE_WAIT_MILLIS = 3000;
  /** Handshakes one worker runs at once: a burst of hundreds would only time out. */
  private static final int MAX_HANDSHAKES = 64;

  /** The worker's part of the run. */
  record Share(long quota, int concurrency, double rate, int backlogLimit, int minConnections) {
  }

  private final int index;
  private final int workers;
  private final EventLoop loop;
  private final QuicClient client;
  private final SessionContext context;
  private final Share share;
  private final long deadline;
  private final Promise<Void> done;
  private final int reuseLimit;

  private final ArrayDeque<DetourConnection> ready = new ArrayDeque<>();
  private final Set<DetourConnection> connections = new HashSet<>();
  private long startNanos;
  private long arrivals;
  private long started;
  private long backlog;
  private int inFlight;
  /** Connections connecting or ready that still take sessions, and their slots left. */
  private int liveConnections;
  private long freeSlots;
  private int connectFailuresInARow;
  private int connecting;
  private boolean arrivalsDone;
  private boolean stopping;
  private boolean finishing;
  private ScheduledFuture<?> ticker;
  private ScheduledFuture<?> retry;
  private String abortReason;

  // Read by the progress line.
  private volatile int inFlightView;
  private volatile long backlogView;
  private volatile long backlogMax;
  private volatile int connectionsView;
  private volatile int maxInFlight;

  Worker(int index, int workers, EventLoop loop, QuicClient client, SessionContext context, Share share,
      long deadlineNanos) {
    this.index = index;
    this.workers = workers;
    this.loop = loop;
    this.client = client;
    this.context = context;
    this.share = share;
    this.deadline = deadlineNanos;
    this.done = loop.newPromise();
    this.reuseLimit = context.settings().reuseLimit();
  }

  Promise<Void> start() {
    loop.execute(() -> {
      startNanos = System.nanoTime();
      if (share.rate() > 0) {
        ticker = loop.scheduleAtFixedRate(this::arrive, 0, TICK_MICROS, TimeUnit.MICROSECONDS);
      }
      if (deadline != Long.MAX_VALUE) {
        loop.schedule(this::pump, deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
      }
      pump();
    });
    return done;
  }

  /** Starts no more sessions; those running finish. */
  void stop() {
    if (loop.isShuttingDown()) {
      return; // the run is over
    }
    loop.execute(() -> {
      stopping = true;
      pump();
    });
  }

  int inFlight() {
    return inFlightView;
  }

  long backlog() {
    return backlogView;
  }

  long backlogMax() {
    return backlogMax;
  }

  int maxInFlight() {
    return maxInFlight;
  }

  int connections() {
    return connectionsView;
  }

  /** The warm-up is over: the peaks start again from what is waiting and running now. */
  void restartPeaks() {
    loop.execute(() -> {
      backlogMax = backlog;
      maxInFlight = inFlight;
    });
  }

  /** Why the worker gave up before its sessions were all run, or null. */
  String abortReason() {
    return abortReason;
  }

  private boolean pastDeadline() {
    return deadline != Long.MAX_VALUE && System.nanoTime() - deadline >= 0;
  }

  private void arrive() {
    long due;
    if (stopping) {
      arrivalsDone = true;
      due = arrivals;
    } else {
      // A tick that runs late still counts the arrivals up to the deadline, not past it.
      long until = pastDeadline() ? deadline : System.nanoTime();
      due = Math.min(share.quota(), (long) ((until - startNanos) * share.rate() / 1e9));
      if (due >= share.quota() || until == deadline) {
        arrivalsDone = true;
      }
    }
    long fresh = due - arrivals;
    arrivals = due;
    context.stats().arrivals.add(fresh);
    backlog += fresh;
    if (backlog > share.backlogLimit()) {
      context.stats().dropped.add(backlog - share.backlogLimit());
      backlog = share.backlogLimit();
    }
    if (backlog > backlogMax) {
      backlogMax = backlog;
    }
    if (arrivalsDone) {
      ticker.cancel(false);
    }
    pump();
  }

  /** Sessions that could start now, were there connections for them. */
  private long demand() {
    long room = share.concurrency() - inFlight;
    if (stopping || room <= 0) {
      return 0;
    }
    if (share.rate() > 0) {
      return Math.min(room, backlog);
    }
    return pastDeadline() ? 0 : Math.min(room, share.quota() - started);
  }

  /** Sessions that may still be started, with or without room for them now. */
  private long remaining() {
    if (stopping) {
      return 0;
    }
    if (share.rate() > 0) {
      return arrivalsDone ? backlog : Long.MAX_VALUE;
    }
    return pastDeadline() ? 0 : share.quota() - started;
  }

  private void pump() {
    while (demand() > 0) {
      DetourConnection connection = ready.peekFirst();
      if (connection == null) {
        break;
      }
      ready.pollFirst();
      if (!connection.isUsable()) {
        continue;
      }
      startSession(connection);
      if (connection.isUsable()) {
        ready.addLast(connection);
      }
    }
    ensureConnections();
    inFlightView = inFlight;
    backlogView = backlog;
    connectionsView = connections.size();
    if (remaining() == 0 && inFlight == 0 && !finishing) {
      finish();
    }
  }

  private void startSession(DetourConnection connection) {
    long number = started * workers + index;
    started++;
    inFlight++;
    if (inFlight > maxInFlight) {
      maxInFlight = inFlight;
    }
    if (share.rate() > 0) {
      backlog--;
    }
    freeSlots--;
    Session session = new Session(context, this, connection, number);
    if (connection.slotsLeft() == 0) {
      liveConnections--;
    }
    context.stats().started.increment();
    session.start();
  }

  /** Keeps at least the pool's minimum, and enough slots for the sessions that wait. */
  private void ensureConnections() {
    long remaining = remaining();
    if (remaining == 0 || retry != null || finishing) {
      return;
    }
    long wanted = Math.min(remaining, Math.max(demand(), 1));
    long slotsShort = wanted - freeSlots;
    long toOpen = Math.max(slotsShort > 0 ? (slotsShort + reuseLimit - 1) / reuseLimit : 0,
        remaining > freeSlots ? share.minConnections() - liveConnections : 0);
    // The rest are opened as handshakes end (connected and connectFailed pump again).
    toOpen = Math.min(toOpen, MAX_HANDSHAKES - connecting);
    for (long i = 0; i < toOpen; i++) {
      open();
    }
  }

  private void open() {
    DetourConnection connection = new DetourConnection(reuseLimit, this);
    connections.add(connection);
    liveConnections++;
    connecting++;
    freeSlots += reuseLimit;
    context.stats().connectionsOpened.increment();
    connection.connect(client, loop, context.settings().handshakeTimeout().toMillis());
  }

  @Override
  public void connected(DetourConnection connection) {
    connecting--;
    connectFailuresInARow = 0;
    if (finishing) {
      connection.closeFinished();
      return;
    }
    ready.addLast(connection);
    pump();
  }

  @Override
  public void connectFailed(DetourConnection connection, Throwable cause) {
    connecting--;
    connections.remove(connection);
    liveConnections--;
    freeSlots -= reuseLimit;
    context.stats().connectFailures.increment();
    context.stats().error(ErrorKind.CONNECT, "connecting to " + context.settings().server() + ": " + cause);
    if (++connectFailuresInARow >= MAX_CONNECT_FAILURES_IN_A_ROW) {
      abortReason = connectFailuresInARow + " connection attempts failed in a row";
      stopping = true;
      backlog = 0;
    } else if (retry == null) {
      // Back off a little before trying again, longer after each failure.
      retry = loop.schedule(() -> {
        retry = null;
        pump();
      }, 100L * connectFailuresInARow, TimeUnit.MILLISECONDS);
    }
    pump();
  }

  @Override
  public void closed(DetourConnection connection) {
    connections.remove(connection);
    int unused = connection.unusedSlots();
    if (unused > 0) { // closed by the server or the network while it still took sessions
      ready.remove(connection);
      liveConnections--;
      freeSlots -= unused;
    }
    if (finishing) {
      if (connections.isEmpty()) {
        done.trySuccess(null);
      }
      return;
    }
    pump();
  }

  @Override
  public void stats(QuicConnectionStats quicStats) {
    context.stats().packetsSent.add(quicStats.sent());
    context.stats().packetsLost.add(quicStats.lost());
  }

  @Override
  public void sessionEnded(Session session, boolean ok) {
    inFlight--;
    (ok ? context.stats().ok : context.stats().failed).increment();
    session.connection().sessionEnded();
    pump();
  }

  /** All sessions done: closes the pool ("finished") and completes once the connections are gone. */
  private void finish() {
    finishing = true;
    if (ticker != null) {
      ticker.cancel(false);
    }
    if (retry != null) {
      retry.cancel(false);
    }
    List<DetourConnection> open = new ArrayList<>(connections);
    for (DetourConnection connection : open) {
      boolean established = connection.isEstablished();
      connection.closeFinished();
      if (!established) { // its handshake is abandoned and reports nothing more
        connections.remove(connection);
      }
    }
    if (connections.isEmpty()) {
      done.trySuccess(null);
    } else {
      loop.schedule(() -> done.trySuccess(null), CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
    }
  }
}
