package io.streamdetour.edge;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** What a listener's UDP socket got of the buffers {@code quic.udp-buffer-bytes} asked for. */
public final class UdpBuffers {

  private static final Logger LOG = LoggerFactory.getLogger(UdpBuffers.class);

  private UdpBuffers() {}

  /**
   * Logs when the kernel gave less than asked (it caps at {@code net.core.rmem_max} and
   * {@code wmem_max}); Linux reports twice what it granted, so a full grant reads as at least
   * the size asked.
   */
  public static void check(Object socket, int asked, int receive, int send) {
    if (receive < asked || send < asked) {
      LOG.warn("UDP socket {}: asked for {} bytes of buffer each way (quic.udp-buffer-bytes), got {} to receive"
          + " and {} to send: raise net.core.rmem_max and net.core.wmem_max, or bursts of packets will be dropped",
          socket, asked, receive, send);
    } else {
      LOG.debug("UDP socket {}: {} bytes to receive, {} to send", socket, receive, send);
    }
  }
}
