package io.streamdetour.edge.kwik;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;

/**
 * A UDP socket whose receive never fails while it is open. Kwik 0.10.9's connector calls
 * {@code System.exit(9)} on any receive error; a transient error (ICMP-induced, ENOBUFS, ...)
 * is logged and retried here instead. Once closed, a receive waits for the interrupt Kwik's
 * shutdown sends, by which time Kwik no longer treats the error as fatal.
 */
final class ResilientDatagramSocket extends DatagramSocket {

  private static final Logger LOG = LoggerFactory.getLogger(ResilientDatagramSocket.class);
  private static final long BACKOFF_MILLIS = 10;

  ResilientDatagramSocket(SocketAddress bindAddress) throws SocketException {
    super(bindAddress);
  }

  @Override
  public void receive(DatagramPacket packet) throws IOException {
    while (true) {
      if (isClosed()) {
        awaitShutdown();
      }
      try {
        super.receive(packet);
        return;
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
