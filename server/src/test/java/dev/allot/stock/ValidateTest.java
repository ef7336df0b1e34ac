package dev.allot.stock;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The hand-written checks accept exactly what the contract's patterns accept. */
class ValidateTest {
  static boolean accepts(Runnable check) {
    try {
      check.run();
      return true;
    } catch (AllotException e) {
      return false;
    }
  }

  static List<String> samples() {
    List<String> out = new ArrayList<>(List.of("", ".", "..", "...", "a", "A", "0", "-", "_", ":", "@", "a b", "é", "ß",
        "ſ", "\u0000", "ABC-1", "abc-1", "a".repeat(32), "a".repeat(33), "A".repeat(64), "A".repeat(65),
        "x".repeat(128), "x".repeat(129), "-abc", "_abc", ".abc", "Ab", "aB"));
    String alphabet = "aZ09._:-@ /é\"\\\t";
    Random r = new Random(42);
    for (int i = 0; i < 20_000; i++) {
      StringBuilder sb = new StringBuilder();
      int n = r.nextInt(6);
      for (int j = 0; j < n; j++) {
        sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
      }
      out.add(sb.toString());
    }
    return out;
  }

  static void same(String pattern, Predicate<String> byHand) {
    Pattern p = Pattern.compile(pattern);
    for (String s : samples()) {
      assertEquals(p.matcher(s).matches(), byHand.test(s), pattern + " on '" + s + "'");
    }
  }

  @Test
  @DisplayName("SKU, location, channel, client id and customer checks agree with their patterns")
  void samePatterns() {
    // A SKU is trimmed and upper-cased first; what is checked is the result.
    same("[A-Z0-9][A-Z0-9._-]{0,63}", s -> accepts(() -> Validate.sku(s, "sku")) && Validate.sku(s, "sku").equals(s));
    same("[a-z0-9][a-z0-9_-]{0,31}", s -> accepts(() -> Validate.location(s, "l")));
    same("[a-z0-9][a-z0-9_-]{0,31}", s -> accepts(() -> Validate.channel(s, "c")));
    same("(?!\\.{1,2}$)[A-Za-z0-9._:-]{1,128}", s -> accepts(() -> Validate.clientId(s, "id")));
    same("[A-Za-z0-9._:@-]{1,128}", Validate::customer);
  }
}
