package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every setting of the server, in one place. Values come from defaults, then an optional JSON
 * file ({@code --config FILE} or {@code ALLOT_CONFIG}), then environment variables, the last
 * one winning. The environment names are part of the contract (API.md, "Running").
 */
public record Settings(
    int httpPort,
    String httpHost,            // null: see listenHost()
    String redisUrl,            // null: start an embedded Redis (demo mode)
    List<String> redisCluster,  // non-empty: cluster mode
    Map<String, String> apiKeys, // key -> role ("admin", "reader", "channel:<id>")
    boolean authDisabled,
    int defaultTtlSeconds,
    int streamCoalesceMillis,
    int redisPoolSize,
    int redisTimeoutMillis,
    int httpInstances,
    long pendingLeaseMillis,     // how long a reservation may stay "pending" before the sweeper undoes it
    long cleanupLeaseMillis,     // how long a decided reservation's per-SKU clean-up may take
    long sweepIntervalMillis,
    long reservationRetentionSeconds,
    long movementRetentionSeconds,
    long catalogRefreshMillis,
    int storeRetryAfterSeconds,
    int streamPingMillis,        // a stream socket that does not answer a ping within two of these is closed
    int streamMaxSubscriptions,  // SKU subscriptions per stream connection
    int streamQueueBytes,        // bytes a stream socket may have waiting to be sent before it is closed
    int ledgerMaxEntries,        // ledger entries kept per SKU (newest first); older ones are trimmed
    int redisWaitReplicas,       // > 0: a script's change is answered only once this many replicas have it (WAIT)
    int redisWaitMillis) {       // how long that WAIT may take before the call answers 503

  public static final int DEFAULT_PORT = 8080;

  public boolean embeddedRedis() {
    return redisUrl == null && redisCluster.isEmpty();
  }

  /** Where HTTP listens: ALLOT_HTTP_HOST, else loopback only in demo mode (its keys are public), else all interfaces. */
  public String listenHost() {
    return httpHost != null ? httpHost : embeddedRedis() ? "127.0.0.1" : "0.0.0.0";
  }

  public boolean clusterMode() {
    return !redisCluster.isEmpty();
  }

  public String redisDescription() {
    return clusterMode() ? "cluster " + String.join(",", redisCluster) : redisUrl;
  }

  public Settings withRedisUrl(String url) {
    return new Settings(httpPort, httpHost, url, redisCluster, apiKeys, authDisabled, defaultTtlSeconds,
        streamCoalesceMillis, redisPoolSize, redisTimeoutMillis, httpInstances, pendingLeaseMillis, cleanupLeaseMillis,
        sweepIntervalMillis, reservationRetentionSeconds, movementRetentionSeconds, catalogRefreshMillis,
        storeRetryAfterSeconds, streamPingMillis, streamMaxSubscriptions, streamQueueBytes, ledgerMaxEntries,
        redisWaitReplicas, redisWaitMillis);
  }

  public Settings withApiKeys(Map<String, String> keys) {
    return new Settings(httpPort, httpHost, redisUrl, redisCluster, keys, authDisabled, defaultTtlSeconds,
        streamCoalesceMillis, redisPoolSize, redisTimeoutMillis, httpInstances, pendingLeaseMillis, cleanupLeaseMillis,
        sweepIntervalMillis, reservationRetentionSeconds, movementRetentionSeconds, catalogRefreshMillis,
        storeRetryAfterSeconds, streamPingMillis, streamMaxSubscriptions, streamQueueBytes, ledgerMaxEntries,
        redisWaitReplicas, redisWaitMillis);
  }

  /** Reads the settings: command line {@code --config FILE}, else {@code ALLOT_CONFIG}, then the environment. */
  public static Settings load(String[] args, Map<String, String> env) {
    String file = null;
    for (int i = 0; i < args.length; i++) {
      if ("--config".equals(args[i]) && i + 1 < args.length) {
        file = args[++i];
      } else if (args[i].startsWith("--config=")) {
        file = args[i].substring("--config=".length());
      } else {
        throw new IllegalArgumentException("unknown argument: " + args[i] + " (only --config FILE is accepted)");
      }
    }
    if (file == null) {
      file = env.get("ALLOT_CONFIG");
    }
    Map<String, String> values = new LinkedHashMap<>();
    if (file != null && !file.isBlank()) {
      values.putAll(readFile(Path.of(file)));
    }
    // Environment variables override the file. ALLOT_X_Y maps to the same key as the file's "x.y" names.
    for (Map.Entry<String, String> e : env.entrySet()) {
      if (e.getKey().startsWith("ALLOT_") && !e.getKey().equals("ALLOT_CONFIG")) {
        values.put(e.getKey(), e.getValue());
      }
    }
    return fromValues(values);
  }

  static Map<String, String> readFile(Path path) {
    try {
      JsonNode root = new ObjectMapper().readTree(Files.readString(path));
      if (root == null || !root.isObject()) {
        throw new IllegalArgumentException("config file " + path + " must hold a JSON object");
      }
      Map<String, String> out = new LinkedHashMap<>();
      flatten("", root, out);
      return out;
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read config file " + path + ": " + e.getMessage(), e);
    }
  }

  /** {"redis": {"url": "..."}} becomes ALLOT_REDIS_URL; {"apiKeys": {"k": "admin"}} becomes ALLOT_API_KEYS. */
  private static void flatten(String prefix, JsonNode node, Map<String, String> out) {
    node.fields().forEachRemaining(e -> {
      String name = prefix.isEmpty() ? e.getKey() : prefix + "_" + e.getKey();
      JsonNode v = e.getValue();
      String envName = "ALLOT_" + name.replaceAll("([a-z])([A-Z])", "$1_$2").toUpperCase();
      if (envName.equals("ALLOT_API_KEYS") && v.isObject()) {
        List<String> pairs = new ArrayList<>();
        v.fields().forEachRemaining(k -> pairs.add(k.getKey() + "=" + k.getValue().asText()));
        out.put(envName, String.join(",", pairs));
      } else if (v.isObject()) {
        flatten(name, v, out);
      } else if (v.isArray()) {
        List<String> items = new ArrayList<>();
        v.forEach(i -> items.add(i.asText()));
        out.put(envName, String.join(",", items));
      } else {
        out.put(envName, v.asText());
      }
    });
  }

  static Settings fromValues(Map<String, String> v) {
    String redisUrl = blankToNull(v.get("ALLOT_REDIS_URL"));
    String cluster = blankToNull(v.get("ALLOT_REDIS_CLUSTER"));
    List<String> clusterNodes = new ArrayList<>();
    if (cluster != null) {
      for (String s : cluster.split(",")) {
        if (!s.isBlank()) {
          clusterNodes.add(s.trim());
        }
      }
    }
    int cores = Runtime.getRuntime().availableProcessors();
    Settings s = new Settings(
        intSetting(v, "ALLOT_HTTP_PORT", DEFAULT_PORT, 0, 65535),
        blankToNull(v.get("ALLOT_HTTP_HOST")),
        redisUrl,
        List.copyOf(clusterNodes),
        parseKeys(v.getOrDefault("ALLOT_API_KEYS", "")),
        boolSetting(v, "ALLOT_AUTH_DISABLED"),
        intSetting(v, "ALLOT_DEFAULT_TTL_SECONDS", 900, 1, 86400),
        intSetting(v, "ALLOT_STREAM_COALESCE_MILLIS", 50, 1, 60_000),
        intSetting(v, "ALLOT_REDIS_POOL_SIZE", 16, 1, 1024),
        intSetting(v, "ALLOT_REDIS_TIMEOUT_MILLIS", 5000, 10, 600_000),
        intSetting(v, "ALLOT_HTTP_INSTANCES", cores, 1, 256),
        intSetting(v, "ALLOT_PENDING_LEASE_MILLIS", 10_000, 100, 600_000),
        intSetting(v, "ALLOT_CLEANUP_LEASE_MILLIS", 5_000, 100, 600_000),
        intSetting(v, "ALLOT_SWEEP_INTERVAL_MILLIS", 200, 10, 60_000),
        intSetting(v, "ALLOT_RESERVATION_RETENTION_SECONDS", 7 * 86400, 1, Integer.MAX_VALUE),
        intSetting(v, "ALLOT_MOVEMENT_RETENTION_SECONDS", 30 * 86400, 1, Integer.MAX_VALUE),
        intSetting(v, "ALLOT_CATALOG_REFRESH_MILLIS", 1000, 50, 600_000),
        intSetting(v, "ALLOT_STORE_RETRY_AFTER_SECONDS", 1, 1, 3600),
        intSetting(v, "ALLOT_STREAM_PING_MILLIS", 15_000, 10, 3_600_000),
        intSetting(v, "ALLOT_STREAM_MAX_SUBSCRIPTIONS", 1000, 1, 100_000),
        intSetting(v, "ALLOT_STREAM_QUEUE_BYTES", 256 * 1024, 1024, 64 * 1024 * 1024),
        intSetting(v, "ALLOT_LEDGER_MAX_ENTRIES", 1000, 10, 1_000_000),
        intSetting(v, "ALLOT_REDIS_WAIT_REPLICAS", 0, 0, 16),
        intSetting(v, "ALLOT_REDIS_WAIT_MILLIS", 1000, 1, 600_000));
    if (s.redisWaitReplicas() > 0 && s.redisWaitMillis() >= s.redisTimeoutMillis()) {
      throw new IllegalArgumentException("ALLOT_REDIS_WAIT_MILLIS (" + s.redisWaitMillis()
          + ") must be below ALLOT_REDIS_TIMEOUT_MILLIS (" + s.redisTimeoutMillis() + "): the wait is part of the call");
    }
    return s;
  }

  /** {@code key1=admin,key2=channel:web,key3=reader}. */
  public static Map<String, String> parseKeys(String spec) {
    Map<String, String> keys = new LinkedHashMap<>();
    for (String pair : spec.split(",")) {
      String p = pair.trim();
      if (p.isEmpty()) {
        continue;
      }
      int eq = p.indexOf('=');
      if (eq <= 0 || eq == p.length() - 1) {
        throw new IllegalArgumentException("ALLOT_API_KEYS: expected key=role, got '" + p + "'");
      }
      String key = p.substring(0, eq).trim();
      String role = p.substring(eq + 1).trim();
      if (!role.equals("admin") && !role.equals("reader") && !role.matches("channel:[a-z0-9][a-z0-9_-]{0,31}")) {
        throw new IllegalArgumentException("ALLOT_API_KEYS: unknown role '" + role + "' for a key"
            + " (admin, reader or channel:<id>)");
      }
      keys.put(key, role);
    }
    return Map.copyOf(keys);
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }

  private static boolean boolSetting(Map<String, String> v, String name) {
    String s = v.get(name);
    if (s == null || s.isBlank()) {
      return false;
    }
    if (s.trim().equalsIgnoreCase("true")) {
      return true;
    }
    if (s.trim().equalsIgnoreCase("false")) {
      return false;
    }
    throw new IllegalArgumentException(name + " must be true or false, got '" + s + "'");
  }

  private static int intSetting(Map<String, String> v, String name, int dflt, int min, int max) {
    String s = v.get(name);
    if (s == null || s.isBlank()) {
      return dflt;
    }
    try {
      int n = Integer.parseInt(s.trim());
      if (n < min || n > max) {
        throw new IllegalArgumentException(name + " must be between " + min + " and " + max + ", got " + n);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a whole number, got '" + s + "'");
    }
  }
}
