package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static dev.allot.Api.expect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Holds expire by themselves: with no traffic on the SKU, after an extend, and racing a commit. */
class ExpiryTest {
  static AllotServer server;
  static AllotServer second;
  static Api admin;
  static Api web;
  static Api web2;

  @BeforeAll
  static void start() throws Exception {
    Map<String, String> cfg = Map.of("ALLOT_API_KEYS", TestServer.keys("web"), "ALLOT_SWEEP_INTERVAL_MILLIS", "100");
    server = TestServer.start(TestRedis.url(), cfg);
    second = TestServer.start(TestRedis.url(), cfg);
    admin = new Api(server.port(), TestServer.ADMIN);
    web = admin.as("t-web");
    web2 = new Api(second.port(), "t-web");
    admin.location("main");
    admin.channel("web", "[\"main\"]", 0);
  }

  @AfterAll
  static void stop() {
    server.stop();
    second.stop();
  }

  static void await(String what, long timeoutMillis, BooleanSupplier condition) {
    await(what, timeoutMillis, condition, () -> "");
  }

  static void await(String what, long timeoutMillis, BooleanSupplier condition, java.util.function.Supplier<String> context) {
    await(what, timeoutMillis, condition::getAsBoolean, done -> done, done -> context.get());
  }

  /** Polls {@code value} until {@code done} holds for it (answered), or fails at the deadline naming the last one. */
  static <T> T await(String what, long timeoutMillis, java.util.function.Supplier<T> value,
                     java.util.function.Predicate<T> done) {
    return await(what, timeoutMillis, value, done, String::valueOf);
  }

  private static <T> T await(String what, long timeoutMillis, java.util.function.Supplier<T> value,
                             java.util.function.Predicate<T> done, java.util.function.Function<T, String> describe) {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    T v = value.get();
    while (!done.test(v)) {
      if (System.currentTimeMillis() > deadline) {
        throw new AssertionError("timed out waiting for: " + what + " " + describe.apply(v));
      }
      try {
        TimeUnit.MILLISECONDS.sleep(10); // polling interval of a condition with a deadline
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
      v = value.get();
    }
    return v;
  }

  static String cart(String id, String sku, int qty, int ttl) {
    return "{\"id\":\"" + id + "\",\"channel\":\"web\",\"ttlSeconds\":" + ttl + ",\"lines\":[{\"sku\":\"" + sku
        + "\",\"qty\":" + qty + "}]}";
  }

  @Test
  @DisplayName("an untouched SKU gets an expired hold back within about a second of its deadline")
  void expiresWithNoTraffic() {
    String sku = Api.sku("exp");
    admin.receive(sku, "main", 5);
    String id = Api.id("c");
    JsonNode r = expect(web.post("/v1/reservations", cart(id, sku, 4, 2)), 201).json();
    long deadline = Instant.parse(r.path("expiresAt").asText()).toEpochMilli();
    assertEquals(1, web.channelAvailable("web", sku));
    await("units back", 5000, () -> web.channelAvailable("web", sku) == 5);
    long late = System.currentTimeMillis() - deadline;
    assertTrue(late < 3000, "returned " + late + " ms after the deadline (about a second; wide for a loaded CI box)");
    assertEquals("expired", expect(web.get("/v1/reservations/" + id), 200).json().path("state").asText());
    assertEquals("reservation_expired", expect(web.post("/v1/reservations/" + id + "/commit", null), 410).code());
    assertEquals("reservation_expired", expect(web.post("/v1/reservations/" + id + "/release", null), 410).code());
    assertEquals("reservation_expired", expect(web.post("/v1/reservations/" + id + "/extend", "{\"ttlSeconds\":5}"), 410).code());
    assertEquals(0, web.sku(sku, "main").path("reserved").asLong());
  }

  @Test
  @DisplayName("extend moves the deadline: the hold outlives its first TTL and can be committed")
  void extend() {
    String sku = Api.sku("ext");
    admin.receive(sku, "main", 3);
    String id = Api.id("c");
    JsonNode first = expect(web.post("/v1/reservations", cart(id, sku, 2, 2)), 201).json();
    JsonNode ext = expect(web.post("/v1/reservations/" + id + "/extend", "{\"ttlSeconds\":60}"), 200).json();
    assertTrue(Instant.parse(ext.path("expiresAt").asText()).isAfter(Instant.parse(first.path("expiresAt").asText())));
    long after = Instant.parse(first.path("expiresAt").asText()).toEpochMilli() + 1200;
    await("past the first deadline", 5000, () -> System.currentTimeMillis() > after);
    // A sweep has certainly run since the first deadline; the hold is still there.
    assertEquals(2, web.sku(sku, "main").path("reserved").asLong());
    assertEquals("held", expect(web.get("/v1/reservations/" + id), 200).json().path("state").asText());
    expect(web.post("/v1/reservations/" + id + "/commit", null), 200);
    assertEquals(2, web.sku(sku, "main").path("committed").asLong());
    assertEquals("invalid_ttl", expect(web.post("/v1/reservations/" + id + "/extend", "{\"ttlSeconds\":0}"), 400).code());
  }

  @Test
  @DisplayName("commit racing expiry, with two sweeping instances: exactly one wins each time, nothing released twice")
  void commitRacingExpiry() throws Exception {
    String sku = Api.sku("race");
    admin.receive(sku, "main", 100);
    int n = 40;
    List<String> ids = new ArrayList<>();
    List<Long> deadlines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String id = Api.id("c");
      ids.add(id);
      JsonNode r = expect(web.post("/v1/reservations", cart(id, sku, 1, 1)), 201).json();
      deadlines.add(Instant.parse(r.path("expiresAt").asText()).toEpochMilli());
    }
    ScheduledExecutorService timer = Executors.newScheduledThreadPool(4);
    List<CompletableFuture<Api.Res>> commits = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        CompletableFuture<Api.Res> f = new CompletableFuture<>();
        commits.add(f);
        long at = deadlines.get(i) + ThreadLocalRandom.current().nextLong(-60, 60);
        Api api = i % 2 == 0 ? web : web2;
        String id = ids.get(i);
        timer.schedule(() -> api.async("POST", "/v1/reservations/" + id + "/commit", null)
                .whenComplete((r, e) -> {
                  if (e != null) {
                    f.completeExceptionally(e);
                  } else {
                    f.complete(r);
                  }
                }),
            Math.max(0, at - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
      }
      int committed = 0;
      for (int i = 0; i < n; i++) {
        Api.Res r = commits.get(i).get(20, TimeUnit.SECONDS);
        assertTrue(r.status() == 200 || r.status() == 410, r.toString());
        String state = expect(web.get("/v1/reservations/" + ids.get(i)), 200).json().path("state").asText();
        assertEquals(r.status() == 200 ? "committed" : "expired", state);
        if (r.status() == 200) {
          committed++;
        }
      }
      int c = committed;
      await("expired holds returned", 5000, () -> web.sku(sku, "main").path("reserved").asLong() == 0);
      JsonNode main = web.sku(sku, "main");
      assertEquals(c, main.path("committed").asLong());
      assertEquals(100 - c, main.path("available").asLong(), "nothing released twice, nothing lost");
    } finally {
      timer.shutdownNow();
    }
  }

