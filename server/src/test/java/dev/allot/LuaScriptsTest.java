package dev.allot;

import dev.allot.store.Keys;
import dev.allot.store.RecordStore;
import dev.allot.store.RecordStore.BeginResult;
import dev.allot.store.RecordStore.Result;
import dev.allot.store.RecordStore.StockLine;
import dev.allot.store.RedisStore;
import dev.allot.store.Script;
import dev.allot.store.ScriptSource;
import dev.allot.store.Store;
import dev.allot.store.Store.HoldStatus;
import dev.allot.store.Store.MovementStatus;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each Lua script driven directly through the client, with its edge cases and replays. */
class LuaScriptsTest {
  static Vertx vertx;
  static RedisStore redis;
  static Store store;
  static RecordStore records;
  static final long NOW = 1_700_000_000_000L;
  static final List<String> LOCS = List.of("main", "shop");
  String sku;

  @BeforeAll
  static void setUp() {
    vertx = Vertx.vertx();
    redis = RedisStore.create(vertx, TestRedis.url(), List.of(), 4);
    await(redis.loadScripts());
    store = new Store(redis, 1000);
    records = new RecordStore(redis);
  }

  @AfterAll
  static void tearDown() {
    await(redis.close());
    await(vertx.close());
  }

  static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof RuntimeException re ? re : new RuntimeException(e.getCause());
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  @BeforeEach
  void stock() {
    sku = Api.sku("lua");
    receive("main", 5);
    receive("shop", 3);
  }

  void receive(String loc, long qty) {
    Store.MovementResult r = await(store.movement(Api.id("m"), "fp", "receive", sku, loc, qty, NOW, 1000));
    assertEquals(MovementStatus.APPLIED, r.status());
  }

  Store.LocationCounts counts(String loc) {
    return await(store.readStock(sku)).locations().get(loc);
  }

  Store.LineHold hold(String rid, long qty, long now, long deadline, long buffer) {
    return await(store.reserveLine(sku, rid, qty, now, deadline, buffer, "web", LOCS, null, false));
  }

  record HoldCase(long qty, long buffer, HoldStatus status, long available, String allocations) {
  }

  @Test
  @DisplayName("reserve_line: holds in location order, refuses past the buffer, replays by reservation id")
  void reserveLine() {
    List<HoldCase> cases = List.of(
        new HoldCase(2, 0, HoldStatus.HELD, 6, "main=2"),
        new HoldCase(4, 0, HoldStatus.HELD, 2, "main=3,shop=1"),
        new HoldCase(2, 1, HoldStatus.INSUFFICIENT, 1, ""),
        new HoldCase(1, 1, HoldStatus.HELD, 0, "shop=1"),
        new HoldCase(1, 0, HoldStatus.HELD, 0, "shop=1"),
        new HoldCase(1, 0, HoldStatus.INSUFFICIENT, 0, ""));
    long lastVersion = await(store.readStock(sku)).version();
    for (HoldCase c : cases) {
      Store.LineHold h = hold(Api.id("r"), c.qty(), NOW, NOW + 60_000, c.buffer());
      assertEquals(c.status(), h.status(), c.toString());
      assertEquals(c.available(), h.available(), c.toString());
      assertEquals(c.allocations(), alloc(h), c.toString());
      if (c.status() == HoldStatus.HELD) {
        assertTrue(h.version() > lastVersion, "version grows with every change");
        lastVersion = h.version();
      } else {
        assertEquals(lastVersion, h.version(), "a refusal changes nothing");
      }
    }
    assertEquals(5, counts("main").reserved());
    assertEquals(3, counts("shop").reserved());
  }

  @Test
  @DisplayName("reserve_line: a replay answers the existing hold and holds nothing more")
  void reserveReplay() {
    Store.LineHold first = hold("r1", 3, NOW, NOW + 60_000, 0);
    Store.LineHold again = hold("r1", 3, NOW, NOW + 60_000, 0);
    assertEquals(HoldStatus.REPLAY, again.status());
    assertEquals(alloc(first), alloc(again));
    assertEquals(first.version(), again.version());
    assertEquals(3, counts("main").reserved());
  }

