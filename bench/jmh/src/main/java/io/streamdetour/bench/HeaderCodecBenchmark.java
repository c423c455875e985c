package io.streamdetour.bench;

import io.streamdetour.codec.Action;
import io.streamdetour.codec.DetourReply;
import io.streamdetour.codec.HeaderDecoder;
import io.streamdetour.codec.HeaderException;
import io.streamdetour.codec.HeaderLimits;
import io.streamdetour.codec.NorthHeader;
import io.streamdetour.codec.StreamHeader;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Time per header decode, as the stream reader does it: {@code headerLength} on the preamble,
 * then {@code decode} on the whole header; for websocket also the payload attached and parsed
 * (what the ws-* matchers read). Over 1 024 g3proxy-shaped headers of each shape in turn, on one
 * thread. And the 4-byte reply's encoding.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(5)
@Threads(1)
public class HeaderCodecBenchmark {

  private static final int HEADERS = 1024;

  private int next;

  /** The headers of one shape, and the websocket payloads that follow them. */
  @State(Scope.Thread)
  public static class Headers {

    @Param({"IPV4", "IPV4_USER", "IPV6", "IPV6_USER", "WEBSOCKET", "SOUTH"})
    public HeaderFixture.Shape shape;

    final HeaderDecoder decoder = new HeaderDecoder(HeaderLimits.DEFAULT);
    byte[][] headers;
    byte[][] payloads;

    @Setup
    public void setUp() {
      headers = HeaderFixture.headers(shape, HEADERS);
      payloads = new byte[HEADERS][];
      for (int i = 0; i < HEADERS; i++) {
        payloads[i] = shape == HeaderFixture.Shape.WEBSOCKET ? HeaderFixture.websocketPayload(i) : null;
      }
    }
  }

  @Benchmark
  public Object decode(Headers state) throws HeaderException {
    int i = next++ & (HEADERS - 1);
    byte[] header = state.headers[i];
    StreamHeader decoded = state.decoder.decode(header, 0, state.decoder.headerLength(header, 0));
    if (state.payloads[i] != null && decoded instanceof NorthHeader north) {
      return north.withPayload(state.payloads[i]).webSocket().orElseThrow();
    }
    return decoded;
  }

  @Benchmark
  public byte[] encodeReply() {
    return new DetourReply(next++ & 0xFFFF, Action.CONTINUE).encode();
  }
}
