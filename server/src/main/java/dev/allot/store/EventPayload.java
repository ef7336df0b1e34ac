package dev.allot.store;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The payload of a SKU's change event on {@link Keys#events}: {@code <version>|<loc>=<available>,...}.
 * The stock scripts write it, in the same atomic step as the change, with {@code publish()} in
 * {@code lua/include/stock_prelude.lua}; lua/README.md ("Events") documents it. This is its one
 * reader on the Java side.
 * <ul>
 *   <li>{@code version}: the stock hash's {@code ver} after the change;</li>
 *   <li>one {@code loc=available} entry per location with counts, in the order the script wrote
 *   them ({@code HGETALL} order); {@code available} is never below 0. No entry at all is
 *   {@code <version>|}.</li>
 * </ul>
 * For example {@code 2|main=8,shop=5}.
 *
 * @param version the SKU's version after the change
 * @param available each location's available units, in the payload's order (unmodifiable)
 */
public record EventPayload(long version, Map<String, Long> available) {

  public EventPayload {
    if (version < 0) {
      throw new IllegalArgumentException("negative version " + version);
    }
    available = Collections.unmodifiableMap(new LinkedHashMap<>(available));
    available.forEach((loc, n) -> {
      if (loc == null || loc.isEmpty() || loc.chars().anyMatch(ch -> ch == '|' || ch == ',' || ch == '=')
          || n == null || n < 0) {
        throw new IllegalArgumentException("location '" + loc + "' with " + n + " available");
      }
    });
  }

  /**
   * Reads a payload as the scripts write it.
   *
   * @throws IllegalArgumentException if it is not one: no {@code |}, a version or a count that is
   *     not a non-negative integer, an entry without {@code =} or without a location, a location
   *     with a {@code |}, or the same location twice (location codes are {@code [a-z0-9_-]})
   */
  public static EventPayload decode(String payload) {
    if (payload == null) {
      throw new IllegalArgumentException("no payload");
    }
    int bar = payload.indexOf('|');
    if (bar < 0) {
      throw new IllegalArgumentException("no '|' after the version");
    }
    long version = number(payload.substring(0, bar), "version");
    Map<String, Long> available = new LinkedHashMap<>();
    if (bar + 1 < payload.length()) {
      // split with a negative limit keeps empty entries, so "a=1," is refused, not read as "a=1".
      for (String entry : payload.substring(bar + 1).split(",", -1)) {
        int eq = entry.indexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException("entry '" + entry + "' is not location=available");
        }
        String loc = entry.substring(0, eq);
        if (available.put(loc, number(entry.substring(eq + 1), "available at " + loc)) != null) {
          throw new IllegalArgumentException("location " + loc + " twice");
        }
      }
    }
    return new EventPayload(version, available);
  }

  /** The payload as the scripts write it (tests publish events with it). */
  public String encode() {
    StringBuilder sb = new StringBuilder().append(version).append('|');
    String sep = "";
    for (Map.Entry<String, Long> e : available.entrySet()) {
      sb.append(sep).append(e.getKey()).append('=').append(e.getValue());
      sep = ",";
    }
    return sb.toString();
  }

  private static long number(String s, String what) {
    // Digits only (Long.parseLong would also take a sign); too many of them overflow, refused too.
    if (s.isEmpty() || !s.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
      throw new IllegalArgumentException(what + " '" + s + "' is not a non-negative integer");
    }
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(what + " '" + s + "' is out of range");
    }
  }
}
