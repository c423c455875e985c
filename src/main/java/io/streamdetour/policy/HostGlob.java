package io.streamdetour.policy;

import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Host globs: {@code *} matches any run of characters within a label, {@code **} any run across
 * labels ({@code *.cdn.example.com} matches a.cdn.example.com, not a.b.cdn.example.com;
 * {@code **.cdn.example.com} matches both; neither matches cdn.example.com).
 */
final class HostGlob {

  private HostGlob() {}

  /** One pattern matching a (lower-cased) host that any of {@code globs} matches. */
  static Pattern compile(List<String> globs) {
    return Pattern.compile(globs.stream().map(HostGlob::regex).collect(Collectors.joining("|")));
  }

  private static String regex(String glob) {
    StringBuilder regex = new StringBuilder();
    for (int i = 0; i < glob.length(); i++) {
      char c = glob.charAt(i);
      if (c == '*' && i + 1 < glob.length() && glob.charAt(i + 1) == '*') {
        regex.append(".*");
        i++;
      } else if (c == '*') {
        regex.append("[^.]*");
      } else if (!Character.isLetterOrDigit(c)) {
        // A backslash before any non-alphanumeric character makes it literal.
        regex.append('\\').append(c);
      } else {
        regex.append(c);
      }
    }
    return regex.toString();
  }

  /**
   * The labels right of the last one with a wildcard, which every matching host ends with on a label
   * boundary ({@code *.cdn.example.com}: cdn.example.com); empty when the last label has one.
   */
  static Optional<String> literalSuffix(String glob) {
    int star = glob.lastIndexOf('*');
    if (star < 0) {
      return Optional.of(glob);
    }
    int dot = glob.indexOf('.', star);
    return dot < 0 ? Optional.empty() : Optional.of(glob.substring(dot + 1));
  }
}