  @Test
  @DisplayName("every SKU script drops that SKU's expired holds before it decides")
  void expiredHoldsNeverBlock() {
    assertEquals(HoldStatus.HELD, hold("old", 8, NOW, NOW + 1000, 0).status());
    assertEquals(HoldStatus.INSUFFICIENT, hold("new", 1, NOW + 999, NOW + 60_000, 0).status());
    Store.LineHold h = hold("new", 8, NOW + 1000, NOW + 60_000, 0);
    assertEquals(HoldStatus.HELD, h.status(), "the hold whose deadline has come gave its units back");
    assertEquals(8, counts("main").reserved() + counts("shop").reserved());
    assertEquals(0, await(store.commitLine(sku, "old", NOW + 1001)).code(), "an expired hold cannot be committed");
  }

  @Test
  @DisplayName("more expired holds than one expiry batch never refuse a sale their expiry allows (carts sharing one TTL)")
  void manyExpiredHoldsNeverBlock() {
    receive("main", 492); // 500 at main, 3 at shop
    for (int i = 0; i < 450; i++) {
      assertEquals(HoldStatus.HELD, hold("cart-" + i, 1, NOW, NOW + 1000, 0).status());
    }
    // All 450 carts expired together; the script drops them 200 at a time until the 500 are free.
    Store.LineHold h = hold("big", 500, NOW + 1000, NOW + 60_000, 0);
    assertEquals(HoldStatus.HELD, h.status(), "450 expired carts give their units back: 503 are free");
    assertEquals(500, counts("main").reserved() + counts("shop").reserved());
    assertEquals(0L, await(redis.send(Command.ZCOUNT, Keys.expiry(sku), "-inf", Long.toString(NOW + 1000))).toLong(),
        "no expired hold is left behind");
    // And a refusal still refuses once nothing has expired.
    assertEquals(HoldStatus.INSUFFICIENT, hold("more", 4, NOW + 1000, NOW + 60_000, 0).status());
  }

  @Test
  @DisplayName("a customer's expired holds count against the limit no more, however many there are")
  void manyExpiredHoldsFreeTheLimit() {
    receive("main", 1000);
    await(store.setCustomerLimit(sku, 300L));
    for (int i = 0; i < 300; i++) {
      assertEquals(HoldStatus.HELD, await(store.reserveLine(sku, "c-" + i, 1, NOW, NOW + 1000, 0, "web", LOCS, "bot",
          false)).status());
    }
    assertEquals(HoldStatus.CUSTOMER_LIMIT, await(store.reserveLine(sku, "c-late", 1, NOW + 999, NOW + 60_000, 0, "web",
        LOCS, "bot", false)).status(), "at the limit while the holds live");
    assertEquals(HoldStatus.HELD, await(store.reserveLine(sku, "c-next", 300, NOW + 1000, NOW + 60_000, 0, "web", LOCS,
        "bot", false)).status(), "300 expired holds (more than a batch) free the whole limit");
  }

  @Test
  @DisplayName("commit_line, release_line, extend_line, ship_line: each transition and its replay")
  void lineTransitions() {
    hold("a", 2, NOW, NOW + 10_000, 0);
    hold("b", 3, NOW, NOW + 10_000, 0);
    assertEquals(1, await(store.extendLine(sku, "a", NOW, NOW + 50_000)).code());
    assertEquals(0, await(store.extendLine(sku, "zz", NOW, NOW + 50_000)).code());
    assertEquals(1, await(store.commitLine(sku, "a", NOW + 20_000)).code(), "extended: still held at +20s");
    assertEquals(2, await(store.commitLine(sku, "a", NOW + 20_000)).code());
    assertEquals(2, await(store.extendLine(sku, "a", NOW, NOW + 90_000)).code(), "a commitment has no deadline");
    assertEquals(2, counts("main").committed());
    assertEquals(0, counts("main").reserved(), "b's hold expired at +10s and was dropped");
    assertEquals(0, await(store.commitLine(sku, "b", NOW + 20_000)).code());
    assertEquals(0, await(store.shipLine(sku, "c-missing", NOW)).code(), "ship of nothing is a no-op replay");

    hold("c", 1, NOW + 20_000, NOW + 80_000, 0);
    assertEquals(3, await(store.shipLine(sku, "c", NOW + 20_000)).code(), "a hold cannot ship");
    Store.LineChange rel = await(store.releaseLine(sku, "c", NOW + 20_000));
    assertEquals(1, rel.code());
    assertEquals(0, await(store.releaseLine(sku, "c", NOW + 20_000)).code(), "release replay changes nothing");

    assertEquals(1, await(store.shipLine(sku, "a", NOW + 30_000)).code());
    assertEquals(0, await(store.shipLine(sku, "a", NOW + 30_000)).code());
    assertEquals(3, counts("main").onHand());
    assertEquals(0, counts("main").committed());
    assertEquals(0, counts("main").reserved());
  }

