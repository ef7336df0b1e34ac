package dev.allot.stock;

import java.util.regex.Pattern;

/** The contract's input rules (API.md, "General"): each failure names the field it is about. */
public final class Validate {
  private static final Pattern SKU = Pattern.compile("[A-Z0-9][A-Z0-9._-]{0,63}");
  private static final Pattern PLACE = Pattern.compile("[a-z0-9][a-z0-9_-]{0,31}");
  private static final Pattern CLIENT_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

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
    if (!SKU.matcher(s).matches()) {
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
    if (raw == null || !PLACE.matcher(raw).matches()) {
      throw AllotException.badField(code, field, field + " must match [a-z0-9][a-z0-9_-]{0,31}");
    }
    return raw;
  }

  /** Client-chosen ids (reservation, movement): 400 invalid_id otherwise. */
  public static String clientId(String raw, String field) {
    if (raw == null || !CLIENT_ID.matcher(raw).matches() || raw.equals(".") || raw.equals("..")) {
      throw AllotException.badField("invalid_id", field, field + " must match [A-Za-z0-9._:-]{1,128} and not be . or ..");
    }
    return raw;
  }
}
