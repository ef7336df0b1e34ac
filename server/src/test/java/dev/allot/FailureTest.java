package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.store.RedisProcess;
import dev.allot.store.RedisStore;
import dev.allot.store.Store;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static dev.allot.Api.expect;
import static dev.allot.ExpiryTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What happens when a server instance or Redis goes away half-way. */
class FailureTest {

  @Test
  @DisplayName("a multi-line reservation abandoned half-way by a dead instance is undone by itself, with no oversell")
  void deadInstanceMidCreate() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web"),
        "ALLOT_PENDING_LEASE_MILLIS", "300"));
    Vertx vertx = Vertx.vertx();
    RedisStore redis = RedisStore.create(vertx, TestRedis.url(), List.of(), 2);
    try {
      Api admin = new Api(server.port(), TestServer.ADMIN);
      Api web = admin.as("t-web");
      admin.location("main");
      admin.channel("web", "[\"main\"]", 0);
      String x = Api.sku("dx");
      String y = Api.sku("dy");
      admin.receive(x, "main", 2);
      admin.receive(y, "main", 2);

      // The "dead instance": it began the reservation and held the first line, then vanished.
      Store dead = new Store(redis);
      String id = Api.id("dead");
      long now = System.currentTimeMillis();
      LuaScriptsTest.await(redis.loadScripts());
      assertEquals(1, LuaScriptsTest.await(dead.recordBegin(id, now, "fp", "web", now + 600_000, now + 300,
          x + "=2," + y + "=1")).code());
      assertEquals(Store.HoldStatus.HELD, LuaScriptsTest.await(dead.reserveLine(x, id, 2, now, now + 600_000, 0, "web",
          List.of("main"))).status());
      assertEquals(0, web.channelAvailable("web", x), "the dangling hold blocks X for now");

      await("the abandoned line given back", 5000, () -> web.channelAvailable("web", x) == 2);
      assertEquals(2, web.channelAvailable("web", y));
      assertEquals("unknown_reservation", expect(web.get("/v1/reservations/" + id), 404).code());
      // Nobody can later complete the abandoned reservation: its record says aborted.
      assertEquals(0, LuaScriptsTest.await(dead.recordOp(id, "held", System.currentTimeMillis(), "{}")).code());
      expect(web.post("/v1/reservations", "{\"id\":\"" + Api.id("c") + "\",\"channel\":\"web\",\"lines\":[{\"sku\":\""
          + x + "\",\"qty\":2}]}"), 201);
    } finally {
      LuaScriptsTest.await(redis.close());
      LuaScriptsTest.await(vertx.close());
      server.stop();
    }
  }

  @Test
  @DisplayName("an instance that dies in the middle of a commit leaves nothing committed once the hold's deadline passes")
  void deadInstanceMidCommit() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web")));
    Vertx vertx = Vertx.vertx();
    RedisStore redis = RedisStore.create(vertx, TestRedis.url(), List.of(), 2);
    try {
      Api admin = new Api(server.port(), TestServer.ADMIN);
      Api web = admin.as("t-web");
      admin.location("main");
      admin.channel("web", "[\"main\"]", 0);
      String x = Api.sku("cx");
      String y = Api.sku("cy");
      admin.receive(x, "main", 3);
      admin.receive(y, "main", 3);
      String id = Api.id("c");
      expect(web.post("/v1/reservations", "{\"id\":\"" + id + "\",\"channel\":\"web\",\"ttlSeconds\":1,\"lines\":[{\"sku\":\""
          + x + "\",\"qty\":1},{\"sku\":\"" + y + "\",\"qty\":1}]}"), 201);
      // The dying commit got as far as the first line.
      Store dead = new Store(redis);
      LuaScriptsTest.await(redis.loadScripts());
      assertEquals(1, LuaScriptsTest.await(dead.commitLine(x, id, System.currentTimeMillis())).code());
      assertEquals(1, web.sku(x, "main").path("committed").asLong());

      await("the reservation expired and every line returned", 5000,
          () -> web.sku(x, "main").path("committed").asLong() == 0 && web.sku(y, "main").path("reserved").asLong() == 0);
      assertEquals("expired", expect(web.get("/v1/reservations/" + id), 200).json().path("state").asText());
      assertEquals(3, web.channelAvailable("web", x));
      assertEquals(3, web.channelAvailable("web", y));
    } finally {
      LuaScriptsTest.await(redis.close());
      LuaScriptsTest.await(vertx.close());
      server.stop();
    }
  }

  @Test
  @DisplayName("Redis killed during traffic: 503 store_unavailable with Retry-After, served again once it is back,"
      + " and every unit held belongs to a 201")
  void redisOutage() throws Exception {
    Path dir = Files.createTempDirectory("allot-outage-");
    List<String> persistent = List.of("--appendonly", "yes", "--appendfsync", "always", "--dir", dir.toString());
    int port = RedisProcess.freePort();
    RedisProcess redis = RedisProcess.start(port, persistent);
    AllotServer server = TestServer.start(redis.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web"),
        "ALLOT_PENDING_LEASE_MILLIS", "500"));
    try {
      Api admin = new Api(server.port(), TestServer.ADMIN);
      Api web = admin.as("t-web");
      admin.location("main");
      admin.channel("web", "[\"main\"]", 0);
      String sku = Api.sku("out");
      admin.receive(sku, "main", 1000);

      List<CompletableFuture<Api.Res>> calls = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        calls.add(web.async("POST", "/v1/reservations", "{\"id\":\"" + Api.id("o") + "\",\"channel\":\"web\","
            + "\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":1}]}"));
        if (i == 100) {
          redis.close();
        }
      }
      int held = 0;
      int unavailable = 0;
      for (CompletableFuture<Api.Res> f : calls) {
        Api.Res r = f.join();
        assertTrue(r.status() == 201 || r.status() == 503, "only held or unavailable, never a crash: " + r);
        if (r.status() == 201) {
          held++;
        } else {
          unavailable++;
          assertEquals("store_unavailable", r.code());
          assertTrue(r.raw().headers().firstValue("Retry-After").isPresent());
        }
      }
      assertTrue(unavailable > 0, "Redis was down for part of the traffic");
      Api anon = new Api(server.port(), null);
      assertEquals(503, anon.get("/health/ready").status());
      assertEquals("store_unavailable", expect(web.get("/v1/skus/" + sku), 503).code());

      redis = RedisProcess.start(port, persistent);
      RedisProcess restarted = redis;
      await("ready again", 10_000, () -> anon.get("/health/ready").status() == 200);
      await("served again", 10_000, () -> web.get("/v1/skus/" + sku).status() == 200);
      int h = held;
      // A hold whose answer was lost with the connection belongs to a pending record: the sweeper undoes it.
      await("only acknowledged holds remain", 10_000, () -> web.sku(sku, "main").path("reserved").asLong() == h);
      JsonNode main = web.sku(sku, "main");
      assertEquals(1000, main.path("onHand").asLong());
      assertEquals(1000 - held, main.path("available").asLong());
      expect(web.post("/v1/reservations", "{\"id\":\"" + Api.id("o") + "\",\"channel\":\"web\","
          + "\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":1}]}"), 201);
      assertTrue(restarted.isAlive());
    } finally {
      server.stop();
      redis.close();
    }
  }
}