  @Test
  @DisplayName("release_line returns committed units too (cancel and undo of a provisional commit)")
  void releaseCommitted() {
    hold("a", 6, NOW, NOW + 10_000, 0);
    await(store.commitLine(sku, "a", NOW));
    assertEquals(5, counts("main").committed());
    assertEquals(1, counts("shop").committed());
    assertEquals(1, await(store.releaseLine(sku, "a", NOW)).code());
    assertEquals(0, counts("main").committed());
    assertEquals(0, counts("shop").committed());
    assertEquals(8, dev.allot.stock.Availability.channel(await(store.readStock(sku)),
        new dev.allot.stock.Channel("any", LOCS, 0, false)));
  }

  @Test
  @DisplayName("movement: receive, adjust, count with drift and shortfall; duplicate and conflict; rejections")
  void movement() {
    record Case(String id, String fp, String type, long qty, MovementStatus status, String code, long onHand, long shortfall) {
    }
    hold("r", 4, NOW, NOW + 60_000, 0);
    List<Case> cases = List.of(
        new Case("m1", "f1", "receive", 10, MovementStatus.APPLIED, null, 15, 0),
        new Case("m1", "f1", "receive", 10, MovementStatus.DUPLICATE, null, 15, 0),
        new Case("m1", "f2", "receive", 11, MovementStatus.CONFLICT, "idempotency_conflict", 0, 0),
        new Case("m2", "f", "adjust", -3, MovementStatus.APPLIED, null, 12, 0),
        new Case("m3", "f", "adjust", -13, MovementStatus.REJECTED, "negative_on_hand", 0, 0),
        new Case("m4", "f", "count", 1, MovementStatus.APPLIED, null, 1, 3),
        new Case("m5", "f", "receive", 0, MovementStatus.REJECTED, "invalid_quantity", 0, 0),
        new Case("m6", "f", "teleport", 1, MovementStatus.REJECTED, "invalid_type", 0, 0));
    for (Case c : cases) {
      Store.MovementResult r = await(store.movement(c.id(), c.fp(), c.type(), sku, "main", c.qty(), NOW, 60_000));
      assertEquals(c.status(), r.status(), c.toString());
      if (c.code() != null) {
        assertEquals(c.code(), r.rejectCode(), c.toString());
      } else {
        assertEquals(c.onHand(), r.onHand(), c.toString());
        assertEquals(c.shortfall(), r.shortfall(), c.toString());
      }
    }
    Store.MovementResult count = await(store.movement("m4", "f", "count", sku, "main", 1, NOW, 60_000));
    assertEquals(-11, count.drift(), "a count records the drift from the previous onHand");
    assertEquals(1, counts("main").onHand());
  }

