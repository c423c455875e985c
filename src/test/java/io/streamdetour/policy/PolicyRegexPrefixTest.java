package io.streamdetour.policy;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The literal prefix that lets a regex matcher turn values away without running the regex. */
class PolicyRegexPrefixTest {

  @Test
  void leadingLiteralsUpToTheFirstConstruct() {
    assertThat(RegexPrefix.of("tracker7-[a-z]+\\.(com|net)")).isEqualTo("tracker7-");
    assertThat(RegexPrefix.of("node\\.cluster\\d+\\.internal")).isEqualTo("node.cluster");
    assertThat(RegexPrefix.of("svc-\\d+")).isEqualTo("svc-");
    assertThat(RegexPrefix.of("ab(c|d)")).isEqualTo("ab");
    assertThat(RegexPrefix.of("ab[|(]c")).isEqualTo("ab");
    assertThat(RegexPrefix.of("ab(?:c|d)(?=e)")).isEqualTo("ab");
    assertThat(RegexPrefix.of("exact")).isEqualTo("exact");
  }

  @Test
  void aQuantifiedCharacterIsNotRequired() {
    assertThat(RegexPrefix.of("abc?")).isEqualTo("ab");
    assertThat(RegexPrefix.of("abc*d")).isEqualTo("ab");
    assertThat(RegexPrefix.of("abc+")).isEqualTo("ab");
    assertThat(RegexPrefix.of("abc{2}")).isEqualTo("ab");
    assertThat(RegexPrefix.of("a\\.?b")).isEqualTo("a");
  }

  @Test
  void noPrefixWhenTheRegexMayNotNeedOne() {
    assertThat(RegexPrefix.of("abc|xyz")).isEmpty();
    assertThat(RegexPrefix.of("ab(c)|d")).isEmpty();
    assertThat(RegexPrefix.of("(abc)")).isEmpty();
    assertThat(RegexPrefix.of(".*abc")).isEmpty();
    assertThat(RegexPrefix.of("\\Qab\\E")).isEmpty();
    assertThat(RegexPrefix.of("ab\\Q|\\E")).isEmpty();
    // After (?x) a '#' hides the '(' from a reader that does not know the flag: the '|' is top-level.
    assertThat(RegexPrefix.of("ab(?x)#(\n|cd")).isEmpty();
    assertThat(RegexPrefix.of("ab[]|]c")).isEmpty();
    assertThat(RegexPrefix.of("\\d+ab")).isEmpty();
  }

  /** Whatever random regex and value: when the regex matches the value, the value has the prefix. */
  @Test
  void everyMatchHasThePrefix() {
    Random random = new Random(7);
    String[] atoms = {"a", "b", "c", "1", "-", ".", "\\.", "\\-", "[ab]", "[^a]", "(ab|c)", "(?:a|bc)", "\\d", "(b)",
        "|", "(?i)", "[a|]", "\\Qa|\\E", "\\Q(\\E", "(?x)#(\n", ")"};
    String[] quantifiers = {"", "", "", "?", "*", "+", "{2}", "{0,1}"};
    int matches = 0;
    int withPrefix = 0;
    for (int r = 0; r < 3000; r++) {
      // Mostly a literal start, so that most regexes have a prefix to get wrong.
      StringBuilder regex = new StringBuilder("ab1".substring(0, random.nextInt(4)));
      for (int n = 1 + random.nextInt(6); n > 0; n--) {
        String atom = atoms[random.nextInt(atoms.length)];
        regex.append(atom).append(atom.equals("|") || atom.startsWith("(?") ? "" : quantifiers[random.nextInt(8)]);
      }
      Pattern pattern;
      try {
        pattern = Pattern.compile(regex.toString(), Pattern.CASE_INSENSITIVE);
      } catch (RuntimeException invalid) {
        continue;
      }
      String prefix = RegexPrefix.of(regex.toString());
      withPrefix += prefix.isEmpty() ? 0 : 1;
      for (int v = 0; v < 200; v++) {
        String value = randomValue(random, prefix);
        if (pattern.matcher(value).matches()) {
          matches++;
          assertThat(value.regionMatches(true, 0, prefix, 0, prefix.length()))
              .as("regex '%s' matches '%s' without its prefix '%s'", regex, value, prefix).isTrue();
        }
      }
    }
    assertThat(withPrefix).isGreaterThan(800);
    assertThat(matches).isGreaterThan(10_000);
  }

  /** Short values over the atoms' characters, half of them starting with the prefix. */
  private static String randomValue(Random random, String prefix) {
    String chars = "abcAB1-.x|";
    StringBuilder value = new StringBuilder(random.nextBoolean() ? prefix : "");
    for (int n = random.nextInt(5); n > 0; n--) {
      value.append(chars.charAt(random.nextInt(chars.length())));
    }
    return value.toString();
  }
}
