package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.store.RedisProcess;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.allot.Api.expect;
import static dev.allot.ExpiryTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The master owning the hot SKU's slot is killed (SIGKILL) in the middle of a flash sale on a
 * cluster of three masters with one replica each; its replica takes over. Two Allot instances
 * run with ALLOT_REDIS_WAIT_REPLICAS=1, so nothing is acknowledged before a replica has it.
 * Calls either complete or fail cleanly with 503; the other masters keep serving during the
 * failover; the service comes back on the promoted replica; every acknowledged commit is there
 * afterwards and nothing is oversold.
 */
class FailoverTest {

  @Test
  @DisplayName("the hot SKU's master dies mid-sale, its replica takes over: clean 503s, other masters serve, no acked commit lost")
  void masterFailsOverToItsReplica() throws Exception {
    try (TestCluster cluster = TestCluster.start(3, 1, 3000)) {
      Map<String, String> env = Map.of("ALLOT_REDIS_CLUSTER", cluster.urls(), "ALLOT_REDIS_URL", "",
          "ALLOT_API_KEYS", TestServer.keys("web"), "ALLOT_PENDING_LEASE_MILLIS", "500",
          "ALLOT_REDIS_TIMEOUT_MILLIS", "1500", "ALLOT_REDIS_WAIT_REPLICAS", "1", "ALLOT_REDIS_WAIT_MILLIS", "1000");
      List<AllotServer> servers = new ArrayList<>();
      Vertx vertx = Vertx.vertx();
      AtomicBoolean stop = new AtomicBoolean();
      try {
        servers.add(TestServer.start(null, env));
        servers.add(TestServer.start(null, env));
        AllotServer one = servers.get(0);
        AllotServer two = servers.get(1);
        Api admin = new Api(one.port(), TestServer.ADMIN);
        List<Api> webs = List.of(admin.as("t-web"), new Api(two.port(), "t-web"));
        admin.location("main");
        admin.channel("web", "[\"main\"]", 0);
        String hot = Api.sku("fo-hot");
        int hotSlot = keySlot(vertx, cluster, hot);
        int victim = SlotMoveTest.ownerIndex(vertx, cluster, hotSlot);
        String cold = Api.sku("fo-cold");
        while (SlotMoveTest.ownerIndex(vertx, cluster, keySlot(vertx, cluster, cold)) == victim) {
          cold = Api.sku("fo-cold");
        }
        admin.receive(hot, "main", 400);
        admin.receive(cold, "main", 100_000);
        int replicaPort = replicaOf(vertx, cluster, victim);

        ConcurrentLinkedQueue<String> acknowledged = new ConcurrentLinkedQueue<>();
        AtomicInteger ambiguous = new AtomicInteger(); // commits answered 503: may or may not have applied
        ConcurrentLinkedQueue<String> unexpected = new ConcurrentLinkedQueue<>();
        // When each cold buyer that got a hold had started (ms): the others must keep serving.
        ConcurrentLinkedQueue<Long> coldHeldAt = new ConcurrentLinkedQueue<>();
        // A live page on instance two watching the hot SKU through the failover.
        WsClient watcher = WsClient.connect(two.port(), TestServer.READER);
        watcher.subscribe("web", hot);
        watcher.awaitAvailable("web", hot, 400, 5000);
        String coldSku = cold;
        CompletableFuture<Void> traffic = CompletableFuture.runAsync(() -> {
          for (int wave = 0; !stop.get() && wave < 2000; wave++) {
            List<CompletableFuture<Void>> buyers = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
              Api web = webs.get(i % 2);
              String id = Api.id("fo");
              buyers.add(web.async("POST", "/v1/reservations", "{\"id\":\"" + id + "\",\"channel\":\"web\",\"ttlSeconds\":3,"
                      + "\"lines\":[{\"sku\":\"" + hot + "\",\"qty\":1}]}")
                  .thenCompose(r -> {
                    if (r.status() != 201) {
                      if (r.status() != 503 && r.status() != 409) {
                        unexpected.add("reserve: " + r);
                      }
                      return CompletableFuture.completedFuture(null);
                    }
                    return web.async("POST", "/v1/reservations/" + id + "/commit", null).thenApply(c -> {
                      if (c.status() == 200) {
                        acknowledged.add(id);
                      } else if (c.status() == 503) {
                        ambiguous.incrementAndGet();
                      } else {
                        unexpected.add("commit: " + c);
                      }
                      return null;
                    });
                  }));
            }
            // A buyer of a SKU on a master that stays up, through the same instances.
            long coldStart = System.currentTimeMillis();
            buyers.add(webs.get(wave % 2).async("POST", "/v1/reservations", "{\"id\":\"" + Api.id("fc")
                    + "\",\"channel\":\"web\",\"ttlSeconds\":3,\"lines\":[{\"sku\":\"" + coldSku + "\",\"qty\":1}]}")
                .thenApply(r -> {
                  if (r.status() == 201) {
                    coldHeldAt.add(coldStart);
                  } else if (r.status() != 503) {
                    unexpected.add("cold reserve: " + r);
                  }
                  return null;
                }));
            CompletableFuture.allOf(buyers.toArray(new CompletableFuture[0])).join();
          }
        });
        await("40 commits acknowledged", 30_000, () -> acknowledged.size() >= 40);

        RedisProcess dead = cluster.nodes().get(victim);
        dead.close(); // SIGKILL of the hot SKU's master, mid-traffic
        long killedAt = System.currentTimeMillis();
        int ackedAtKill = acknowledged.size();

        await("the replica has taken the hot slot over", 30_000, () -> ownsSlot(vertx, replicaPort, hotSlot));
        long promotedAt = System.currentTimeMillis();
        // Holds of the cold SKU asked for well after the kill (not in flight at it) and before the promotion.
        long coldDuringFailover = coldHeldAt.stream().filter(t -> t >= killedAt + 1000 && t < promotedAt).count();
        // The dead master comes back (as a restarted pod would) and rejoins as the new master's replica:
        // until then the new master has no replica to confirm writes and answers 503, by design.
        int oldMasterPort = cluster.restart(victim).port();
        await("the old master follows the new one", 30_000, () -> info(vertx, oldMasterPort).contains("master_link_status:up"));
        await("commits acknowledged again after the failover", 30_000,
            () -> acknowledged.size() >= ackedAtKill + 30,
            () -> "acknowledged " + acknowledged.size() + " (" + ackedAtKill + " at the kill), commits answered 503: "
                + ambiguous.get() + ", unexpected: " + unexpected.size() + " " + unexpected.stream().limit(3).toList()
                + ", hot SKU " + admin.get("/v1/skus/" + hot).text());
        stop.set(true);
        traffic.join();
        long failoverMillis = promotedAt - killedAt;

        assertTrue(unexpected.isEmpty(), "only completions, refusals for stock, or clean 503s: " + unexpected);
        assertTrue(coldDuringFailover > 0, "the masters that stayed up kept serving while the dead one was replaced ("
            + failoverMillis + " ms from the kill to the promotion)");
        // The restarted node rejoins and the clients relearn the slot map (1 s cache): a read may still
        // meet a 503 for a moment, which a client retries, as the contract says.
        await("the cluster has settled", 20_000, () -> webs.get(0).get("/v1/skus/" + hot).status() == 200
            && webs.get(1).get("/v1/skus/" + hot).status() == 200);
        for (String id : acknowledged) {
          JsonNode r = expect(readRetrying(webs.get(0), "/v1/reservations/" + id), 200).json();
          assertEquals("committed", r.path("state").asText(), "acknowledged commit " + id + " survived the failover");
        }
        // Holds cut off by the failover expire or are undone by the sweeper; then the books are exact.
        await("dangling holds undone", 20_000, () -> admin.sku(hot, "main").path("reserved").asLong() == 0);
        JsonNode main = admin.sku(hot, "main");
        assertEquals(400, main.path("onHand").asLong());
        long committed = main.path("committed").asLong();
        assertTrue(committed >= acknowledged.size(), "every acknowledged commit is counted: " + committed
            + " < " + acknowledged.size());
        assertTrue(committed <= acknowledged.size() + ambiguous.get(), "nothing committed that no client asked for");
        assertTrue(committed <= 400, "never oversold");
        // The live page followed the hot SKU through the failover to the true number.
        long truth = webs.get(1).channelAvailable("web", hot);
        watcher.awaitAvailable("web", hot, truth, 20_000);
        watcher.close();
      } finally {
        stop.set(true);
        vertx.close().await(10, TimeUnit.SECONDS);
        servers.forEach(AllotServer::stop);
      }
    }
  }

  @Test
  @DisplayName("with ALLOT_REDIS_WAIT_REPLICAS, a change no replica confirmed answers 503 and its retry answers from it")
  void unconfirmedChangesAnswer503AndRetriesAnswerFromThem() throws Exception {
    // A replica's first sync at once (Redis 7 waits 5 s by default for more replicas to join it).
    RedisProcess master = RedisProcess.start(RedisProcess.freePort(), List.of("--repl-diskless-sync-delay", "0"));
    int replicaPort = RedisProcess.freePort();
    List<String> follow = List.of("--replicaof", "127.0.0.1", Integer.toString(master.port()));
    RedisProcess replica = RedisProcess.start(replicaPort, follow);
    Vertx vertx = Vertx.vertx();
    AllotServer server = null;
    try {
      server = TestServer.start(master.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web"),
          "ALLOT_REDIS_WAIT_REPLICAS", "1", "ALLOT_REDIS_WAIT_MILLIS", "1000", "ALLOT_PENDING_LEASE_MILLIS", "500"));
      // Followed as the master sees it (WAIT counts the replica's acknowledgements to the master).
      await("the replica follows", 10_000, () -> info(vertx, master.port()).contains("state=online"));
      Api admin = new Api(server.port(), TestServer.ADMIN);
      Api web = admin.as("t-web");
      admin.location("main");
      admin.channel("web", "[\"main\"]", 0);
      String sku = Api.sku("wait");
      admin.receive(sku, "main", 10);
      String body = "{\"id\":\"%s\",\"channel\":\"web\",\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":1}]}";
      String held = Api.id("w");
      expect(web.post("/v1/reservations", body.formatted(held)), 201);

      replica.close(); // no replica left to confirm anything
      Api.Res commit = web.post("/v1/reservations/" + held + "/commit", null);
      assertEquals(503, commit.status(), "an unconfirmed commit is not acknowledged: " + commit);
      String created = Api.id("w");
      Api.Res create = web.post("/v1/reservations", body.formatted(created));
      assertEquals(503, create.status(), "an unconfirmed creation is not acknowledged: " + create);

      replica = RedisProcess.start(replicaPort, follow);
      await("the replica follows again", 10_000, () -> info(vertx, master.port()).contains("state=online"));
      // The commit stands on the master; its retry answers from it, and it is counted once.
      Api.Res again = postRetrying(web, "/v1/reservations/" + held + "/commit", null);
      assertEquals(200, again.status(), "the commit's retry answers: " + again);
      assertEquals("committed", expect(web.get("/v1/reservations/" + held), 200).json().path("state").asText());
      // The creation was cut off half-way: its retry finds it finished (201) or undone by the sweeper
      // (409 reservation_aborted, retry with a new id); either way the books agree with the answer.
      Api.Res retried = postRetrying(web, "/v1/reservations", body.formatted(created));
      assertTrue(retried.status() == 201 || "reservation_aborted".equals(retried.code()), "the retry answers: " + retried);
      long expectHeld = retried.status() == 201 ? 1 : 0;
      await("the books agree with the answers", 10_000, () -> admin.sku(sku, "main").path("reserved").asLong() == expectHeld
          && admin.sku(sku, "main").path("committed").asLong() == 1);
    } finally {
      if (server != null) {
        server.stop();
      }
      vertx.close().await(10, TimeUnit.SECONDS);
      replica.close();
      master.close();
    }
  }

  /** A POST retried while it answers 503 or 409 reservation_in_progress (both say "retry"), for up to 10 s. */
  static Api.Res postRetrying(Api api, String path, String body) {
    return retrying(() -> api.post(path, body), r -> r.status() == 503 || "reservation_in_progress".equals(r.code()));
  }

  /** A GET retried while it answers 503 (clients retry those), for up to 10 s. */
  static Api.Res readRetrying(Api api, String path) {
    return retrying(() -> api.get(path), r -> r.status() == 503);
  }

  private static Api.Res retrying(java.util.function.Supplier<Api.Res> call, java.util.function.Predicate<Api.Res> again) {
    long deadline = System.currentTimeMillis() + 10_000;
    Api.Res r = call.get();
    while (again.test(r) && System.currentTimeMillis() < deadline) {
      try {
        TimeUnit.MILLISECONDS.sleep(20); // between polls of a condition with a deadline
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      r = call.get();
    }
    return r;
  }

  static int keySlot(Vertx vertx, TestCluster cluster, String sku) throws Exception {
    return Integer.parseInt(TestCluster.send(vertx, cluster.nodes().get(0).port(),
        Request.cmd(Command.CLUSTER).arg("KEYSLOT").arg("allot:{" + sku + "}:stock")));
  }

  /** The port of the replica following master number {@code master}. */
  static int replicaOf(Vertx vertx, TestCluster cluster, int master) throws Exception {
    String id = TestCluster.send(vertx, cluster.nodes().get(master).port(), Request.cmd(Command.CLUSTER).arg("MYID"));
    for (RedisProcess n : cluster.nodes()) {
      String info = TestCluster.send(vertx, n.port(), Request.cmd(Command.CLUSTER).arg("NODES"));
      for (String line : info.split("\n")) {
        String[] parts = line.trim().split(" ");
        if (line.contains("myself") && parts.length > 3 && parts[3].equals(id)) {
          return n.port();
        }
      }
    }
    throw new IllegalStateException("master " + master + " has no replica");
  }

  static String info(Vertx vertx, int port) {
    try {
      return TestCluster.send(vertx, port, Request.cmd(Command.INFO).arg("replication"));
    } catch (Throwable e) { // not up yet
      return "";
    }
  }

  /** Whether the node on this port is a master serving the slot, by its own account. */
  static boolean ownsSlot(Vertx vertx, int port, int slot) {
    String nodes;
    try {
      nodes = TestCluster.send(vertx, port, Request.cmd(Command.CLUSTER).arg("NODES"));
    } catch (Throwable e) { // a node not answering (the dead one) or an error reply (ErrorType)
      return false;
    }
    for (String line : nodes.split("\n")) {
      if (!line.contains("myself")) {
        continue;
      }
      String[] parts = line.trim().split(" ");
      if (!parts[2].contains("master")) {
        return false;
      }
      for (int i = 8; i < parts.length; i++) {
        String[] r = parts[i].split("-");
        if (r[0].matches("\\d+")) {
          int from = Integer.parseInt(r[0]);
          int to = r.length > 1 ? Integer.parseInt(r[1]) : from;
          if (slot >= from && slot <= to) {
            return true;
          }
        }
      }
    }
    return false;
  }
}
