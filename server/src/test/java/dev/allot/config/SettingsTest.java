package dev.allot.config;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Configuration: defaults, the JSON file, environment overrides, and clear errors for bad values. */
class SettingsTest {

  @Test
  @DisplayName("defaults: port 8080, TTL 900, coalescing 50 ms, embedded Redis, auth on")
  void defaults() {
    Settings s = Settings.load(new String[0], Map.of());
    assertEquals(8080, s.http().port());
    assertEquals(900, s.reservations().defaultTtlSeconds());
    assertEquals(50, s.stream().coalesceMillis());
    assertTrue(s.embeddedRedis());
    assertFalse(s.http().authDisabled());
    assertEquals("127.0.0.1", s.http().host(), "demo mode listens on loopback only");
  }

  @Test
  @DisplayName("a JSON file sets values and each environment variable overrides its file value")
  void fileThenEnvironment(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path f = dir.resolve("allot.json");
    Files.writeString(f, "{\"http\": {\"port\": 9090}, \"redis\": {\"url\": \"redis://h:1\"},"
        + " \"apiKeys\": {\"a\": \"admin\", \"w\": \"channel:web\"}, \"defaultTtlSeconds\": 60}");
    Settings s = Settings.load(new String[] {"--config", f.toString()}, Map.of("ALLOT_DEFAULT_TTL_SECONDS", "120"));
    assertEquals(9090, s.http().port());
    assertEquals("redis://h:1", s.redis().url());
    assertEquals(Map.of("a", "admin", "w", "channel:web"), s.http().apiKeys());
    assertEquals(120, s.reservations().defaultTtlSeconds());
    assertEquals("0.0.0.0", s.http().host());
    Settings viaEnv = Settings.load(new String[0], Map.of("ALLOT_CONFIG", f.toString(), "ALLOT_HTTP_PORT", "7070"));
    assertEquals(7070, viaEnv.http().port());
  }

  @Test
  @DisplayName("the contract's variables: keys with roles, cluster nodes, auth switch")
  void environment() {
    Settings s = Settings.load(new String[0], Map.of(
        "ALLOT_API_KEYS", "k1=admin, k2=channel:web ,k3=reader",
        "ALLOT_REDIS_CLUSTER", "redis://a:1,redis://b:2",
        "ALLOT_AUTH_DISABLED", "true",
        "ALLOT_STREAM_COALESCE_MILLIS", "20"));
    assertEquals("channel:web", s.http().apiKeys().get("k2"));
    assertEquals(3, s.http().apiKeys().size());
    assertTrue(s.redis().clusterMode());
    assertFalse(s.embeddedRedis());
    assertEquals(2, s.redis().cluster().size());
    assertTrue(s.http().authDisabled());
    assertEquals(20, s.stream().coalesceMillis());
  }

  @Test
  @DisplayName("bad values fail at start with a message naming the setting")
  void badValues() {
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Settings.load(new String[0],
        Map.of("ALLOT_API_KEYS", "k1=root"))).getMessage().contains("ALLOT_API_KEYS"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Settings.load(new String[0],
        Map.of("ALLOT_HTTP_PORT", "eighty"))).getMessage().contains("ALLOT_HTTP_PORT"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Settings.load(new String[0],
        Map.of("ALLOT_DEFAULT_TTL_SECONDS", "0"))).getMessage().contains("ALLOT_DEFAULT_TTL_SECONDS"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Settings.load(new String[0],
        Map.of("ALLOT_AUTH_DISABLED", "yes"))).getMessage().contains("ALLOT_AUTH_DISABLED"));
    assertThrows(IllegalArgumentException.class, () -> Settings.load(new String[] {"--port", "1"}, Map.of()));
    assertThrows(IllegalArgumentException.class, () -> Settings.load(new String[] {"--config", "/no/such/file.json"}, Map.of()));
  }
}
