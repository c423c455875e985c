package io.streamdetour.policy;

/**
 * The literal text that every whole match of a regular expression starts with, so that a value
 * without it is turned away before the regex engine runs. Found conservatively: any construct this
 * reading is not sure of ends the prefix or gives none at all, which only costs speed.
 */
final class RegexPrefix {

  private RegexPrefix() {}

  /** The required prefix of {@code regex}, empty when there is none or it is not certain. */
  static String of(String regex) {
    if (mayAlternateAtTopLevel(regex)) {
      return "";
    }
    StringBuilder prefix = new StringBuilder();
    int i = 0;
    while (i < regex.length()) {
      char c = regex.charAt(i);
      int width;
      if (isPlainLiteral(c)) {
        width = 1;
      } else if (c == '\\' && i + 1 < regex.length() && isEscapedLiteral(regex.charAt(i + 1))) {
        width = 2;
      } else {
        break;
      }
      // A quantified character may be absent or repeated: it and what follows are not required.
      if (i + width < regex.length() && isQuantifier(regex.charAt(i + width))) {
        break;
      }
      prefix.append(regex.charAt(i + width - 1));
      i += width;
    }
    return prefix.toString();
  }

  /**
   * Whether a '|' may stand outside every group ("abc|xyz" requires no prefix). Quoting with \Q,
   * inline flags (after (?x) a '#' comments out the rest of the line, parentheses included) and a
   * class opening with ']' are not worth reading exactly: they count as yes.
   */
  private static boolean mayAlternateAtTopLevel(String regex) {
    int groups = 0;
    int classes = 0;
    for (int i = 0; i < regex.length(); i++) {
      char c = regex.charAt(i);
      if (c == '\\') {
        if (i + 1 < regex.length() && regex.charAt(i + 1) == 'Q') {
          return true;
        }
        i++;
      } else if (c == '[') {
        if (regex.startsWith("]", i + 1) || regex.startsWith("^]", i + 1)) {
          return true;
        }
        classes++;
      } else if (classes > 0) {
        if (c == ']') {
          classes--;
        }
      } else if (c == '(') {
        if (regex.startsWith("?", i + 1) && !isGroupKind(regex, i + 2)) {
          return true;
        }
        groups++;
      } else if (c == ')') {
        groups--;
      } else if (c == '|' && groups == 0) {
        return true;
      }
    }
    return false;
  }

  /** (?: (?= (?! (?< (?>: groups that set no flags. */
  private static boolean isGroupKind(String regex, int at) {
    return at < regex.length() && ":=!<>".indexOf(regex.charAt(at)) >= 0;
  }

  private static boolean isPlainLiteral(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '-' || c == '_' || c == '@' || c == '/' || c == ':' || c == '=' || c == ',' || c == '%' || c == '~';
  }

  /** A backslash before a non-alphanumeric ASCII character makes it literal ("\." is a dot). */
  private static boolean isEscapedLiteral(char c) {
    return c < 0x80 && !Character.isLetterOrDigit(c);
  }

  private static boolean isQuantifier(char c) {
    return c == '?' || c == '*' || c == '+' || c == '{';
  }
}
