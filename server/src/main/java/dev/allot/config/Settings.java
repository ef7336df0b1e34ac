package dev.allot.config;

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
 * Every setting of the server, in one place, grouped by the concern that reads it: each service
 * is handed its own group. Values come from defaults, then an optional JSON file
 * ({@code --config FILE} or {@code ALLOT_CONFIG}), then environment variables, the last one
 * winning. The environment names are part of the contract (API.md, "Running").
 */
public record Settings(Http http, Redis redis, Reservations reservations, Stock stock, Stream stream,
                       Outbound outbound) {

  public static final int DEFAULT_PORT = 8080;

  /**
   * HTTP: where it listens and who may call. {@code host} is where it listens: ALLOT_HTTP_HOST,
   * else loopback only in demo mode (its keys are public), else all interfaces. {@code apiKeys}:
   * key -> role ("admin", "reader", "channel:<id>"). {@code storeRetryAfterSeconds}: the
   * Retry-After of a 503 store_unavailable.
   */
  /**
   * HTTP: besides the port and keys, the bounds on connections (#15): at most {@code maxConnections}
   * open per instance, a request head within {@code headerTimeoutMillis} of connecting, and a
   * connection silent for {@code idleTimeoutSeconds} closed (0: never).
   */
  public record Http(int port, String host, int instances, Map<String, String> apiKeys, boolean authDisabled,
                     int storeRetryAfterSeconds, int maxConnections, int headerTimeoutMillis, int idleTimeoutSeconds,
                     int sendBufferBytes) {
    public Http withApiKeys(Map<String, String> keys) {
      return new Http(port, host, instances, keys, authDisabled, storeRetryAfterSeconds, maxConnections,
          headerTimeoutMillis, idleTimeoutSeconds, sendBufferBytes);
    }
  }

  /**
   * Redis: {@code url} null and no {@code cluster} nodes means an embedded Redis (demo mode);
   * cluster nodes mean cluster mode. {@code waitReplicas} > 0: a script's change is answered only
   * once this many replicas have it (WAIT, for at most {@code waitMillis}). {@code groupCommitInFlight}:
   * how many group-committed calls the instance may have under way at once, its event loops together
   * (store.InFlight; one limit for creations, one for commits and releases).
   */
  public record Redis(String url, List<String> cluster, int poolSize, int timeoutMillis, int waitReplicas,
                      int waitMillis, int groupCommitInFlight, Tls tls) {
    public boolean embedded() {
      return url == null && cluster.isEmpty();
    }

    public boolean clusterMode() {
      return !cluster.isEmpty();
    }

    /** For logs: the URL(s) with any password replaced by {@code ***}. */
    public String description() {
      return clusterMode() ? "cluster " + String.join(",", cluster.stream().map(Settings::redact).toList()) : redact(url);
    }

    public Redis withUrl(String newUrl) {
      return new Redis(newUrl, cluster, poolSize, timeoutMillis, waitReplicas, waitMillis, groupCommitInFlight, tls);
    }

    /** True when the URL (or the cluster's seed URLs) say {@code rediss://}: TLS to Redis. */
    public boolean usesTls() {
      return clusterMode() ? cluster.stream().anyMatch(Settings::isTls) : isTls(url);
    }
  }

  /**
   * TLS to Redis, used with {@code rediss://} URLs: a PEM file of CA certificates to trust (else the
   * JVM's trust store), a client certificate and its key (PEM, PKCS#8) where Redis asks for one,
   * and whether the server's certificate must name the host Allot connects to (yes, unless the
   * operator says otherwise out loud).
   */
  public record Tls(String caPath, String certPath, String keyPath, boolean verifyHostname) {
    public static final Tls NONE = new Tls(null, null, null, true);

    public boolean configured() {
      return caPath != null || certPath != null || keyPath != null || !verifyHostname;
    }
  }

  static boolean isTls(String url) {
    return url != null && url.regionMatches(true, 0, "rediss://", 0, 9);
  }

  /**
   * Reservations: the default TTL; how long one may stay "pending" before the sweeper undoes it;
   * how long a decided one's per-SKU clean-up may take; how often the sweeper looks; how long a
   * finished record is kept.
   */
  public record Reservations(int defaultTtlSeconds, long pendingLeaseMillis, long cleanupLeaseMillis,
                             long sweepIntervalMillis, long retentionSeconds) {
  }

  /**
   * Stock: how long a movement id is remembered, ledger entries kept per SKU (newest first), how
   * often each instance re-reads the catalogue.
   */
  public record Stock(long movementRetentionSeconds, int ledgerMaxEntries, long catalogRefreshMillis) {
  }

  /**
   * The live stream: coalescing per (SKU, channel); a socket that does not answer a ping within two
   * of {@code pingMillis} is closed; SKU subscriptions per connection; bytes a socket may have
   * waiting before it is closed; stream sockets one API key may hold open on one instance (a reader
   * key lives in product pages: many browsers share it); distinct SKUs one key may watch on one
   * instance (each is a Redis subscription: what a flood of made-up SKUs would grow).
   */
  public record Stream(int coalesceMillis, int pingMillis, int maxSubscriptions, int queueBytes, int maxSocketsPerKey,
                       int maxSkusPerKey, int stallMillis) {
  }

  /**
   * Outbound (API.md, "Outbound"): events are kept at least {@code eventsRetentionSeconds}; the feed is
   * trimmed every {@code trimIntervalMillis}; on a Redis Cluster each instance relays the outboxes it
   * wrote to within {@code relayMillis}, and walks every outbox every {@code relaySweepMillis} (the
   * outboxes of an instance that died). A webhook endpoint's SKU is stale (GET /v1/sync) when its
   * availability there has been unconfirmed for longer than {@code syncStaleSeconds}.
   */
  public record Outbound(long eventsRetentionSeconds, long trimIntervalMillis, long relayMillis,
                         long relaySweepMillis, long syncStaleSeconds) {
  }

  public boolean embeddedRedis() {
    return redis.embedded();
  }

  public Settings withRedisUrl(String url) {
    return new Settings(http, redis.withUrl(url), reservations, stock, stream, outbound);
  }

  public Settings withApiKeys(Map<String, String> keys) {
    return new Settings(http.withApiKeys(keys), redis, reservations, stock, stream, outbound);
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

  /** The settings from ALLOT_* names and their values (as the environment or a config file gives them). */
  public static Settings fromValues(Map<String, String> v) {
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
    Redis redis = new Redis(redisUrl, List.copyOf(clusterNodes),
        intSetting(v, "ALLOT_REDIS_POOL_SIZE", 16, 1, 1024),
        intSetting(v, "ALLOT_REDIS_TIMEOUT_MILLIS", 5000, 10, 600_000),
        intSetting(v, "ALLOT_REDIS_WAIT_REPLICAS", 0, 0, 16),
        intSetting(v, "ALLOT_REDIS_WAIT_MILLIS", 1000, 1, 600_000),
        intSetting(v, "ALLOT_GROUP_COMMIT_IN_FLIGHT", 2, 1, 16),
        tls(v));
    if (redis.tls().configured() && !redis.usesTls()) {
      throw new IllegalArgumentException("ALLOT_REDIS_TLS_* is set but the Redis URL is not rediss://: the connection "
          + "would not be encrypted; use rediss://host:port (or remove the TLS settings)");
    }
    if (redis.waitReplicas() > 0 && redis.waitMillis() >= redis.timeoutMillis()) {
      throw new IllegalArgumentException("ALLOT_REDIS_WAIT_MILLIS (" + redis.waitMillis()
          + ") must be below ALLOT_REDIS_TIMEOUT_MILLIS (" + redis.timeoutMillis() + "): the wait is part of the call");
    }
    // Decided here, before an embedded Redis gets its URL: demo mode (its keys are public) stays on loopback.
    String host = blankToNull(v.get("ALLOT_HTTP_HOST"));
    Http http = new Http(
        intSetting(v, "ALLOT_HTTP_PORT", DEFAULT_PORT, 0, 65535),
        host != null ? host : redis.embedded() ? "127.0.0.1" : "0.0.0.0",
        intSetting(v, "ALLOT_HTTP_INSTANCES", cores, 1, 256),
        parseKeys(v.getOrDefault("ALLOT_API_KEYS", "")),
        boolSetting(v, "ALLOT_AUTH_DISABLED"),
        intSetting(v, "ALLOT_STORE_RETRY_AFTER_SECONDS", 1, 1, 3600),
        intSetting(v, "ALLOT_HTTP_MAX_CONNECTIONS", 60_000, 1, 10_000_000),
        intSetting(v, "ALLOT_HTTP_HEADER_TIMEOUT_MILLIS", 10_000, 100, 600_000),
        intSetting(v, "ALLOT_HTTP_IDLE_TIMEOUT_SECONDS", 120, 0, 86_400),
        intSetting(v, "ALLOT_HTTP_SEND_BUFFER_BYTES", 0, 0, 64 * 1024 * 1024));
    Reservations reservations = new Reservations(
        intSetting(v, "ALLOT_DEFAULT_TTL_SECONDS", 900, 1, 86400),
        intSetting(v, "ALLOT_PENDING_LEASE_MILLIS", 10_000, 100, 600_000),
        intSetting(v, "ALLOT_CLEANUP_LEASE_MILLIS", 5_000, 100, 600_000),
        intSetting(v, "ALLOT_SWEEP_INTERVAL_MILLIS", 200, 10, 60_000),
        intSetting(v, "ALLOT_RESERVATION_RETENTION_SECONDS", 7 * 86400, 1, Integer.MAX_VALUE));
    Stock stock = new Stock(
        intSetting(v, "ALLOT_MOVEMENT_RETENTION_SECONDS", 30 * 86400, 1, Integer.MAX_VALUE),
        intSetting(v, "ALLOT_LEDGER_MAX_ENTRIES", 1000, 10, 1_000_000),
        intSetting(v, "ALLOT_CATALOG_REFRESH_MILLIS", 1000, 50, 600_000));
    Stream stream = new Stream(
        intSetting(v, "ALLOT_STREAM_COALESCE_MILLIS", 50, 1, 60_000),
        intSetting(v, "ALLOT_STREAM_PING_MILLIS", 15_000, 10, 3_600_000),
        intSetting(v, "ALLOT_STREAM_MAX_SUBSCRIPTIONS", 1000, 1, 100_000),
        intSetting(v, "ALLOT_STREAM_QUEUE_BYTES", 256 * 1024, 1024, 64 * 1024 * 1024),
        intSetting(v, "ALLOT_STREAM_MAX_SOCKETS_PER_KEY", 50_000, 1, 10_000_000),
        intSetting(v, "ALLOT_STREAM_MAX_SKUS_PER_KEY", 20_000, 1, 10_000_000),
        intSetting(v, "ALLOT_STREAM_STALL_MILLIS", 10_000, 100, 3_600_000));
    Outbound outbound = new Outbound(
        intSetting(v, "ALLOT_EVENTS_RETENTION_SECONDS", 7 * 86400, 60, Integer.MAX_VALUE),
        intSetting(v, "ALLOT_EVENTS_TRIM_INTERVAL_MILLIS", 60_000, 100, 3_600_000),
        intSetting(v, "ALLOT_OUTBOX_RELAY_MILLIS", 50, 1, 60_000),
        intSetting(v, "ALLOT_OUTBOX_SWEEP_MILLIS", 5_000, 100, 3_600_000),
        intSetting(v, "ALLOT_SYNC_STALE_SECONDS", 60, 1, 86_400));
    if (http.idleTimeoutSeconds() > 0 && http.idleTimeoutSeconds() * 1000L <= stream.pingMillis()) {
      throw new IllegalArgumentException("ALLOT_HTTP_IDLE_TIMEOUT_SECONDS (" + http.idleTimeoutSeconds() + ") must be "
          + "longer than ALLOT_STREAM_PING_MILLIS (" + stream.pingMillis() + "): a quiet stream socket is kept open "
          + "by its pings, and would otherwise be closed as idle");
    }
    return new Settings(http, redis, reservations, stock, stream, outbound);
  }

  /**
   * A Redis URL fit for a log line: the password of its user info replaced by {@code ***}
   * ({@code redis://user:secret@host} -> {@code redis://user:***@host}, {@code redis://secret@host} ->
   * {@code redis://***@host}).
   */
  public static String redact(String url) {
    if (url == null) {
      return null;
    }
    int scheme = url.indexOf("://");
    int at = url.lastIndexOf('@');
    if (scheme < 0 || at < scheme + 3) {
      return url;
    }
    String userInfo = url.substring(scheme + 3, at);
    int colon = userInfo.indexOf(':');
    String shown = colon >= 0 ? userInfo.substring(0, colon + 1) + "***" : "***";
    return url.substring(0, scheme + 3) + shown + url.substring(at);
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

  private static Tls tls(Map<String, String> v) {
    String ca = readableFile(v, "ALLOT_REDIS_TLS_CA");
    String cert = readableFile(v, "ALLOT_REDIS_TLS_CERT");
    String key = readableFile(v, "ALLOT_REDIS_TLS_KEY");
    if ((cert == null) != (key == null)) {
      throw new IllegalArgumentException("ALLOT_REDIS_TLS_CERT and ALLOT_REDIS_TLS_KEY go together: a client "
          + "certificate needs its key");
    }
    String verify = v.get("ALLOT_REDIS_TLS_VERIFY_HOSTNAME");
    boolean verifyHostname = verify == null || verify.isBlank() || boolSetting(v, "ALLOT_REDIS_TLS_VERIFY_HOSTNAME");
    Tls tls = new Tls(ca, cert, key, verifyHostname);
    return tls.configured() ? tls : Tls.NONE;
  }

  /** A setting naming a file: checked at start, so a typo is a clear error and not a failed TLS handshake later. */
  private static String readableFile(Map<String, String> v, String name) {
    String path = blankToNull(v.get(name));
    if (path != null && !Files.isReadable(Path.of(path))) {
      throw new IllegalArgumentException(name + " names a file that cannot be read: " + path);
    }
    return path;
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
