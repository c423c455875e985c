package io.streamdetour.loadgen;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/** The end-of-run figures in order, printed as one line of key=value pairs or as a JSON object. */
final class Summary {

  private final Map<String, Object> values = new LinkedHashMap<>();

  Summary put(String key, long value) {
    values.put(key, value);
    return this;
  }

  /** A figure rounded to {@code decimals}; NaN (not measured) is left out. */
  Summary put(String key, double value, int decimals) {
    if (!Double.isNaN(value) && !Double.isInfinite(value)) {
      values.put(key, BigDecimal.valueOf(value).setScale(decimals, RoundingMode.HALF_UP));
    }
    return this;
  }

  Summary put(String key, String value) {
    values.put(key, value);
    return this;
  }

  Object get(String key) {
    return values.get(key);
  }

  String toLine() {
    return values.entrySet().stream()
        .map(e -> e.getKey() + "=" + text(e.getValue()))
        .collect(Collectors.joining(" "));
  }

  String toJson() {
    return values.entrySet().stream()
        .map(e -> quote(e.getKey()) + ":" + (e.getValue() instanceof String s ? quote(s) : text(e.getValue())))
        .collect(Collectors.joining(",", "{", "}"));
  }

  private static String text(Object value) {
    return value instanceof BigDecimal decimal ? decimal.toPlainString() : String.valueOf(value);
  }

  private static String quote(String s) {
    StringBuilder out = new StringBuilder(s.length() + 2).append('"');
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }
}
