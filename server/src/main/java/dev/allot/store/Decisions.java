package dev.allot.store;

import io.vertx.core.Future;
import io.vertx.redis.client.Response;

import java.util.ArrayList;
import java.util.List;

/**
 * Reservations' commits and releases, each the record's decision and every stock line's change in
 * one atomic step (lua/decide_at_once.lua), group-committed like creations ({@link GroupCommit}):
 * what reaches the instance, on any event loop, while its calls are under way goes in the next call. The script reads
 * each record itself, so a commit or a release is that one call. Only where the records and all
 * their SKUs live on one Redis (standalone); a Redis Cluster reads the record, then runs the
 * record's op and the per-SKU scripts one by one instead.
 */
public final class Decisions {
  /** One commit or release: the caller's channel ("" for an admin) and the op's two arguments. */
  record Operation(String op, String id, String callerChannel, String first, String second, long now) {
  }

  /** What a commit or a release found. */
  public enum Outcome {
    /** Decided now: committed (or released), every line with it. */
    DONE,
    /** Already in that state: a replay. */
    ALREADY,
    /** The record is in another state ({@link Decided#state}); nothing changed, unless expiredNow. */
    REFUSED,
    /** No such reservation (none, or rejected or aborted: never created). */
    MISSING,
    /** The reservation belongs to another channel than the caller's. */
    FORBIDDEN,
    /** The reservation is still being created. */
    PENDING
  }

  /**
   * A decision: for DONE and ALREADY the record's state, order id (null for none), first answer and
   * deadline after it; for REFUSED its state, and expiredNow when this call expired it (its deadline
   * had passed or a line's hold was gone: the caller settles what is left).
   */
  public record Decided(Outcome outcome, String state, String orderId, String body, long deadline,
                        boolean expiredNow) {
  }

  private final RedisStore redis;
  private final String ledgerMax;
  /** A call's budget of stock lines (decide_at_once's ARGV[5]); the rest of a batch goes in the next call. */
  private final String lineBudget;
  private final GroupCommit<Operation, Response> group;

  /** inFlight: as for {@link Creations} (a limit of its own: commits never wait behind creations). */
  public Decisions(RedisStore redis, int ledgerMaxEntries, InFlight inFlight) {
    this(redis, ledgerMaxEntries, inFlight, Creations.BATCH_CAP);
  }

  /**
   * lineBudget: at most this many stock lines decided in one script call, as for creations (the ids a
   * batch is made of tell nothing of their lines: the script counts them as it reads the records and
   * leaves the rest of the batch to the next call).
   */
  Decisions(RedisStore redis, int ledgerMaxEntries, InFlight inFlight, int lineBudget) {
    this.redis = redis;
    this.ledgerMax = Integer.toString(ledgerMaxEntries);
    this.lineBudget = Integer.toString(lineBudget);
    this.group = new GroupCommit<>(Creations.BATCH_CAP, inFlight, o -> 1, this::send);
  }

  /** held -> committed with every line; callerChannel null for an admin. */
  public Future<Decided> commit(String id, String callerChannel, String orderId, long now, long leaseMillis) {
    return group.submit(new Operation("commit", id, callerChannel == null ? "" : callerChannel,
        orderId == null ? "" : orderId, Long.toString(leaseMillis), now)).map(Decisions::decided);
  }

  /** held -> released, every line given back and the record cleaned (kept retentionSeconds). */
  public Future<Decided> release(String id, String callerChannel, long now, long leaseMillis, long retentionSeconds) {
    return group.submit(new Operation("release", id, callerChannel == null ? "" : callerChannel,
        Long.toString(leaseMillis), Long.toString(retentionSeconds), now)).map(Decisions::decided);
  }

  /** One answer of decide_at_once (its header lists them). */
  static Decided decided(Response r) {
    int code = r.get(0).toInteger();
    return switch (code) {
      case 1, 2 -> {
        String oid = r.get(2).toString();
        yield new Decided(code == 1 ? Outcome.DONE : Outcome.ALREADY, r.get(1).toString(),
            oid.isEmpty() ? null : oid, r.get(3).toString(), r.get(4).toLong(), false);
      }
      case 0 -> new Decided(Outcome.REFUSED, r.get(1).toString(), null, null, 0, r.get(2).toInteger() == 1);
      case -1 -> new Decided(Outcome.MISSING, null, null, null, 0, false);
      case -3 -> new Decided(Outcome.FORBIDDEN, null, null, null, 0, false);
      case -4 -> new Decided(Outcome.PENDING, "pending", null, null, 0, false);
      default -> throw new IllegalStateException("decide_at_once answered " + r);
    };
  }

  /**
   * These operations decided, in this order: one decide_at_once call, then one more for whatever did
   * not fit its budget of stock lines, until every one is answered. The batch's slot stays taken
   * meanwhile, so what arrives later still goes after it; Redis runs others' commands between calls.
   * A later call that fails fails the whole batch's callers, those an earlier call decided included:
   * as after any 503 whose call may have run, their retry answers the decision (ALREADY).
   */
  Future<List<Response>> send(List<Operation> batch) {
    return sendOnce(batch).compose(reply -> {
      int taken = 0;
      while (taken < reply.size() && !deferred(reply.get(taken))) {
        taken++;
      }
      if (taken == reply.size()) {
        return Future.succeededFuture(reply);
      }
      if (taken == 0) {
        return Future.failedFuture(new IllegalStateException("decide_at_once took none of " + batch.size()));
      }
      List<Response> done = reply.subList(0, taken);
      return send(batch.subList(taken, batch.size())).map(rest -> {
        List<Response> all = new ArrayList<>(batch.size());
        all.addAll(done);
        all.addAll(rest);
        return all;
      });
    });
  }

  /** decide_at_once's {-9}: not taken in that call (over its budget), nothing done for it. */
  private static boolean deferred(Response r) {
    return r.get(0).toInteger() == -9;
  }

  /** One decide_at_once call for these operations, in this order (package-private for the tests). */
  Future<List<Response>> sendOnce(List<Operation> batch) {
    long now = 0;
    for (Operation o : batch) {
      now = Math.max(now, o.now());
    }
    List<String> keys = new ArrayList<>(3 * batch.size() + 1);
    List<String> args = new ArrayList<>(4 + 5 * batch.size());
    args.add(Long.toString(now));
    args.add(ledgerMax);
    // No SKU is bound at the start: the script finds each record's SKUs in the record.
    args.add("-");
    args.add(Integer.toString(batch.size()));
    args.add(lineBudget);
    for (Operation o : batch) {
      keys.addAll(Keys.recordKeys(o.id(), redis.cluster()));
      args.add(o.op());
      args.add(o.id());
      args.add(o.callerChannel());
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
