package dev.allot;

import dev.allot.store.RedisProcess;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static dev.allot.Api.expect;
import static dev.allot.ExpiryTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Which pub/sub the stream uses, by Redis version: sharded (SPUBLISH/SSUBSCRIBE, each SKU's
 * events on its own master) on Redis 7+, classic (PUBLISH/SUBSCRIBE) on the embedded Redis 6.2.
 * The sharded tests need a redis-server 7+ (found on PATH; .ci/run installs Debian's) and say
 * so when they are skipped; the classic ones always run, on the embedded binary.
 */
class PubSubTest {

  @Test
  @DisplayName("Redis 7+ cluster: each SKU's events are sharded on its master, and follow its slot when it moves")
  void shardedOnACluster() throws Exception {
    String binary = redis7();
    try (TestCluster cluster = TestCluster.start(3, 0, 60_000, binary)) {
      Map<String, String> env = Map.of("ALLOT_REDIS_CLUSTER", cluster.urls(), "ALLOT_REDIS_URL", "",
          "ALLOT_API_KEYS", TestServer.keys("web"));
      List<AllotServer> servers = new ArrayList<>();
      Vertx vertx = Vertx.vertx();
      try {
        servers.add(TestServer.start(null, env));
        servers.add(TestServer.start(null, env));
        AllotServer a = servers.get(0);
        AllotServer b = servers.get(1);
        WsClient ws = WsClient.connect(b.port(), TestServer.READER);
        Api admin = new Api(a.port(), TestServer.ADMIN);
        Api web = admin.as("t-web");
        admin.location("main");
        admin.channel("web", "[\"main\"]", 0);
        // SKUs on every master.
        List<String> skus = new ArrayList<>();
        boolean[] covered = new boolean[3];
        while (!(covered[0] && covered[1] && covered[2])) {
          String sku = Api.sku("ps");
          int owner = SlotMoveTest.ownerIndex(vertx, cluster, FailoverTest.keySlot(vertx, cluster, sku));
          if (!covered[owner]) {
            covered[owner] = true;
            skus.add(sku);
            admin.receive(sku, "main", 10);
          }
        }
        ws.subscribe("web", skus.toArray(new String[0]));
        for (String sku : skus) {
          ws.awaitAvailable("web", sku, 10, 5000);
        }
        for (String sku : skus) {
          int owner = SlotMoveTest.ownerIndex(vertx, cluster, FailoverTest.keySlot(vertx, cluster, sku));
          String channel = "allot:{" + sku + "}:ev";
          assertEquals(1, shardSubscribers(vertx, cluster.nodes().get(owner).port(), channel),
              "instance B listens to " + sku + " on its own master, sharded");
          for (RedisProcess n : cluster.nodes()) {
            assertEquals(0, classicSubscribers(vertx, n.port(), channel), "no classic subscription anywhere");
          }
          // A change through A reaches B's watcher: the script SPUBLISHed it on that shard.
          expect(web.post("/v1/reservations", "{\"id\":\"" + Api.id("p") + "\",\"channel\":\"web\","
              + "\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":2}]}"), 201);
          ws.awaitAvailable("web", sku, 8, 5000);
        }

        // The first SKU's slot moves to another master: Redis unsubscribes the channel (sunsubscribe),
        // the instance subscribes again on the new owner and keeps its watchers up to date.
        String moving = skus.get(0);
        int slot = FailoverTest.keySlot(vertx, cluster, moving);
        int from = SlotMoveTest.ownerIndex(vertx, cluster, slot);
        int to = (from + 1) % 3;
        cluster.moveSlot(vertx, slot, from, to);
        String channel = "allot:{" + moving + "}:ev";
        int toPort = cluster.nodes().get(to).port();
        await("subscribed again on the new owner", 10_000, () -> count(() -> shardSubscribers(vertx, toPort, channel)) == 1);
        expect(web.post("/v1/reservations", "{\"id\":\"" + Api.id("p") + "\",\"channel\":\"web\","
            + "\"lines\":[{\"sku\":\"" + moving + "\",\"qty\":3}]}"), 201);
        ws.awaitAvailable("web", moving, 5, 5000);
        ws.close();
      } finally {
        vertx.close().await(10, TimeUnit.SECONDS);
        servers.forEach(AllotServer::stop);
      }
    }
  }

  @Test
  @DisplayName("Redis 7+ standalone: the stream uses sharded pub/sub too")
  void shardedStandalone() throws Exception {
    String binary = redis7();
    try (RedisProcess redis = RedisProcess.start(binary, RedisProcess.freePort(), List.of())) {
      streamsThrough(redis, true);
    }
  }

  @Test
  @DisplayName("Redis 6.2 (embedded): the stream falls back to classic pub/sub, standalone")
  void classicStandalone() throws Exception {
    try (RedisProcess redis = RedisProcess.start(RedisProcess.embeddedBinary(), RedisProcess.freePort(), List.of())) {
      streamsThrough(redis, false);
    }
  }

  @Test
  @DisplayName("Redis 6.2 (embedded) cluster: classic pub/sub reaches every instance")
  void classicOnACluster() throws Exception {
    try (TestCluster cluster = TestCluster.start(3, 0, 60_000, RedisProcess.embeddedBinary())) {
      Map<String, String> env = Map.of("ALLOT_REDIS_CLUSTER", cluster.urls(), "ALLOT_REDIS_URL", "",
          "ALLOT_API_KEYS", TestServer.keys("web"));
      List<AllotServer> servers = new ArrayList<>();
      try {
        servers.add(TestServer.start(null, env));
        servers.add(TestServer.start(null, env));
        WsClient ws = WsClient.connect(servers.get(1).port(), TestServer.READER);
        Api admin = new Api(servers.get(0).port(), TestServer.ADMIN);
        admin.location("main");
        admin.channel("web", "[\"main\"]", 0);
        String sku = Api.sku("pc");
        admin.receive(sku, "main", 10);
        ws.subscribe("web", sku);
        ws.awaitAvailable("web", sku, 10, 5000);
        expect(admin.as("t-web").post("/v1/reservations", "{\"id\":\"" + Api.id("p") + "\",\"channel\":\"web\","
            + "\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":4}]}"), 201);
        ws.awaitAvailable("web", sku, 6, 5000);
        ws.close();
      } finally {
        servers.forEach(AllotServer::stop);
      }
    }
  }

  /** The redis-server on PATH if it is 7+, else the test is skipped, saying why. */
  private static String redis7() throws Exception {
    String binary = RedisProcess.findBinary();
    int major = RedisProcess.majorVersion(binary);
    assumeTrue(major >= 7, "skipped: sharded pub/sub needs redis-server 7+ on PATH, found " + binary
        + " (version " + major + "); .ci/run installs Debian's");
    return binary;
  }

  private static void streamsThrough(RedisProcess redis, boolean sharded) throws Exception {
    AllotServer server = TestServer.start(redis.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web")));
    Vertx vertx = Vertx.vertx();
    try (WsClient ws = WsClient.connect(server.port(), TestServer.READER)) {
      Api admin = new Api(server.port(), TestServer.ADMIN);
      admin.location("main");
      admin.channel("web", "[\"main\"]", 0);
      String sku = Api.sku("pp");
      admin.receive(sku, "main", 10);
      ws.subscribe("web", sku);
      ws.awaitAvailable("web", sku, 10, 5000);
      String channel = "allot:{" + sku + "}:ev";
      assertEquals(sharded ? 1 : 0, shardSubscribers(vertx, redis.port(), channel), "sharded subscription");
      assertEquals(sharded ? 0 : 1, classicSubscribers(vertx, redis.port(), channel), "classic subscription");
      expect(admin.as("t-web").post("/v1/reservations", "{\"id\":\"" + Api.id("p") + "\",\"channel\":\"web\","
          + "\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":4}]}"), 201);
      ws.awaitAvailable("web", sku, 6, 5000);
      ws.unsubscribe("web", sku);
      await("unsubscribed from Redis", 5000, () -> count(() -> shardSubscribers(vertx, redis.port(), channel))
          + count(() -> classicSubscribers(vertx, redis.port(), channel)) == 0);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
      server.stop();
    }
  }

  /** PUBSUB SHARDNUMSUB on one node (0 where the command does not exist, Redis 6.2). */
  static long shardSubscribers(Vertx vertx, int port, String channel) throws Exception {
    try {
      String r = TestCluster.send(vertx, port, Request.cmd(Command.PUBSUB).arg("SHARDNUMSUB").arg(channel));
      return lastNumber(r);
    } catch (Throwable e) {
      if (String.valueOf(e.getMessage()).toLowerCase(java.util.Locale.ROOT).contains("unknown subcommand")) {
        return 0; // Redis 6.2 has no sharded pub/sub
      }
      throw e;
    }
  }

  static long classicSubscribers(Vertx vertx, int port, String channel) throws Exception {
    return lastNumber(TestCluster.send(vertx, port, Request.cmd(Command.PUBSUB).arg("NUMSUB").arg(channel)));
  }

  interface Count {
    long get() throws Exception;
  }

  static long count(Count c) {
    try {
      return c.get();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /** The count in a [channel, count] reply, as the client prints it. */
  private static long lastNumber(String reply) {
    List<String> parts = SlotMoveTest.parseList(reply);
    assertTrue(parts.size() >= 2, "a [channel, count] reply: " + reply);
    return Long.parseLong(parts.get(parts.size() - 1));
  }
}
