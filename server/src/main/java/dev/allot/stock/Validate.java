package dev.allot.stock;

/**
 * The contract's input rules (API.md, "General"): each failure names the field it is about. The
 * patterns are checked by hand, character by character (each check runs on every reservation, and
 * a regex matcher per field showed in the profile); the comment beside each says the pattern.
 */
public final class Validate {
  private static final String UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  private static final String LOWER_DIGITS = "abcdefghijklmnopqrstuvwxyz0123456789";
  /** [A-Z0-9] then [A-Z0-9._-]{0,63} */
  private static final boolean[] SKU_FIRST = ascii(UPPER_DIGITS);
  private static final boolean[] SKU_REST = ascii(UPPER_DIGITS + "._-");
  /** [a-z0-9] then [a-z0-9_-]{0,31} */
  private static final boolean[] PLACE_FIRST = ascii(LOWER_DIGITS);
  private static final boolean[] PLACE_REST = ascii(LOWER_DIGITS + "_-");
  /** [A-Za-z0-9._:-]{1,128} */
  private static final boolean[] CLIENT_ID = ascii(UPPER_DIGITS + LOWER_DIGITS + "._:-");
  /** [A-Za-z0-9._:@-]{1,128} */
  private static final boolean[] CUSTOMER = ascii(UPPER_DIGITS + LOWER_DIGITS + "._:@-");

  private Validate() {
  }

  /**
   * Trims surrounding spaces and tabs, upper-cases ASCII letters (nothing else is folded: `ſ` or `ß`
   * stay what they are and fail), then checks the pattern: 400 invalid_sku otherwise.
   */
  public static String sku(String raw, String field) {
    if (raw == null) {
      throw AllotException.badField("invalid_sku", field, field + " is required");
    }
    String s = asciiUpper(stripSpacesAndTabs(raw));
    if (!matches(s, 64, SKU_FIRST, SKU_REST)) {
      throw AllotException.badField("invalid_sku", field,
          field + " must match [A-Z0-9][A-Z0-9._-]{0,63} after trimming and upper-casing");
    }
    return s;
  }

  private static String stripSpacesAndTabs(String s) {
    int a = 0;
    int b = s.length();
    while (a < b && (s.charAt(a) == ' ' || s.charAt(a) == '\t')) {
      a++;
    }
    while (b > a && (s.charAt(b - 1) == ' ' || s.charAt(b - 1) == '\t')) {
      b--;
    }
    return s.substring(a, b);
  }

  private static String asciiUpper(String s) {
    StringBuilder sb = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= 'a' && c <= 'z') {
        if (sb == null) {
          sb = new StringBuilder(s);
        }
        sb.setCharAt(i, (char) (c - 32));
      }
    }
    return sb == null ? s : sb.toString();
  }

  public static String location(String raw, String field) {
    return place(raw, field, "invalid_location");
  }

  public static String channel(String raw, String field) {
    return place(raw, field, "invalid_channel");
  }

  /** A webhook endpoint's id (admin-chosen, like a channel's): 400 invalid_webhook otherwise. */
  public static String webhook(String raw, String field) {
    return place(raw, field, "invalid_webhook");
  }

  private static String place(String raw, String field, String code) {
    if (raw == null || !matches(raw, 32, PLACE_FIRST, PLACE_REST)) {
      throw AllotException.badField(code, field, field + " must match [a-z0-9][a-z0-9_-]{0,31}");
    }
    return raw;
  }

  /** Client-chosen ids (reservation, movement): 400 invalid_id otherwise. */
  public static String clientId(String raw, String field) {
    if (raw == null || !matches(raw, 128, CLIENT_ID, CLIENT_ID) || raw.equals(".") || raw.equals("..")) {
      throw AllotException.badField("invalid_id", field, field + " must match [A-Za-z0-9._:-]{1,128} and not be . or ..");
    }
    return raw;
  }

  private static boolean[] ascii(String chars) {
    boolean[] in = new boolean[128];
    chars.chars().forEach(c -> in[c] = true);
    return in;
  }

  /** 1 to max characters, the first one in {@code first}, every other one in {@code rest}. */
  static boolean matches(String s, int max, boolean[] first, boolean[] rest) {
    int n = s.length();
    if (n == 0 || n > max || !in(first, s.charAt(0))) {
      return false;
    }
    for (int i = 1; i < n; i++) {
      if (!in(rest, s.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  private static boolean in(boolean[] set, char c) {
    return c < 128 && set[c];
  }

  /** A customer id on a reservation: {@code [A-Za-z0-9._:@-]{1,128}}. */
  public static boolean customer(String s) {
    return matches(s, 128, CUSTOMER, CUSTOMER);
  }
}
