package io.streamdetour.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * Reads typed values out of a JSON tree, collecting every problem with its full key instead of
 * stopping at the first. Values from environment variables and system properties arrive as
 * strings, so numbers, booleans, durations and lists are also accepted in string form.
 */
final class ConfigReader {

  private final JsonObject json;
  private final String path;
  private final List<String> problems;
  private final Set<String> read = new HashSet<>();

  ConfigReader(JsonObject json) {
    this(json, "", new ArrayList<>());
  }

  private ConfigReader(JsonObject json, String path, List<String> problems) {
    this.json = json == null ? new JsonObject() : json;
    this.path = path;
    this.problems = problems;
  }

  List<String> problems() {
    return problems;
  }

  String key(String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  void problem(String name, String message) {
    problems.add(key(name) + ": " + message);
  }

  ConfigReader section(String name) {
    read.add(name);
    Object value = json.getValue(name);
    if (value == null) {
      problem(name, "missing section");
      return new ConfigReader(new JsonObject(), key(name), problems);
    }
    if (!(value instanceof JsonObject object)) {
      problem(name, "must be a map, got " + describe(value));
      return new ConfigReader(new JsonObject(), key(name), problems);
    }
    return new ConfigReader(object, key(name), problems);
  }

  /** Reports keys present in this section that nothing read: almost always a typo. */
  void rejectUnknownKeys() {
    for (String name : json.fieldNames()) {
      if (!read.contains(name)) {
        problem(name, "unknown key");
      }
    }
  }

  private Object required(String name) {
    read.add(name);
    Object value = json.getValue(name);
    if (value == null) {
      problem(name, "missing");
    }
    return value;
  }

  String string(String name) {
    Object value = required(name);
    if (value == null) {
      return "";
    }
    if (value instanceof JsonObject || value instanceof JsonArray) {
      problem(name, "must be a string, got " + describe(value));
      return "";
    }
    return String.valueOf(value);
  }

  String optionalString(String name) {
    read.add(name);
    Object value = json.getValue(name);
    return value == null ? "" : String.valueOf(value);
  }

  long longValue(String name, long min, long max) {
    Object value = required(name);
    if (value == null) {
      return min;
    }
    long result;
    if (value instanceof Number number) {
      result = number.longValue();
    } else {
      try {
        result = Long.parseLong(String.valueOf(value).trim());
      } catch (NumberFormatException e) {
        problem(name, "must be a whole number, got " + describe(value));
        return min;
      }
    }
    if (result < min || result > max) {
      problem(name, "must be between " + min + " and " + max + ", got " + result);
      return min;
    }
    return result;
  }

  private static final java.util.regex.Pattern BYTE_SIZE =
      java.util.regex.Pattern.compile("(\\d+)\\s*(KiB|MiB|GiB|TiB)?");

  /** A byte count: a whole number, or one with KiB, MiB, GiB or TiB after it. */
  long byteSize(String name, long min, long max) {
    Object value = json.getValue(name);
    if (value instanceof Number) {
      return longValue(name, min, max);
    }
    read.add(name);
    if (value == null) {
      problem(name, "missing");
      return min;
    }
    java.util.regex.Matcher m = BYTE_SIZE.matcher(String.valueOf(value).trim());
    if (!m.matches()) {
      problem(name, "must be a byte count such as 65536, 64KiB, 16MiB or 1GiB, got " + describe(value));
      return min;
    }
    int shift = m.group(2) == null ? 0 : switch (m.group(2)) {
      case "KiB" -> 10;
      case "MiB" -> 20;
      case "GiB" -> 30;
      default -> 40;
    };
    long number;
    try {
      number = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      number = Long.MAX_VALUE;
    }
    long result = number > (Long.MAX_VALUE >> shift) ? Long.MAX_VALUE : number << shift;
    if (result < min || result > max) {
      problem(name, "must be between " + min + " and " + max + " bytes, got " + value);
      return min;
    }
    return result;
  }

  int intValue(String name, int min, int max) {
    return (int) longValue(name, min, max);
  }

  boolean bool(String name) {
    Object value = required(name);
    if (value instanceof Boolean b) {
      return b;
    }
    String text = String.valueOf(value).trim().toLowerCase();
    if (text.equals("true") || text.equals("false")) {
      return Boolean.parseBoolean(text);
    }
    if (value != null) {
      problem(name, "must be true or false, got " + describe(value));
    }
    return false;
  }

  /** Durations are written as "250ms", "30s", "5m" or "1h"; a bare number means seconds. */
  Duration duration(String name, Duration min, Duration max) {
    Object value = required(name);
    if (value == null) {
      return min;
    }
    Duration result = parseDuration(String.valueOf(value).trim());
    if (result == null) {
      problem(name, "must be a duration such as 500ms, 30s, 5m or 1h, got " + describe(value));
      return min;
    }
    if (result.compareTo(min) < 0 || result.compareTo(max) > 0) {
      problem(name, "must be between " + min + " and " + max + ", got " + result);
      return min;
    }
    return result;
  }

  static Duration parseDuration(String text) {
    int split = 0;
    while (split < text.length() && Character.isDigit(text.charAt(split))) {
      split++;
    }
    if (split == 0 || split > 12) {
      return null;
    }
    long amount = Long.parseLong(text.substring(0, split));
    return switch (text.substring(split).trim()) {
      case "ms" -> Duration.ofMillis(amount);
      case "", "s" -> Duration.ofSeconds(amount);
      case "m" -> Duration.ofMinutes(amount);
      case "h" -> Duration.ofHours(amount);
      default -> null;
    };
  }

  /** A list of strings; a comma-separated string is accepted for overrides from the environment. */
  List<String> stringList(String name) {
    read.add(name);
    Object value = json.getValue(name);
    if (value == null) {
      return List.of();
    }
    if (value instanceof JsonArray array) {
      List<String> result = new ArrayList<>();
      for (Object item : array) {
        if (item instanceof JsonObject || item instanceof JsonArray || item == null) {
          problem(name, "must be a list of plain values, got " + describe(item));
        } else {
          result.add(String.valueOf(item));
        }
      }
      return List.copyOf(result);
    }
    if (value instanceof JsonObject) {
      problem(name, "must be a list, got " + describe(value));
      return List.of();
    }
    String text = String.valueOf(value).trim();
    if (text.isEmpty()) {
      return List.of();
    }
    return List.of(text.split("\\s*,\\s*"));
  }

  /** A map taken as it is (a copy), for settings the server hands on unread; empty when absent. */
  JsonObject object(String name) {
    read.add(name);
    Object value = json.getValue(name);
    if (value == null) {
      return new JsonObject();
    }
    if (!(value instanceof JsonObject object)) {
      problem(name, "must be a map, got " + describe(value));
      return new JsonObject();
    }
    return object.copy();
  }

  <T> List<T> objectList(String name, Function<ConfigReader, T> itemReader) {
    read.add(name);
    Object value = json.getValue(name);
    if (value == null) {
      return List.of();
    }
    if (!(value instanceof JsonArray array)) {
      problem(name, "must be a list, got " + describe(value));
      return List.of();
    }
    List<T> result = new ArrayList<>();
    for (int i = 0; i < array.size(); i++) {
      Object item = array.getValue(i);
      String itemKey = key(name) + "[" + i + "]";
      if (!(item instanceof JsonObject object)) {
        problems.add(itemKey + ": must be a map, got " + describe(item));
        continue;
      }
      ConfigReader reader = new ConfigReader(object, itemKey, problems);
      result.add(itemReader.apply(reader));
      reader.rejectUnknownKeys();
    }
    return List.copyOf(result);
  }

  private static String describe(Object value) {
    if (value == null) {
      return "nothing";
    }
    if (value instanceof JsonObject) {
      return "a map";
    }
    if (value instanceof JsonArray) {
      return "a list";
    }
    return "'" + value + "'";
  }
}