  @Test
  @DisplayName("the ledger keeps its newest entries up to its maximum, whichever script writes them")
  void ledgerMaximum() {
    Store small = new Store(redis, 3);
    for (int i = 1; i <= 4; i++) {
      Store.MovementResult r = await(small.movement("lm" + i, "f", "receive", sku, "main", 1, NOW, 60_000));
      assertEquals(MovementStatus.APPLIED, r.status());
    }
    assertEquals(3, await(redis.send(Command.LLEN, Keys.ledger(sku))).toLong(), "movements trim the ledger");
    assertTrue(await(redis.send(Command.LINDEX, Keys.ledger(sku), "0")).toString().contains("\"ref\":\"lm4\""));
    for (int i = 1; i <= 2; i++) {
      assertEquals(HoldStatus.HELD, await(small.reserveLine(sku, "lr" + i, 1, NOW, NOW + 60_000, 0, "web", LOCS, null,
          false)).status());
    }
    assertEquals(3, await(redis.send(Command.LLEN, Keys.ledger(sku))).toLong(), "holds trim the ledger");
    assertTrue(await(redis.send(Command.LINDEX, Keys.ledger(sku), "0")).toString().contains("\"ref\":\"lr2\""));
    assertTrue(await(redis.send(Command.LINDEX, Keys.ledger(sku), "2")).toString().contains("\"ref\":\"lm4\""));
  }

  @Test
  @DisplayName("movement: ids older than the retention are forgotten, newer ones kept")
  void movementRetention() {
    await(store.movement("old", "f", "receive", sku, "main", 1, NOW, 1000));
    await(store.movement("new", "f", "receive", sku, "main", 1, NOW + 5000, 1000));
    assertFalse(await(redis.send(Command.HEXISTS, Keys.moves(sku), "old")).toBoolean());
    assertTrue(await(redis.send(Command.HEXISTS, Keys.moves(sku), "new")).toBoolean());
  }

  @Test
  @DisplayName("reservation: the record's state machine, its replies and its due index")
  void reservationRecord() {
    String id = Api.id("res");
    String due = Keys.due(id, redis.cluster());
    List<StockLine> lines = List.of(new StockLine(sku, 1));
    assertEquals(BeginResult.CREATED, await(records.begin(id, NOW, "fp", "web", NOW + 60_000, NOW + 5000, lines)).result());
    assertEquals(NOW + 5000, score(due, id), "pending: due when its lease ends");
    RecordStore.Begin same = await(records.begin(id, NOW, "fp", "web", NOW + 60_000, NOW + 5000, lines));
    assertEquals(BeginResult.SAME_REQUEST, same.result());
    assertEquals("pending", same.state());
    assertEquals(BeginResult.OTHER_REQUEST, await(records.begin(id, NOW, "other", "web", NOW + 60_000, NOW + 5000, lines)).result());

    assertEquals(Result.REFUSED, await(records.commit(id, NOW, null, 5000)).result(), "pending cannot commit");
    assertEquals(Result.DONE, await(records.held(id, NOW, "{\"id\":\"x\"}")).result());
    assertEquals(NOW + 60_000, score(due, id), "held: due at its deadline");
    assertEquals(Result.DONE, await(records.extend(id, NOW, NOW + 90_000)).result());
    assertEquals(NOW + 90_000, score(due, id));
    RecordStore.Expiry notYet = await(records.expire(id, NOW + 89_999, false, 1000));
    assertFalse(notYet.changed());
    assertEquals("held", notYet.state());
    assertEquals(Result.DONE, await(records.commit(id, NOW, "o-1", 5000)).result());
    assertEquals(-1, score(due, id), "committed: never due, never expires");
    RecordStore.Commit replay = await(records.commit(id, NOW, "o-2", 5000));
    assertEquals(Result.ALREADY, replay.result());
    assertEquals("o-1", replay.orderId(), "replay answers the stored order id");
    assertEquals(Result.REFUSED, await(records.release(id, NOW, 1000)).result());
    assertEquals(Result.DONE, await(records.ship(id, NOW, 1000)).result());
    assertEquals(NOW + 1000, score(due, id), "decided: due for clean-up after the lease");
    assertEquals(Result.ALREADY, await(records.ship(id, NOW, 1000)).result());
    assertEquals(Result.DONE, await(records.finish(id, NOW, 100)).result());
    assertEquals(-1, score(due, id));
    long ttl = await(redis.send(Command.TTL, Keys.reservation(id))).toLong();
    assertTrue(ttl > 0 && ttl <= 100, "a finished record expires after the retention: " + ttl);
    assertEquals(Result.MISSING, await(records.commit(Api.id("none"), NOW, null, 5000)).result());
    RecordStore.Record rec = await(records.read(id));
    assertEquals("shipped", rec.state());
    assertEquals("o-1", rec.orderId());
    assertEquals(lines, rec.lines());
    assertNull(await(records.read(Api.id("none"))));
  }

