package dev.allot.store;

import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The reservation record (lua/reservation.lua): the single decision point of a multi-SKU
 * reservation, one typed method per operation. The only code that knows the record's field
 * names, its line format and the script's reply codes (docs/protocol.md).
 */
public final class RecordStore {
  private final RedisStore redis;

  public RecordStore(RedisStore redis) {
    this.redis = redis;
  }

  /** True in front of a Redis Cluster: each bucket has a due index of its own (a lane each). */
  public boolean cluster() {
    return redis.cluster();
  }

  /** One stock line of a reservation: a SKU and the units held for it (bundles already expanded). */
  public record StockLine(String sku, long qty) {
  }

  /** A stored record; {@code orderId} is null until committed with one. */
  public record Record(String state, String channel, long deadline, List<StockLine> lines, String orderId,
                       String body) {
  }

  /** How {@link #begin} went: a new record, the same request again (with its stored outcome), or another request. */
  public enum BeginResult { CREATED, SAME_REQUEST, OTHER_REQUEST }

  /** For SAME_REQUEST: the record's state and its first outcome (201 with the reservation, or 409 with a problem). */
  public record Begin(BeginResult result, String state, int status, String body) {
  }

  /**
   * A transition's answer: DONE, ALREADY in the target state (a replay), REFUSED because the record is
   * in {@code state}, or MISSING (no such record).
   */
  public enum Result { DONE, ALREADY, REFUSED, MISSING }

  public record Transition(Result result, String state) {
    public boolean done() {
      return result == Result.DONE;
    }
  }

  /**
   * commit: the order id the record holds (the stored one on a replay); {@code expiredNow}: this call
   * turned a held record expired (its deadline had passed, or a line's hold was gone).
   */
  public record Commit(Result result, String state, String orderId, boolean expiredNow) {
  }

  /**
   * expire: whether this call changed the state (held -> expired, pending -> aborted), the state now,
   * whether every SKU was already told (cleaned), and the record's lines. MISSING: no such record.
   */
  public record Expiry(boolean missing, boolean changed, String state, boolean cleaned, List<StockLine> lines) {
  }

  public Future<Begin> begin(String id, long now, String fingerprint, String channel, long deadline, long leaseUntil,
                             List<StockLine> lines) {
    return call(id, "begin", now, fingerprint, channel, Long.toString(deadline), Long.toString(leaseUntil),
        encodeLines(lines)).map(r -> switch (r.get(0).toInteger()) {
          case 1 -> new Begin(BeginResult.CREATED, "pending", 0, null);
          case 2 -> new Begin(BeginResult.SAME_REQUEST, r.get(1).toString(), r.get(2).toInteger(), r.get(3).toString());
          default -> new Begin(BeginResult.OTHER_REQUEST, null, 0, null);
        });
  }

  /** pending -> held, storing the 201 body the reservation answers (and answers again on a replay). */
  public Future<Transition> held(String id, long now, String body) {
    return transition(id, "held", now, body);
  }

  /** pending -> rejected, storing the 409 problem body; the SKUs are settled within {@code leaseMillis}. */
  public Future<Transition> reject(String id, long now, String body, long leaseMillis) {
    return transition(id, "reject", now, body, Long.toString(leaseMillis));
  }

  /** held -> committed (a held record past its deadline expires instead: REFUSED, state expired). */
  public Future<Commit> commit(String id, long now, String orderId, long leaseMillis) {
    return call(id, "commit", now, orderId == null ? "" : orderId, Long.toString(leaseMillis))
        .map(RecordStore::commitAnswer);
  }

  /** A commit's answer, from reservation.lua. */
  static Commit commitAnswer(Response r) {
    Result result = result(r.get(0).toInteger());
    return switch (result) {
      case DONE, ALREADY -> new Commit(result, "committed", emptyToNull(r.get(1).toString()), false);
      case REFUSED -> new Commit(result, r.get(1).toString(), null, r.size() > 2 && r.get(2).toInteger() == 1);
      case MISSING -> new Commit(result, null, null, false);
    };
  }

  public Future<Transition> release(String id, long now, long leaseMillis) {
    return transition(id, "release", now, Long.toString(leaseMillis));
  }

  public Future<Transition> ship(String id, long now, long leaseMillis) {
    return transition(id, "ship", now, Long.toString(leaseMillis));
  }

  public Future<Transition> cancel(String id, long now, long leaseMillis) {
    return transition(id, "cancel", now, Long.toString(leaseMillis));
  }

  /** A held record's new deadline. */
  public Future<Transition> extend(String id, long now, long deadline) {
    return transition(id, "extend", now, Long.toString(deadline));
  }

  /**
   * Expires a held record past its deadline (or at once with {@code force}), aborts a pending one
   * past its lease, and reschedules the rest; the sweeper and every settle call it.
   */
  public Future<Expiry> expire(String id, long now, boolean force, long leaseMillis) {
    return call(id, "expire", now, force ? "1" : "0", Long.toString(leaseMillis)).map(r -> {
      int code = r.get(0).toInteger();
      if (code < 0) {
        return new Expiry(true, false, null, false, List.of());
      }
      return new Expiry(false, code == 1, r.get(1).toString(), r.get(2).toInteger() == 1, decodeLines(r.get(3).toString()));
    });
  }

