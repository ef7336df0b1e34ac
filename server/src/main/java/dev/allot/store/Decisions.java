package dev.allot.store;

import dev.allot.store.RecordStore.Commit;
import dev.allot.store.RecordStore.Result;
import dev.allot.store.RecordStore.StockLine;
import dev.allot.store.RecordStore.Transition;
import io.vertx.core.Future;
import io.vertx.redis.client.Response;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reservations' commits and releases, each the record's decision and every stock line's change in
 * one atomic step (lua/decide_at_once.lua), group-committed like creations ({@link GroupCommit}):
 * what reaches one event loop while its calls are under way goes in its next call. Only where the
 * records and all their SKUs live on one Redis (standalone); a Redis Cluster runs the record's op
 * and the per-SKU scripts one by one instead.
 */
public final class Decisions {
  /** One commit or release: the reservation's stock lines (from its record) and the op's two arguments. */
  record Operation(String op, String id, List<StockLine> lines, String first, String second, long now) {
  }

  private final RedisStore redis;
  private final String ledgerMax;
  private final GroupCommit<Operation, Response> group;

  /** inFlight: as for {@link Creations} (a limit of its own: commits never wait behind creations). */
  public Decisions(RedisStore redis, int ledgerMaxEntries, InFlight inFlight) {
    this.redis = redis;
    this.ledgerMax = Integer.toString(ledgerMaxEntries);
    this.group = new GroupCommit<>(Creations.BATCH_CAP, inFlight, o -> o.lines().size(), this::send);
  }

  /**
   * held -> committed with every line. REFUSED with state expired: the deadline passed or a line's
   * hold was gone, the record is expired now and the caller settles what is left.
   */
  public Future<Commit> commit(String id, List<StockLine> lines, String orderId, long now, long leaseMillis) {
    return group.submit(new Operation("commit", id, lines, orderId == null ? "" : orderId,
        Long.toString(leaseMillis), now)).map(RecordStore::commitAnswer);
  }

  /** held -> released, every line given back and the record cleaned (kept retentionSeconds). */
  public Future<Transition> release(String id, List<StockLine> lines, long now, long leaseMillis,
                                    long retentionSeconds) {
    return group.submit(new Operation("release", id, lines, Long.toString(leaseMillis),
        Long.toString(retentionSeconds), now)).map(r -> {
          Result result = RecordStore.result(r.get(0).toInteger());
          return new Transition(result, result == Result.REFUSED && r.size() > 1 ? r.get(1).toString() : null);
        });
  }

  /** One decide_at_once call for these operations, in this order (package-private for the tests). */
  Future<List<Response>> send(List<Operation> batch) {
    Map<String, Integer> skus = new LinkedHashMap<>();
    long now = 0;
    for (Operation o : batch) {
      for (StockLine l : o.lines()) {
        skus.putIfAbsent(l.sku(), skus.size() + 1);
      }
      now = Math.max(now, o.now());
    }
    List<String> keys = new ArrayList<>(5 * skus.size() + 3 * batch.size());
    List<String> args = new ArrayList<>(5 + skus.size() + 8 * batch.size());
    args.add(Long.toString(now));
    args.add(ledgerMax);
    args.add(Keys.events(skus.keySet().iterator().next()));
    args.add(Integer.toString(skus.size()));
    args.add(Integer.toString(batch.size()));
    for (String sku : skus.keySet()) {
      keys.addAll(Keys.skuKeys(sku));
      args.add(Keys.events(sku));
    }
    for (Operation o : batch) {
      keys.addAll(Keys.recordKeys(o.id()));
      args.add(o.op());
      args.add(o.id());
      args.add(Integer.toString(o.lines().size()));
      for (StockLine l : o.lines()) {
        args.add(Integer.toString(skus.get(l.sku())));
      }
      args.add(o.first());
      args.add(o.second());
    }
    // Only in front of a standalone Redis: every event of the call goes to the feed itself.
    keys.add(Keys.FEED);
    return redis.eval(Script.DECIDE_AT_ONCE, keys, args).map(reply -> {
      List<Response> out = new ArrayList<>(reply.size());
      reply.forEach(out::add);
      return out;
    });
  }
}