  @Test
  @DisplayName("reservation: expire wins only after the deadline (or when forced), pending aborts after its lease")
  void reservationExpire() {
    List<StockLine> lines = List.of(new StockLine(sku, 1));
    String a = Api.id("res");
    await(records.begin(a, NOW, "fp", "web", NOW + 1000, NOW + 500, lines));
    RecordStore.Expiry early = await(records.expire(a, NOW + 100, false, 1000));
    assertFalse(early.changed());
    RecordStore.Expiry aborted = await(records.expire(a, NOW + 500, false, 1000));
    assertTrue(aborted.changed());
    assertEquals("aborted", aborted.state());
    assertEquals(lines, aborted.lines());
    assertEquals(Result.REFUSED, await(records.held(a, NOW, "{}")).result(), "too late to finish creating");

    String b = Api.id("res");
    await(records.begin(b, NOW, "fp", "web", NOW + 1000, NOW + 500, lines));
    await(records.held(b, NOW, "{}"));
    assertTrue(await(records.expire(b, NOW + 10, true, 1000)).changed(), "forced");
    String c = Api.id("res");
    await(records.begin(c, NOW, "fp", "web", NOW + 1000, NOW + 500, lines));
    await(records.held(c, NOW, "{}"));
    RecordStore.Commit late = await(records.commit(c, NOW + 1000, null, 1000));
    assertEquals(Result.REFUSED, late.result(), "a commit at the deadline loses, whatever its lines say");
    assertEquals("expired", late.state());
    assertEquals(Result.REFUSED, await(records.commit(b, NOW + 10, null, 5000)).result(), "exactly one of commit and expiry wins");
    assertEquals("expired", await(records.commit(b, NOW + 10, null, 5000)).state());
  }

  @Test
  @DisplayName("sweep_claim: takes what is due, leases it, and a second claimer gets nothing until the lease ends")
  void sweepClaim() {
    int bucket = 7;
    String due = Keys.dueLane(bucket, redis.cluster());
    String id = Api.id("res");
    await(redis.send(Command.ZADD, due, Long.toString(NOW), id));
    List<String> first = await(records.claimDue(bucket, NOW, 1000, 1000));
    assertTrue(first.contains(id));
    assertFalse(await(records.claimDue(bucket, NOW + 999, 1000, 1000)).contains(id));
    assertTrue(await(records.claimDue(bucket, NOW + 1000, 1000, 1000)).contains(id));
    await(redis.send(Command.ZREM, due, id));
  }

  @Test
  @DisplayName("a flushed Redis (NOSCRIPT) is survived: the script is loaded again and the call retried")
  void noscriptReload() {
    await(redis.send(Command.SCRIPT, "FLUSH"));
    assertEquals(HoldStatus.HELD, hold("after-flush", 1, NOW, NOW + 1000, 0).status());
  }

  @Test
  @DisplayName("scripts refuse bad arguments loudly")
  void badArguments() {
    assertThrows(RuntimeException.class, () -> await(store.reserveLine(sku, "r", 0, NOW, NOW, 0, "web", LOCS, null, false)));
  }

  @Test
  @DisplayName("a per-SKU script called without the shared ARGV prefix (now, ledger max, event channel) refuses loudly")
  void prefixRequired() {
    for (Script s : List.of(Script.RESERVE_LINE, Script.COMMIT_LINE, Script.RELEASE_LINE, Script.EXTEND_LINE,
        Script.SHIP_LINE, Script.MOVEMENT)) {
      // The order before the prefix: the reservation (or movement) id first.
      List<String> args = List.of("r-old", "1", Long.toString(NOW), Long.toString(NOW + 1000), "0", "web", "1000", "",
          "0", "main", "shop");
      assertBadArguments(s, scriptKeys(s, Keys.FEED), args);
    }
    assertEquals(0, counts("main").reserved(), "nothing was held");
  }