  /** Marks a terminal record cleaned (every SKU told) and lets it expire after {@code retentionSeconds}. */
  public Future<Transition> finish(String id, long now, long retentionSeconds) {
    return transition(id, "finish", now, Long.toString(retentionSeconds));
  }

  /** The stored record, or null when there is none. */
  public Future<Record> read(String id) {
    return redis.send(Command.HGETALL, Keys.reservation(id)).map(r -> {
      if (r == null || r.size() == 0 || r.get("st") == null) {
        return null;
      }
      return new Record(r.get("st").toString(), text(r, "ch"), r.get("dl") == null ? 0 : r.get("dl").toLong(),
          decodeLines(text(r, "ln")), emptyToNull(text(r, "oid")), text(r, "body"));
    });
  }

  /**
   * The ids whose records are due, each leased to this caller for {@code leaseMillis}: in bucket
   * {@code lane}'s index on a cluster; on a standalone Redis from the one due index, whatever the lane.
   */
  public Future<List<String>> claimDue(int lane, long now, long leaseMillis, int limit) {
    return redis.eval(Script.SWEEP_CLAIM, List.of(Keys.dueLane(lane, redis.cluster())),
            List.of(Long.toString(now), Long.toString(leaseMillis), Integer.toString(limit)))
        .map(r -> {
          List<String> ids = new ArrayList<>(r.size());
          r.forEach(x -> ids.add(x.toString()));
          return ids;
        });
  }

  /**
   * True when lane {@code lane}'s index holds anything due at {@code now} (claimed or not: a claim
   * re-scores what it takes past now). One ZCOUNT.
   */
  public Future<Boolean> anyDue(int lane, long now) {
    return redis.send(Command.ZCOUNT, Keys.dueLane(lane, redis.cluster()), "-inf", Long.toString(now))
        .map(r -> r.toLong() > 0);
  }

  /** due_adopt's keys: the one due index, then the buckets' (made once: every sweeper pass sends them). */
  private static final List<String> ADOPT_KEYS = java.util.stream.Stream.concat(
      java.util.stream.Stream.of(Keys.DUE_ALL), Keys.bucketDues().stream()).toList();

  /**
   * On a standalone Redis, moves entries left in the buckets' due indexes (older versions wrote
   * them there) into the one due index, at most {@code limit} a call (the earliest first); answers
   * how many moved (0, nothing to do, on a cluster).
   */
  public Future<Long> adoptBucketDues(int limit) {
    if (redis.cluster()) {
      return Future.succeededFuture(0L);
    }
    return redis.eval(Script.DUE_ADOPT, ADOPT_KEYS, List.of(Integer.toString(limit))).map(Response::toLong);
  }

  /** The reservation counters summed over every bucket: created, held (outstanding now), committed, expired. */
  public Future<Map<String, Long>> stats() {
    List<Request> reqs = new ArrayList<>(Keys.BUCKETS);
    for (int b = 0; b < Keys.BUCKETS; b++) {
      reqs.add(Request.cmd(Command.HGETALL).arg(Keys.stats(b)));
    }
    return redis.pipeline(reqs).map(rs -> {
      Map<String, Long> sum = new TreeMap<>(Map.of("created", 0L, "held", 0L, "committed", 0L, "expired", 0L));
      for (Response r : rs) {
        if (r != null) {
          for (String k : r.getKeys()) {
            sum.merge(k, r.get(k).toLong(), Long::sum);
          }
        }
      }
      return sum;
    });
  }

  // ---- the script and the record's formats ----------------------------------------------------

  private Future<Transition> transition(String id, String op, long now, String... args) {
    return call(id, op, now, args).map(r -> {
      Result result = result(r.get(0).toInteger());
      return new Transition(result, result == Result.REFUSED && r.size() > 1 ? r.get(1).toString() : null);
    });
  }

  static Result result(int code) {
    return switch (code) {
      case 1 -> Result.DONE;
      case 2 -> Result.ALREADY;
      case 0 -> Result.REFUSED;
      default -> Result.MISSING;
    };
  }

  private Future<Response> call(String id, String op, long now, String... extra) {
    List<String> args = new ArrayList<>(3 + extra.length);
    args.add(op);
    args.add(id);
    args.add(Long.toString(now));
    args.addAll(List.of(extra));
    List<String> keys = new ArrayList<>(4);
    keys.addAll(Keys.recordKeys(id, redis.cluster()));
    keys.add(Keys.recordOutbox(id, redis.cluster()));
    return redis.eval(Script.RESERVATION, keys, args);
  }

  /** The record's {@code ln} field: {@code SKU=qty,...} (SKU codes never hold ',' or '='). */
  static String encodeLines(List<StockLine> lines) {
    StringBuilder sb = new StringBuilder();
    for (StockLine l : lines) {
      if (sb.length() > 0) {
        sb.append(',');
      }
      sb.append(l.sku()).append('=').append(l.qty());
    }
    return sb.toString();
  }

  static List<StockLine> decodeLines(String s) {
    List<StockLine> out = new ArrayList<>();
    if (s == null || s.isEmpty()) {
      return out;
    }
    for (String part : s.split(",")) {
      int eq = part.lastIndexOf('=');
      out.add(new StockLine(part.substring(0, eq), Long.parseLong(part.substring(eq + 1))));
    }
    return out;
  }

  private static String text(Response r, String field) {
    Response v = r.get(field);
    return v == null ? null : v.toString();
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }
}
