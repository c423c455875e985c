package io.streamdetour.edge.netty;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import io.streamdetour.edge.HandshakeBudget;

/**
 * Drops the datagrams that would start a connection beyond the listener's {@link HandshakeBudget},
 * before the QUIC codec makes a channel and a quiche connection for them. One for all the
 * listener's sockets.
 */
@ChannelHandler.Sharable
final class HandshakeGate extends ChannelInboundHandlerAdapter {

  private final HandshakeBudget budget;

  HandshakeGate(HandshakeBudget budget) {
    this.budget = budget;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof DatagramPacket packet && !admitted(packet)) {
      packet.release();
      return;
    }
    ctx.fireChannelRead(msg);
  }

  private boolean admitted(DatagramPacket packet) {
    ByteBuf content = packet.content();
    int at = content.readerIndex();
    int length = content.readableBytes();
    if (length == 0) {
      return true;
    }
    return budget.admit(content.getUnsignedByte(at), length < 5 ? 0 : content.getInt(at + 1),
        packet.sender().getAddress());
  }
}