  @Test
  @DisplayName("a per-SKU script whose last key is not an outbox refuses before it changes anything")
  void outboxRequired() {
    long before = await(redis.send(Command.XLEN, Keys.FEED)).toLong();
    for (Script s : List.of(Script.RESERVE_LINE, Script.COMMIT_LINE, Script.RELEASE_LINE, Script.EXTEND_LINE,
        Script.SHIP_LINE, Script.MOVEMENT)) {
      List<String> args = List.of(Long.toString(NOW), "1000", Keys.events(sku), "r-new", "1",
          Long.toString(NOW + 1000), "0", "web", "", "0", "main");
      assertBadArguments(s, scriptKeys(s, Keys.customers(sku)), args);
    }
    assertEquals(0, counts("main").reserved(), "nothing was held");
    assertEquals(before, await(redis.send(Command.XLEN, Keys.FEED)).toLong(), "no event");
  }

  /** A per-SKU script's keys in its order, with {@code last} where its outbox goes. */
  private List<String> scriptKeys(Script s, String last) {
    List<String> keys = new ArrayList<>(List.of(Keys.stock(sku), Keys.holds(sku), Keys.expiry(sku), Keys.ledger(sku),
        Keys.customers(sku)));
    if (s == Script.MOVEMENT) {
      keys.add(Keys.moves(sku));
      keys.add(Keys.moveTimes(sku));
    }
    keys.add(last);
    assertEquals(s.keyCount, keys.size(), s.file);
    return keys;
  }

  private void assertBadArguments(Script s, List<String> keys, List<String> args) {
    RuntimeException e = assertThrows(RuntimeException.class, () -> await(redis.eval(s, keys, args)), s.file);
    String name = s.file.substring(0, s.file.length() - ".lua".length());
    assertTrue(e.getMessage().contains("ERR " + name + ": bad arguments"), s.file + ": " + e.getMessage());
  }

  @Test
  @DisplayName("a change publishes version|loc=available,... on Keys.events(sku): never below 0, quarantine left out")
  void eventPayload() throws Exception {
    Redis client = Redis.createClient(vertx, TestRedis.url());
    RedisConnection sub = await(client.connect());
    try {
      String info = await(sub.send(Request.cmd(Command.INFO).arg("server"))).toString();
      int at = info.indexOf("redis_version:") + "redis_version:".length();
      boolean sharded = Integer.parseInt(info.substring(at, info.indexOf('.', at))) >= 7;
      BlockingQueue<String> pushes = new LinkedBlockingQueue<>();
      sub.handler(r -> {
        if (r.size() >= 3 && r.get(0).toString().endsWith("message")) {
          pushes.add(r.get(1) + " " + r.get(2));
        } else if (r.size() >= 2 && r.get(0).toString().endsWith("subscribe")) {
          pushes.add("subscribed");
        }
      });
      String channel = Keys.events(sku);
      sub.send(Request.cmd(sharded ? Command.SSUBSCRIBE : Command.SUBSCRIBE).arg(channel));
      assertEquals("subscribed", pushes.poll(10, TimeUnit.SECONDS));

      Store.LineHold h = hold("r", 6, NOW, NOW + 60_000, 0);
      assertEquals(Map.of("main", 0L, "shop", 2L), event(channel, h.version(), pushes.poll(10, TimeUnit.SECONDS)));
      // A count below what is held: main's availability stays 0 (the shortfall is not published).
      Store.MovementResult count = await(store.movement(Api.id("m"), "f", "count", sku, "main", 2, NOW, 1000));
      assertEquals(3, count.shortfall());
      assertEquals(Map.of("main", 0L, "shop", 2L), event(channel, count.version(), pushes.poll(10, TimeUnit.SECONDS)));
      Store.MovementResult ret = await(store.movement(Api.id("m"), "f", "return", sku, "shop", 4, NOW, 1000));
      assertEquals(Map.of("main", 0L, "shop", 2L), event(channel, ret.version(), pushes.poll(10, TimeUnit.SECONDS)),
          "quarantined units are not available");
      await(store.releaseLine(sku, "r", NOW));
      assertEquals(Map.of("main", 2L, "shop", 3L), event(channel, ret.version() + 1, pushes.poll(10, TimeUnit.SECONDS)));
    } finally {
      sub.close();
      client.close();
    }
  }

