package io.streamdetour.edge.netty;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.quic.QuicCodecDispatcher;
import io.netty.handler.codec.quic.QuicConnectionIdGenerator;

import java.nio.ByteBuffer;

/**
 * The connection ids this node issues, laid out as QUIC-LB (draft-ietf-quic-load-balancers) with
 * a plaintext server id, so that a balancer can route a client's packets by connection id even
 * when the client's address changes, and so that {@link QuicCodecDispatcher} finds the socket
 * that owns a connection:
 *
 * <pre>
 * octet 0     config rotation 0 (3 bits), length of the rest (5 bits)
 * octet 1     server id: quic.server-id (0 when none is set)
 * octets 2-3  the socket's index on this port
 * octets 4..  random
 * </pre>
 */
final class RoutableConnectionIds implements QuicConnectionIdGenerator {

  /** Four octets of routing, six random: as many random octets as Netty's own dispatcher keeps. */
  static final int LENGTH = 10;
  private static final int PREFIX = 4;
  private static final QuicConnectionIdGenerator RANDOM = QuicConnectionIdGenerator.randomGenerator();

  private final int serverId;
  private final int socket;

  RoutableConnectionIds(int serverId, int socket) {
    if (serverId < 0 || serverId > 255 || socket < 0 || socket > 0xFFFF) {
      throw new IllegalArgumentException("server id 0-255 and socket 0-65535, got " + serverId + ", " + socket);
    }
    this.serverId = serverId;
    this.socket = socket;
  }

  /** The socket index in an id of this layout, or -1 when it is too short to hold one. */
  static int socketOf(ByteBuf id) {
    return id.readableBytes() >= PREFIX ? id.getUnsignedShort(id.readerIndex() + 2) : -1;
  }

  /**
   * A dispatcher for the sockets of one port that issues ids of this layout and hands each
   * short-header packet to the socket its id names.
   */
  abstract static class Dispatcher extends QuicCodecDispatcher {

    private final int serverId;

    Dispatcher(int serverId) {
      super(LENGTH);
      this.serverId = serverId;
    }

    @Override
    protected QuicConnectionIdGenerator newIdGenerator(int socket) {
      return new RoutableConnectionIds(serverId, socket);
    }

    @Override
    protected int decodeIndex(ByteBuf connectionId) {
      return socketOf(connectionId);
    }
  }

  @Override
  public ByteBuffer newId(int length) {
    return prefixed(RANDOM.newId(randomLength(length)), length);
  }

  @Override
  public ByteBuffer newId(ByteBuffer input, int length) {
    return prefixed(RANDOM.newId(input, randomLength(length)), length);
  }

  @Override
  public ByteBuffer newId(ByteBuffer scid, ByteBuffer dcid, int length) {
    return prefixed(RANDOM.newId(scid, dcid, randomLength(length)), length);
  }

  @Override
  public int maxConnectionIdLength() {
    return RANDOM.maxConnectionIdLength();
  }

  @Override
  public boolean isIdempotent() {
    return false;
  }

  private static int randomLength(int length) {
    if (length < PREFIX + 1) {
      throw new IllegalArgumentException("connection ids need at least " + (PREFIX + 1) + " octets, got " + length);
    }
    return length - PREFIX;
  }

  private ByteBuffer prefixed(ByteBuffer random, int length) {
    ByteBuffer id = ByteBuffer.allocate(length);
    id.put((byte) ((length - 1) & 0x1F)).put((byte) serverId).putShort((short) socket).put(random).flip();
    return id;
  }
}