  @Test
  @DisplayName("a flash sale's carts, held in batches on two instances, expire by themselves; the ones settled before stay so")
  void batchesExpire() throws Exception {
    String sku = Api.sku("flash");
    admin.receive(sku, "main", 300);
    int n = 200;
    List<String> ids = new ArrayList<>();
    List<CompletableFuture<Api.Res>> made = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String id = Api.id("f");
      ids.add(id);
      made.add((i % 2 == 0 ? web : web2).async("POST", "/v1/reservations", cart(id, sku, 1, 4)));
    }
    for (CompletableFuture<Api.Res> f : made) {
      assertEquals(201, f.get(20, TimeUnit.SECONDS).status());
    }
    // Sent together, they went to a standalone Redis in batches: the SKU's expiry set holds groups
    // ('*' and ids). A cluster holds them one by one (the saga; no batch touches two slots).
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    try {
      if (!TestRedis.clusterMode()) {
        dev.allot.store.RedisStore redis = dev.allot.store.RedisStore.create(vertx, TestRedis.url(), null, 1);
        io.vertx.redis.client.Response members = redis.send(io.vertx.redis.client.Request.cmd(
            io.vertx.redis.client.Command.ZRANGE).arg(dev.allot.store.Keys.expiry(sku)).arg(0).arg(-1))
            .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        List<String> entries = new ArrayList<>();
        members.forEach(m -> entries.add(m.toString()));
        assertTrue(entries.stream().anyMatch(m -> m.startsWith("*")), "a group among " + entries.size() + " entries");
        assertTrue(entries.size() < n, entries.size() + " entries for " + n + " holds");
        redis.close();
      }
    } finally {
      vertx.close();
    }
    for (int i = 0; i < 30; i++) {
      expect(web.post("/v1/reservations/" + ids.get(i) + "/commit", null), 200);
    }
    for (int i = 30; i < 50; i++) {
      expect(web2.post("/v1/reservations/" + ids.get(i) + "/release", null), 200);
    }
    await("expired holds returned", 15_000, () -> web.sku(sku, "main").path("reserved").asLong() == 0);
    JsonNode main = web.sku(sku, "main");
    assertEquals(30, main.path("committed").asLong());
    assertEquals(270, main.path("available").asLong(), "nothing lost, nothing returned twice");
    for (int i = 0; i < n; i++) {
      String want = i < 30 ? "committed" : i < 50 ? "released" : "expired";
      String id = ids.get(i);
      await(id + " " + want, 10_000,
          () -> want.equals(expect(web.get("/v1/reservations/" + id), 200).json().path("state").asText()));
    }
  }
}