  /** The per-location availability of one event, after checking its channel and version. */
  private static Map<String, Long> event(String channel, long version, String push) {
    assertTrue(push != null && push.startsWith(channel + " "), "an event on " + channel + ": " + push);
    String payload = push.substring(channel.length() + 1);
    assertTrue(payload.matches("\\d+\\|([a-z0-9_-]+=\\d+(,[a-z0-9_-]+=\\d+)*)?"), payload);
    int bar = payload.indexOf('|');
    assertEquals(version, Long.parseLong(payload.substring(0, bar)), payload);
    Map<String, Long> out = new TreeMap<>();
    for (String part : payload.substring(bar + 1).split(",")) {
      int eq = part.indexOf('=');
      out.put(part.substring(0, eq), Long.parseLong(part.substring(eq + 1)));
    }
    return out;
  }

  @Test
  @DisplayName("every assembled script loads into Redis under the SHA ScriptSource computed, with no include left")
  void assembledScriptsLoad() {
    for (Script s : Script.values()) {
      String src = ScriptSource.source(s);
      assertFalse(src.contains("@include"), s.file + " still has an @include line");
      assertEquals(ScriptSource.sha(s), await(redis.send(Command.SCRIPT, "LOAD", src)).toString(), s.file);
      assertEquals(ScriptSource.sha1(src), ScriptSource.sha(s), s.file);
    }
    String prelude = "local function location_available(";
    for (Script s : List.of(Script.RESERVE_LINE, Script.COMMIT_LINE, Script.RELEASE_LINE, Script.EXTEND_LINE,
        Script.SHIP_LINE, Script.MOVEMENT)) {
      String src = ScriptSource.source(s);
      assertEquals(src.indexOf(prelude), src.lastIndexOf(prelude), s.file + " has the prelude once");
      assertTrue(src.contains(prelude), s.file + " has the prelude");
    }
  }

  @Test
  @DisplayName("ScriptSource splices includes relative to the including file, once each; unknown or recursive ones fail")
  void includeSplicing() {
    Map<String, String> files = new HashMap<>(Map.of(
        "main.lua", "-- main\n--- @include \"inc/a\"\n-- @include 'inc/b.lua'\nreturn f()\n",
        "inc/a.lua", "--- @include \"b\"\nlocal function f() return g() end\n",
        "inc/b.lua", "local function g() return 1 end\n"));
    assertEquals("-- main\nlocal function g() return 1 end\nlocal function f() return g() end\nreturn f()\n",
        ScriptSource.assemble("main.lua", files::get));

    files.put("inc/b.lua", "--- @include \"nowhere\"\n");
    IllegalStateException unknown = assertThrows(IllegalStateException.class,
        () -> ScriptSource.assemble("main.lua", files::get));
    assertTrue(unknown.getMessage().contains("inc/nowhere.lua"), unknown.getMessage());

    files.put("inc/b.lua", "--- @include \"a\"\n");
    IllegalStateException recursive = assertThrows(IllegalStateException.class,
        () -> ScriptSource.assemble("main.lua", files::get));
    assertTrue(recursive.getMessage().contains("recursive include of lua/inc/a.lua"), recursive.getMessage());

    assertThrows(IllegalStateException.class, () -> ScriptSource.assemble("missing.lua", files::get));
  }

  private long score(String key, String member) {
    var r = await(redis.send(Command.ZSCORE, key, member));
    return r == null ? -1 : (long) Double.parseDouble(r.toString());
  }

  private static String alloc(Store.LineHold h) {
    StringBuilder sb = new StringBuilder();
    for (Store.Allocation a : h.allocations()) {
      sb.append(sb.length() == 0 ? "" : ",").append(a.location()).append('=').append(a.qty());
    }
    return sb.toString();
  }
}
