package io.streamdetour.policy;

import io.streamdetour.config.ServerConfig;

/** An address block as bytes and a mask on its last partial byte, compared without allocating. */
final class CidrBlock {

  private final byte[] network;
  private final int wholeBytes;
  private final int partialMask;

  CidrBlock(ServerConfig.Cidr cidr) {
    this.network = cidr.network().getAddress();
    this.wholeBytes = cidr.prefixLength() / 8;
    this.partialMask = (0xFF00 >>> (cidr.prefixLength() % 8)) & 0xFF;
  }

  /** Whether {@code address} (4 or 16 bytes) is in this block; an IPv4 address is never in an IPv6 block. */
  boolean contains(byte[] address) {
    if (address.length != network.length) {
      return false;
    }
    for (int i = 0; i < wholeBytes; i++) {
      if (address[i] != network[i]) {
        return false;
      }
    }
    return partialMask == 0 || ((address[wholeBytes] ^ network[wholeBytes]) & partialMask) == 0;
  }
}
