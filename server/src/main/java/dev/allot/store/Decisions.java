package dev.allot.store;

import dev.allot.store.RecordStore.Commit;
import dev.allot.store.RecordStore.Result;
import dev.allot.store.RecordStore.StockLine;
import dev.allot.store.RecordStore.Transition;
import io.vertx.core.Future;
import io.vertx.redis.client.Response;

import java.util.ArrayList;
import java.util.List;

/**
 * A reservation's commit or release in one script call (lua/decide_at_once.lua): the record's
 * decision and every stock line's change together, where they all live on one Redis (standalone).
 * A Redis Cluster runs the record's op and the per-SKU scripts one by one instead.
 */
public final class Decisions {
  private final RedisStore redis;
  private final String ledgerMax;

  public Decisions(RedisStore redis, int ledgerMaxEntries) {
    this.redis = redis;
    this.ledgerMax = Integer.toString(ledgerMaxEntries);
  }

  /**
   * held -> committed with every line. REFUSED with state expired: the deadline passed or a line's
   * hold was gone, the record is expired now and the caller settles what is left.
   */
  public Future<Commit> commit(String id, List<StockLine> lines, String orderId, long now, long leaseMillis) {
    return call("commit", id, lines, now, orderId == null ? "" : orderId, Long.toString(leaseMillis)).map(r -> {
      Result result = RecordStore.result(r.get(0).toInteger());
      return switch (result) {
        case DONE, ALREADY -> new Commit(result, "committed", emptyToNull(r.get(1).toString()));
        case REFUSED -> new Commit(result, r.get(1).toString(), null);
        case MISSING -> new Commit(result, null, null);
      };
    });
  }

  /** held -> released, every line given back and the record cleaned (kept retentionSeconds). */
  public Future<Transition> release(String id, List<StockLine> lines, long now, long leaseMillis,
                                    long retentionSeconds) {
    return call("release", id, lines, now, Long.toString(leaseMillis), Long.toString(retentionSeconds)).map(r -> {
      Result result = RecordStore.result(r.get(0).toInteger());
      return new Transition(result, result == Result.REFUSED && r.size() > 1 ? r.get(1).toString() : null);
    });
  }

  private Future<Response> call(String op, String id, List<StockLine> lines, long now, String... own) {
    int bucket = Keys.bucket(id);
    List<String> keys = new ArrayList<>(3 + 5 * lines.size());
    keys.add(Keys.reservation(id));
    keys.add(Keys.due(bucket));
    keys.add(Keys.stats(bucket));
    List<String> args = new ArrayList<>(6 + lines.size() + own.length);
    args.add(Long.toString(now));
    args.add(ledgerMax);
    args.add(lines.isEmpty() ? "" : Keys.events(lines.get(0).sku()));
    args.add(op);
    args.add(id);
    args.add(Integer.toString(lines.size()));
    for (StockLine l : lines) {
      keys.add(Keys.stock(l.sku()));
      keys.add(Keys.holds(l.sku()));
      keys.add(Keys.expiry(l.sku()));
      keys.add(Keys.ledger(l.sku()));
      keys.add(Keys.customers(l.sku()));
      args.add(Keys.events(l.sku()));
    }
    args.addAll(List.of(own));
    return redis.eval(Script.DECIDE_AT_ONCE, keys, args);
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }
}
