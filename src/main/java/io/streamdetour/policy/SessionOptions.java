package io.streamdetour.policy;

import java.util.List;

/**
 * How a continued session is examined, as its rule's {@code options} say.
 *
 * @param inspectors names of the inspectors this session runs through
 * @param capture whether the session's bytes are captured
 * @param byteCap the most bytes per direction the inspectors and the capture see
 */
public record SessionOptions(List<String> inspectors, boolean capture, long byteCap) {

  /** For the default and for rules without options: no inspectors of its own, no capture, no cap. */
  public static final SessionOptions NONE = new SessionOptions(List.of(), false, Long.MAX_VALUE);

  public SessionOptions {
    inspectors = List.copyOf(inspectors);
    if (byteCap < 0) {
      throw new IllegalArgumentException("byte cap " + byteCap + " is negative");
    }
  }
}
