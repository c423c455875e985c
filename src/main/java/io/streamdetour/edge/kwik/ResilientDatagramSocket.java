package io.streamdetour.edge.kwik;

import io.streamdetour.edge.HandshakeBudget;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A UDP socket whose receive and send never fail while it is open. Kwik 0.10.9's connector calls
 * {@code System.exit(9)} on any receive error; a transient error (ICMP-induced, ENOBUFS, ...)
 * is logged and retried here instead. Once closed, a receive waits for the interrupt Kwik's
 * shutdown sends, by which time Kwik no longer treats the error as fatal.
 *
 * <p>A send error (EPERM from a local firewall rule, ENOBUFS, an unreachable network) ends the
 * sender thread of the connection whose datagram it was, in Kwik 0.10.9, and the connection
 * hangs until its idle timeout. Here it is a lost datagram instead, as on the wire: QUIC's loss
 * recovery sends its frames again. Logged once per {@link #SEND_ERROR_LOG_INTERVAL_NANOS} with
 * the count since, so a flood of them cannot flood the log.
 *
 * <p>Datagrams that would start a connection beyond the listener's {@link HandshakeBudget} are
 * dropped here, before Kwik keeps anything of them.
 */
final class ResilientDatagramSocket extends DatagramSocket {

  private static final Logger LOG = LoggerFactory.getLogger(ResilientDatagramSocket.class);
  private static final long BACKOFF_MILLIS = 10;
  private static final long SEND_ERROR_LOG_INTERVAL_NANOS = 10_000_000_000L;

  private final AtomicLong sendErrors;
  private final AtomicLong sendErrorsLogged;  // the count at the last line
  private final AtomicLong nextSendErrorLog = new AtomicLong(System.nanoTime());
  private volatile HandshakeBudget handshakes;

  /** @param sendErrors counts the sends that failed while the socket was open */
  ResilientDatagramSocket(SocketAddress bindAddress, AtomicLong sendErrors) throws SocketException {
    super(bindAddress);
    this.sendErrors = sendErrors;
    this.sendErrorsLogged = new AtomicLong(sendErrors.get());
  }

  /** From now on, datagrams that would start a connection go on only within {@code budget}. */
  void admitHandshakesWithin(HandshakeBudget budget) {
    this.handshakes = budget;
  }

  @Override
  public void receive(DatagramPacket packet) throws IOException {
    int capacity = packet.getLength();
    while (true) {
      if (isClosed()) {
        awaitShutdown();
      }
      try {
        super.receive(packet);
        if (admitted(packet)) {
          return;
        }
        packet.setLength(capacity);
      } catch (SocketTimeoutException timeout) {
        throw timeout;
      } catch (IOException e) {
        if (isClosed()) {
          awaitShutdown();
        }
        LOG.warn("UDP receive on {} failed, retrying: {}", getLocalSocketAddress(), e.toString());
        sleep();
      }
    }
  }

  @Override
  public void send(DatagramPacket packet) throws IOException {
    try {
      super.send(packet);
    } catch (IOException e) {
      if (isClosed()) {
        throw e;
      }
      long errors = sendErrors.incrementAndGet();
      long now = System.nanoTime();
      long due = nextSendErrorLog.get();
      if (now - due >= 0 && nextSendErrorLog.compareAndSet(due, now + SEND_ERROR_LOG_INTERVAL_NANOS)) {
        long since = errors - sendErrorsLogged.getAndSet(errors);
        LOG.warn("UDP send on {} to {} failed ({} send errors since the last such line; each is a lost"
            + " datagram, which QUIC sends again): {}", getLocalSocketAddress(), packet.getSocketAddress(), since,
            e.toString());
      }
    }
  }

  private boolean admitted(DatagramPacket packet) {
    HandshakeBudget budget = handshakes;
    if (budget == null || packet.getLength() == 0) {
      return true;
    }
    byte[] data = packet.getData();
    int at = packet.getOffset();
    int version = packet.getLength() < 5 ? 0
        : (data[at + 1] & 0xff) << 24 | (data[at + 2] & 0xff) << 16 | (data[at + 3] & 0xff) << 8 | data[at + 4] & 0xff;
    return budget.admit(data[at] & 0xff, version, packet.getAddress());
  }

  private static void awaitShutdown() throws InterruptedIOException {
    try {
      Thread.sleep(Long.MAX_VALUE);
    } catch (InterruptedException e) {
      throw new InterruptedIOException("socket closed");
    }
  }

  private static void sleep() throws InterruptedIOException {
    try {
      Thread.sleep(BACKOFF_MILLIS);
    } catch (InterruptedException e) {
      throw new InterruptedIOException("interrupted");
    }
  }
}
