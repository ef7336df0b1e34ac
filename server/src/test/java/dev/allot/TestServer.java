package dev.allot;

import dev.allot.config.Settings;
import java.util.HashMap;
import java.util.Map;

/** Starts real Allot servers for tests, on a free port, against a given Redis, with known keys. */
public final class TestServer {
  public static final String ADMIN = "t-admin";
  public static final String READER = "t-reader";

  private TestServer() {
  }

  /** Keys: t-admin (admin), t-reader (reader), t-&lt;channel&gt; for each of the usual test channels. */
  public static AllotServer start(String redisUrl, Map<String, String> overrides) throws Exception {
    Map<String, String> v = new HashMap<>();
    v.put("ALLOT_REDIS_URL", redisUrl);
    if (TestRedis.clusterMode() && TestRedis.url().equals(redisUrl)) {
      // The suite's cluster run: the same tests against a local three-master Redis Cluster.
      v.put("ALLOT_REDIS_URL", "");
      v.put("ALLOT_REDIS_CLUSTER", TestRedis.clusterUrls());
    }
    v.put("ALLOT_HTTP_PORT", Integer.toString(dev.allot.store.RedisProcess.freePort()));
    v.put("ALLOT_HTTP_HOST", "127.0.0.1");
    v.put("ALLOT_API_KEYS", ADMIN + "=admin," + READER + "=reader");
    v.put("ALLOT_SWEEP_INTERVAL_MILLIS", "50");
    v.put("ALLOT_CATALOG_REFRESH_MILLIS", "200");
    v.putAll(overrides);
    return AllotServer.start(Settings.fromValues(v));
  }

  public static AllotServer start() throws Exception {
    return start(TestRedis.url(), Map.of());
  }

  /** The ALLOT_API_KEYS value giving t-admin, t-reader and one key per channel, t-&lt;channel&gt;. */
  public static String keys(String... channels) {
    StringBuilder sb = new StringBuilder(ADMIN + "=admin," + READER + "=reader");
    for (String c : channels) {
      sb.append(",t-").append(c).append("=channel:").append(c);
    }
    return sb.toString();
  }
}
