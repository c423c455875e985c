/**
 * The Stream Detour wire format: the PROXY protocol v2 headers g3proxy sends on the north and
 * south streams, the 4-byte reply, and the WebSocket upgrade payload.
 *
 * <p>Plain JDK only, so the format can be tested and reused without a network stack.
 *
 * <p>Why not Netty's {@code netty-codec-haproxy}: its {@code HAProxyMessage.decodeHeader} is
 * package-private (usable only inside a channel pipeline); for the LOCAL command and the UNSPEC
 * family it returns constant messages that drop every TLV, yet both must be accepted here and the
 * TLVs carry everything we need; a TLV whose length overruns the header surfaces as an
 * {@code IndexOutOfBoundsException} rather than a clean error; and each TLV is a ref-counted
 * {@code ByteBuf} slice to release. The fixed PPv2 layout is small, so {@link
 * io.streamdetour.codec.HeaderDecoder} decodes it itself, straight from byte arrays.
 */
package io.streamdetour.codec;
