package dev.allot.store;

import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.ResponseType;

/**
 * What Allot reads of Redis's own settings, to refuse readiness or to advise: its eviction policy
 * and how long a hash value may be and still be stored compactly. Read-only: Allot never changes
 * its Redis's configuration.
 */
public final class RedisSettings {
  /** The only maxmemory-policy under which Redis never drops Allot's keys. */
  public static final String SAFE_POLICY = "noeviction";

  private RedisSettings() {
  }

  /**
   * Redis's {@code maxmemory-policy} (from INFO, which managed offerings allow where CONFIG is off).
   * Anything but noeviction may evict stock, holds and reservation records: Allot is then not ready.
   */
  public static Future<String> evictionPolicy(RedisStore redis) {
    return redis.send(Request.cmd(Command.INFO).arg("memory")).map(r -> {
      for (String line : r.toString().split("\r?\n")) {
        if (line.startsWith("maxmemory_policy:")) {
          return line.substring("maxmemory_policy:".length()).trim();
        }
      }
      return "unknown";
    });
  }

  /**
   * Redis's {@code hash-max-listpack-value} ({@code hash-max-ziplist-value} on 6.2), or -1 when CONFIG is
   * not allowed (managed offerings often rename it) or answers nothing. A reservation record whose
   * 201 document is longer than it is stored as a hash table instead of one listpack: about 450
   * bytes more a held reservation (deploy/README.md, "What to size").
   */
  public static Future<Integer> hashValueLimit(RedisStore redis) {
    return redis.send(Request.cmd(Command.CONFIG).arg("GET").arg("hash-max-*-value")).map(r -> {
      int limit = -1;
      // A map (RESP3) or a flat name, value list (RESP2): the client reads either by its keys.
      if (r != null && r.type() == ResponseType.MULTI) {
        for (String name : r.getKeys()) {
          try {
            limit = Math.max(limit, Integer.parseInt(String.valueOf(r.get(name)).trim()));
          } catch (NumberFormatException ignored) {
            // not a number: not one of the two settings
          }
        }
      }
      return limit;
    }).otherwise(-1);
  }
}
