package io.streamdetour.edge;

import io.streamdetour.tls.TlsIdentity;

import java.net.InetSocketAddress;

/**
 * A QUIC listener, whatever library carries it: it accepts connections, decodes the PROXY v2
 * header of every stream a client opens and hands the stream on; the rest of the server only
 * reads and writes bytes. The server never opens streams.
 */
public interface DetourEdge {

  /** Binds and starts accepting; each decoded stream goes to {@code handler}. */
  void start(DecodedStreamHandler handler) throws Exception;

  /** The bound UDP address, or null before start and after close. */
  InetSocketAddress localAddress();

  /** True from start until {@link #stopAccepting} or {@link #close}. */
  boolean accepting();

  /** New handshakes use this certificate from now on; established connections keep theirs. */
  void replaceIdentity(TlsIdentity identity) throws Exception;

  /** Open QUIC connections right now. */
  int connectionCount();

  /**
   * UDP sends that failed so far (a local firewall's EPERM, ENOBUFS, an unreachable network),
   * each taken as a lost datagram that QUIC sends again. An edge that cannot tell says 0.
   */
  default long udpSendErrors() {
    return 0;
  }

  /**
   * Datagrams that would have started a connection, dropped before the QUIC library saw them
   * because they came faster than {@code quic.max-handshake-rate} ({@link HandshakeBudget}).
   */
  long handshakesDropped();

  /**
   * True while bytes written to streams have not reached the clients (unsent or unacknowledged):
   * closing the connections now would drop them. An edge that cannot tell says false.
   */
  default boolean unacknowledgedBytes() {
    return false;
  }

  /** New connections are refused; open ones keep working (the session layer decides about streams). */
  void stopAccepting();

  /** Closes every connection with an application error code, then the listener. */
  void close(long applicationErrorCode, String reason);
}
