package dev.allot.stock;

import dev.allot.config.Settings;
import dev.allot.store.Creations;
import dev.allot.store.Decisions;
import dev.allot.store.InFlight;
import dev.allot.store.Keys;
import dev.allot.store.RecordStore;
import dev.allot.store.RedisProcess;
import dev.allot.store.RedisStore;
import dev.allot.store.Store;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The sweeper's passes on a standalone Redis of its own (nothing else talks to it, so its command
 * counts are the sweeper's): what a pass costs at rest, and that a backlog larger than one claim, or
 * more groups than one claim opens, is dealt with in one pass all the same.
 */
class SweeperTest {
  static final long NOW = 1_700_000_000_000L;
  static RedisProcess process;
  static Vertx vertx;
  static RedisStore redis;
  static Sweeper sweeper;

  @BeforeAll
  static void setUp() throws Exception {
    process = RedisProcess.start(RedisProcess.freePort(), List.of());
    vertx = Vertx.vertx();
    redis = RedisStore.create(vertx, process.url(), List.of(), 4);
    await(redis.loadScripts());
    Settings settings = Settings.load(new String[0], Map.of());
    Store store = new Store(redis, 1000);
    RecordStore records = new RecordStore(redis);
    Metrics metrics = new Metrics(new SimpleMeterRegistry());
    Reservations reservations = new Reservations(store, records, new Creations(redis, 1000, new InFlight(1)),
        new Decisions(redis, 1000, new InFlight(1)), new Catalog(store), settings.reservations(), 1, metrics,
        () -> NOW);
    sweeper = new Sweeper(records, reservations, settings.reservations(), metrics, () -> NOW);
  }

  @AfterAll
  static void tearDown() {
    await(redis.close());
    await(vertx.close());
    process.close();
  }

  static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /** Script calls this Redis has run (EVALSHA and EVAL), from INFO commandstats. */
  static long scriptCalls() {
    long calls = 0;
    for (String line : await(redis.send(Command.INFO, "commandstats")).toString().split("\r?\n")) {
      if (line.startsWith("cmdstat_evalsha:calls=") || line.startsWith("cmdstat_eval:calls=")) {
        calls += Long.parseLong(line.substring(line.indexOf('=') + 1, line.indexOf(',')));
      }
    }
    return calls;
  }

  @Test
  @DisplayName("a pass at rest on a standalone Redis is two script calls: the buckets' check and one claim")
  void passAtRest() {
    await(redis.send(Command.DEL, Keys.DUE_ALL));
    await(sweeper.sweepOnce());
    long before = scriptCalls();
    await(sweeper.sweepOnce());
    assertEquals(2, scriptCalls() - before, "due_adopt and one sweep_claim, not a claim for each of "
        + Keys.BUCKETS + " lanes");
  }

  @Test
  @DisplayName("a backlog larger than one claim is claimed in one pass: the first lane's full claim brings the others")
  void backlogInOnePass() {
    // 450 entries due (ids with no record: each is claimed, found missing and needs nothing), more
    // than two claims of 200.
    due(450, i -> "backlog-" + i);
    await(sweeper.sweepOnce());
    assertEquals(0, dueNow(), "nothing left due after one pass");
    await(redis.send(Command.DEL, Keys.DUE_ALL));
  }

  @Test
  @DisplayName("groups with nothing left to claim (their records all settled) are opened in one pass, however many")
  void settledGroupsInOnePass() {
    // A flash sale's calls whose reservations were all committed: each call's group entry names
    // records that are no longer held (here: gone). One claim opens four rounds of 200 and claims
    // nothing; the other lanes open the rest.
    due(900, i -> "*" + Keys.reservation("gone-" + i + "-a") + "," + Keys.reservation("gone-" + i + "-b"));
    await(sweeper.sweepOnce());
    assertEquals(0, dueNow(), "every group opened in one pass");
    assertEquals(0, await(redis.send(Command.ZCARD, Keys.DUE_ALL)).toLong(), "and nothing left for them");
  }

  /** n members of the due index, member(i) scored a second or more before NOW. */
  static void due(int n, IntFunction<String> member) {
    List<Object> args = new ArrayList<>(List.of(Keys.DUE_ALL));
    for (int i = 0; i < n; i++) {
      args.add(Long.toString(NOW - 1000 - i));
      args.add(member.apply(i));
    }
    await(redis.send(Command.ZADD, args.toArray()));
  }

  static long dueNow() {
    return await(redis.send(Command.ZCOUNT, Keys.DUE_ALL, "-inf", Long.toString(NOW))).toLong();
  }
}
