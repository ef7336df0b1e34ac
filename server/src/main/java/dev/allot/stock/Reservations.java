package dev.allot.stock;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.Settings;
import dev.allot.store.Store;
import dev.allot.store.Store.HoldStatus;
import dev.allot.store.Store.LineChange;
import dev.allot.store.Store.LineHold;
import dev.allot.store.Store.RecordReply;
import io.vertx.core.Future;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The multi-SKU reservation protocol (docs/protocol.md). Each SKU is changed by its own script
 * in its own slot; the reservation record is the single decision point. Holds carry the
 * reservation id and a deadline, so whatever a dead instance leaves behind either expires on
 * its own or is finished by the sweeper from the record.
 */
public final class Reservations {
  private static final System.Logger LOG = System.getLogger(Reservations.class.getName());
  private static final Set<String> TERMINAL = Set.of("released", "expired", "cancelled", "shipped", "rejected", "aborted");

  /** A requested line; {@code alias} is the channel's own code when the client used one (else null). */
  public record Line(String sku, long qty, String alias) {
    public Line(String sku, long qty) {
      this(sku, qty, null);
    }
  }

  /**
   * The stock lines a request holds: bundles expanded into their components, and a SKU asked for
   * by several lines (a bundle and its component, say) counted together. Each is one per-SKU script.
   */
  List<Line> stockLines(List<Line> requested) {
    Map<String, Long> merged = new java.util.LinkedHashMap<>();
    for (Line l : requested) {
      Bundle b = catalog.bundle(l.sku());
      if (b == null) {
        merged.merge(l.sku(), l.qty(), Long::sum);
      } else {
        for (Bundle.Component c : b.components()) {
          merged.merge(c.sku(), c.qty() * l.qty(), Long::sum);
        }
      }
    }
    List<Line> out = new ArrayList<>(merged.size());
    merged.forEach((sku, qty) -> out.add(new Line(sku, qty)));
    return out;
  }

  /** customer: null for none (then no per-customer limit applies). */
  public record ReserveRequest(String id, String channel, int ttlSeconds, List<Line> lines, String customer) {
    String canonical() {
      StringBuilder sb = new StringBuilder("v1|").append(channel).append('|').append(ttlSeconds)
          .append('|').append(customer == null ? "" : customer);
      lines.forEach(l -> sb.append('|').append(l.sku()).append('=').append(l.qty()));
      return sb.toString();
    }
  }

  /**
   * What a reserve call answers: {@code held} with the reservation document, or refused (not enough
   * stock, a customer's limit) with the problem document that says why. Either is stored with the
   * record, so a replay answers the very same outcome.
   */
  public record Outcome(boolean held, String body) {
  }

  private final Store store;
  private final Catalog catalog;
  private final Settings settings;
  private final Metrics metrics;
  private final LongSupplier clock;

  public Reservations(Store store, Catalog catalog, Settings settings, Metrics metrics, LongSupplier clock) {
    this.store = store;
    this.catalog = catalog;
    this.settings = settings;
    this.metrics = metrics;
    this.clock = clock;
  }

  // ---- create -----------------------------------------------------------------------------

  public Future<Outcome> reserve(ReserveRequest req) {
    return catalog.channel(req.channel()).compose(found -> {
      Channel channel = found.orElseThrow(() -> new AllotException(AllotException.Kind.NOT_FOUND, "unknown_channel",
          "channel '" + req.channel() + "' does not exist", "channel", null, null));
      long now = clock.getAsLong();
      long deadline = now + req.ttlSeconds() * 1000L;
      String fp = Json.fingerprint(req.canonical());
      List<Line> stock = stockLines(req.lines());
      return store.recordBegin(req.id(), now, fp, channel.id(), deadline, now + settings.pendingLeaseMillis(),
              encodeLines(stock))
          .compose(begin -> switch (begin.code()) {
            case 1 -> holdAll(req, stock, channel, now, deadline);
            case 3 -> {
              metrics.reservation("idempotency_conflict");
              throw idempotencyConflict(req.id());
            }
            default -> Future.succeededFuture(replayCreate(req.id(), begin));
          });
    });
  }

  private Outcome replayCreate(String id, RecordReply begin) {
    metrics.reservation("replay");
    switch (begin.state()) {
      case "pending" -> throw new AllotException(AllotException.Kind.CONFLICT, "reservation_in_progress",
          "reservation '" + id + "' is being created by an earlier request; retry shortly", null, null, 1);
      case "aborted" -> throw new AllotException(AllotException.Kind.CONFLICT, "reservation_aborted",
          "an earlier attempt to create reservation '" + id + "' was cut short and undone; nothing is held;"
              + " retry with a new id", null, null, null);
      default -> {
        return new Outcome(begin.status() == 201, begin.body());
      }
    }
  }

  private Future<Outcome> holdAll(ReserveRequest req, List<Line> stock, Channel channel, long now, long deadline) {
    List<Future<LineHold>> holds = new ArrayList<>(stock.size());
    for (Line l : stock) {
      holds.add(store.reserveLine(l.sku(), req.id(), l.qty(), now, deadline, channel.buffer(), channel.id(),
          channel.locations(), req.customer(), channel.backorder()));
    }
    return Future.join(holds).transform(ar -> {
      if (ar.failed()) {
        // Some line may be held. Undo now if Redis lets us; otherwise the sweeper does it when the lease ends.
        metrics.reservation("unavailable");
        return abandon(req.id(), stock).transform(x -> Future.failedFuture(ar.cause()));
      }
      boolean allHeld = holds.stream().allMatch(f -> f.result().status() == HoldStatus.HELD
          || f.result().status() == HoldStatus.REPLAY);
      if (allHeld) {
        String body = Json.write(createdBody(req, stock, channel, deadline, holds));
        return store.recordOp(req.id(), "held", now, body).compose(r -> {
          if (r.code() == 1) {
            metrics.reservation("held");
            return Future.succeededFuture(new Outcome(true, body));
          }
          // The sweeper gave up on us (we took longer than the pending lease) and may have cleaned up
          // before our last line landed: give back every line ourselves (all our calls are done).
          metrics.reservation("aborted");
          return releaseLines(req.id(), stock, "abort").compose(x -> settle(req.id())).transform(x -> Future.failedFuture(
              new AllotException(AllotException.Kind.UNAVAILABLE, "store_unavailable",
              "the reservation took too long to create and was undone; retry with a new id", null, null,
              settings.storeRetryAfterSeconds())));
        });
      }
      boolean limited = holds.stream().anyMatch(f -> f.result().status() == HoldStatus.CUSTOMER_LIMIT);
      String body = Json.write(limited ? customerLimitBody(req, stock, holds) : insufficientBody(req, stock, holds));
      metrics.reservation(limited ? "customer_limit" : "insufficient_stock");
      return store.recordOp(req.id(), "reject", now, body, Long.toString(settings.cleanupLeaseMillis()))
          .compose(r -> r.code() == 1 ? settle(req.id())
              // Aborted by the sweeper meanwhile (we were slower than the lease): undo our lines ourselves.
              : releaseLines(req.id(), stock, "abort").compose(x -> settle(req.id())))
          .map(v -> new Outcome(false, body));
    });
  }

  /** Undoes a creation that failed half-way (Redis trouble); what cannot be undone now, the sweeper undoes. */
  private Future<Void> abandon(String id, List<Line> stock) {
    return store.recordOp(id, "expire", clock.getAsLong(), "1", Long.toString(settings.cleanupLeaseMillis()))
        .compose(r -> releaseLines(id, stock, "abort"))
        .compose(r -> settle(id))
        .recover(err -> {
          // One line per 10 s: during an outage every failed creation comes here.
          long now = System.currentTimeMillis();
          long last = lastAbandonWarning.get();
          long skipped = abandonWarningsSkipped.incrementAndGet() - 1;
          if (now - last > 10_000 && lastAbandonWarning.compareAndSet(last, now)) {
            abandonWarningsSkipped.set(0);
            LOG.log(System.Logger.Level.WARNING, "could not undo reservation {0} now ({1}); the sweeper will"
                + (skipped > 0 ? " (and {2} more since the last such line)" : ""), id, err.toString(), skipped);
          }
          return Future.succeededFuture();
        });
  }

  private final AtomicLong lastAbandonWarning = new AtomicLong();
  private final AtomicLong abandonWarningsSkipped = new AtomicLong();

  private ObjectNode createdBody(ReserveRequest req, List<Line> stock, Channel channel, long deadline,
                                 List<Future<LineHold>> holds) {
    ObjectNode o = Json.object();
    o.put("id", req.id());
    o.put("channel", channel.id());
    o.put("state", "held");
    o.put("expiresAt", Instant.ofEpochMilli(deadline).toString());
    if (req.customer() != null) {
      o.put("customer", req.customer());
    }
    ArrayNode lines = o.putArray("lines");
    for (Line l : req.lines()) {
      ObjectNode line = lines.addObject();
      line.put("sku", l.sku());
      if (l.alias() != null) {
        line.put("alias", l.alias());
      }
      line.put("qty", l.qty());
      Bundle b = catalog.bundle(l.sku());
      if (b != null) {
        ArrayNode comps = line.putArray("components");
        b.components().forEach(c -> comps.addObject().put("sku", c.sku()).put("qty", c.qty() * l.qty()));
        continue;
      }
      // A SKU also held for a bundle of the same cart is one hold: its allocations cover both.
      LineHold h = holds.get(indexOf(stock, l.sku())).result();
      ArrayNode allocs = line.putArray("allocations");
      for (Store.Allocation a : h.allocations()) {
        allocs.addObject().put("location", a.location()).put("qty", a.qty());
      }
      if (h.backordered() > 0) {
        line.put("backordered", h.backordered());
      }
    }
    if (stock.size() != req.lines().size() || req.lines().stream().anyMatch(l -> catalog.bundle(l.sku()) != null)) {
      ArrayNode held = o.putArray("holds");
      for (int i = 0; i < stock.size(); i++) {
        LineHold h = holds.get(i).result();
        ObjectNode x = held.addObject().put("sku", stock.get(i).sku()).put("qty", stock.get(i).qty());
        ArrayNode allocs = x.putArray("allocations");
        h.allocations().forEach(a -> allocs.addObject().put("location", a.location()).put("qty", a.qty()));
        if (h.backordered() > 0) {
          x.put("backordered", h.backordered());
        }
      }
    }
    return o;
  }

  private static int indexOf(List<Line> stock, String sku) {
    for (int i = 0; i < stock.size(); i++) {
      if (stock.get(i).sku().equals(sku)) {
        return i;
      }
    }
    throw new IllegalStateException("no stock line for " + sku);
  }

  /**
   * What each requested line could have had, from the per-SKU answers: a plain line its SKU's
   * availability, a bundle the fewest bundles its components make.
   */
  private List<long[]> requestedView(ReserveRequest req, List<Line> stock, List<Future<LineHold>> holds,
                                     HoldStatus refusal) {
    Map<String, Long> before = new java.util.HashMap<>();
    Map<String, Boolean> refused = new java.util.HashMap<>();
    for (int i = 0; i < stock.size(); i++) {
      LineHold h = holds.get(i).result();
      long held = h.allocations().stream().mapToLong(Store.Allocation::qty).sum();
      boolean wasHeld = h.status() == HoldStatus.HELD || h.status() == HoldStatus.REPLAY;
      before.put(stock.get(i).sku(), wasHeld && refusal == HoldStatus.INSUFFICIENT ? h.available() + held
          : h.available());
      refused.put(stock.get(i).sku(), h.status() == refusal);
    }
    List<long[]> out = new ArrayList<>();
    for (int i = 0; i < req.lines().size(); i++) {
      Line l = req.lines().get(i);
      Bundle b = catalog.bundle(l.sku());
      if (b == null) {
        if (refused.getOrDefault(l.sku(), false)) {
          out.add(new long[] {i, before.get(l.sku())});
        }
      } else if (b.components().stream().anyMatch(c -> refused.getOrDefault(c.sku(), false))) {
        Map<String, Long> avail = new java.util.HashMap<>(before);
        out.add(new long[] {i, b.available(avail)});
      }
    }
    return out;
  }

  private ObjectNode customerLimitBody(ReserveRequest req, List<Line> stock, List<Future<LineHold>> holds) {
    ObjectNode p = Json.problem(409, "customer_limit", "customer '" + req.customer()
        + "' would go past the per-customer limit of a SKU; nothing is held");
    ArrayNode lines = p.putArray("lines");
    for (long[] v : requestedView(req, stock, holds, HoldStatus.CUSTOMER_LIMIT)) {
      Line l = req.lines().get((int) v[0]);
      lines.addObject().put("sku", l.sku()).put("requested", l.qty()).put("allowed", v[1]);
    }
    p.put("field", "customer");
    return p;
  }

  private ObjectNode insufficientBody(ReserveRequest req, List<Line> stock, List<Future<LineHold>> holds) {
    ObjectNode p = Json.problem(409, "insufficient_stock", "not enough stock for every line; nothing is held");
    ArrayNode lines = p.putArray("lines");
    for (long[] v : requestedView(req, stock, holds, HoldStatus.INSUFFICIENT)) {
      Line l = req.lines().get((int) v[0]);
      lines.addObject().put("sku", l.sku()).put("requested", l.qty()).put("available", v[1]);
    }
    return p;
  }

  // ---- reads and transitions --------------------------------------------------------------

  /** The reservation as it is now; {@code callerChannel} null means an admin. */
  public Future<String> get(String id, String callerChannel) {
    return load(id, callerChannel).map(rec -> Json.write(view(rec, rec.get("st"))));
  }

  public Future<String> commit(String id, String orderId, String callerChannel) {
    return load(id, callerChannel).compose(rec -> {
      String state = rec.get("st");
      String oid = orderId == null ? "" : orderId;
      if (state.equals("committed")) {
        return committedReplay(id, rec, oid);
      }
      if (!state.equals("held")) {
        metrics.transition("commit", state);
        throw stateConflict(id, state);
      }
      long now = clock.getAsLong();
      List<Line> lines = decodeLines(rec.get("ln"));
      List<Future<LineChange>> changes = new ArrayList<>();
      lines.forEach(l -> changes.add(store.commitLine(l.sku(), id, now)));
      return Future.all(changes).compose(cf -> {
        boolean allCommitted = changes.stream().allMatch(f -> f.result().code() == 1 || f.result().code() == 2);
        if (!allCommitted) {
          // A line's hold is gone: its deadline passed, or a release decided meanwhile. The record says which.
          return expireNow(id).compose(st -> {
            metrics.transition("commit", st);
            return Future.failedFuture(stateConflict(id, st));
          });
        }
        return store.recordOp(id, "commit", now, oid, Long.toString(settings.cleanupLeaseMillis())).compose(r -> {
          if (r.code() == 1) {
            metrics.transition("commit", "committed");
            rec.put("oid", oid);
            return Future.succeededFuture(Json.write(view(rec, "committed")));
          }
          if (r.code() == 2) {
            return committedReplay(id, rec, oid);
          }
          // Released or expired while we were committing lines: the record decided; undo the lines.
          metrics.transition("commit", r.state());
          return settle(id).transform(x -> Future.failedFuture(stateConflict(id, r.state())));
        });
      });
    });
  }

  private Future<String> committedReplay(String id, Map<String, String> rec, String orderId) {
    return store.readRecord(id).map(fresh -> {
      String stored = fresh.getOrDefault("oid", "");
      if (!orderId.isEmpty() && !stored.isEmpty() && !stored.equals(orderId)) {
        throw new AllotException(AllotException.Kind.CONFLICT, "idempotency_conflict", "reservation '" + id
            + "' was committed with another orderId", "orderId", null, null);
      }
      metrics.transition("commit", "replay");
      return Json.write(view(fresh, fresh.get("st")));
    });
  }

  public Future<String> release(String id, String callerChannel) {
    return simpleTransition(id, callerChannel, "release", "held", "released");
  }

  public Future<String> ship(String id, String callerChannel) {
    return simpleTransition(id, callerChannel, "ship", "committed", "shipped");
  }

  public Future<String> cancel(String id, String callerChannel) {
    return simpleTransition(id, callerChannel, "cancel", "committed", "cancelled");
  }

  /** A transition the record decides alone; the SKUs follow (settle), and the sweeper finishes if we die. */
  private Future<String> simpleTransition(String id, String callerChannel, String op, String from, String to) {
    return load(id, callerChannel).compose(rec -> {
      String state = rec.get("st");
      if (!state.equals(from) && !state.equals(to)) {
        metrics.transition(op, state);
        throw stateConflict(id, state);
      }
      return store.recordOp(id, op, clock.getAsLong(), Long.toString(settings.cleanupLeaseMillis())).compose(r -> {
        if (r.code() == 0) {
          metrics.transition(op, r.state());
          throw stateConflict(id, r.state());
        }
        metrics.transition(op, r.code() == 1 ? to : "replay");
        return settleQuietly(id).compose(v -> store.readRecord(id)).map(fresh -> Json.write(view(fresh, to)));
      });
    });
  }

  public Future<String> extend(String id, int ttlSeconds, String callerChannel) {
    return load(id, callerChannel).compose(rec -> {
      String state = rec.get("st");
      if (!state.equals("held")) {
        metrics.transition("extend", state);
        throw new AllotException(AllotException.Kind.CONFLICT, state, "reservation '" + id + "' is " + state + ", not held");
      }
      long now = clock.getAsLong();
      long deadline = now + ttlSeconds * 1000L;
      List<Future<LineChange>> changes = new ArrayList<>();
      decodeLines(rec.get("ln")).forEach(l -> changes.add(store.extendLine(l.sku(), id, now, deadline)));
      return Future.all(changes).compose(cf -> {
        if (changes.stream().anyMatch(f -> f.result().code() == 0)) {
          // A line's hold is gone: expired, or released meanwhile. The record says which.
          return expireNow(id).compose(st -> {
            metrics.transition("extend", st);
            return Future.failedFuture(new AllotException(AllotException.Kind.CONFLICT, st, "reservation '" + id + "' is " + st + ", not held"));
          });
        }
        if (changes.stream().anyMatch(f -> f.result().code() == 2)) {
          // A commit is under way: leave it alone and answer from the record.
          return store.readRecord(id).compose(fresh -> {
            String st = fresh.getOrDefault("st", "held");
            metrics.transition("extend", st);
            return Future.failedFuture(st.equals("held")
                ? new AllotException(AllotException.Kind.CONFLICT, "reservation_in_progress", "reservation '" + id
                    + "' is being committed; retry shortly", null, null, 1)
                : new AllotException(AllotException.Kind.CONFLICT, st, "reservation '" + id + "' is " + st + ", not held"));
          });
        }
        return store.recordOp(id, "extend", now, Long.toString(deadline)).compose(r -> {
          if (r.code() != 1) {
            metrics.transition("extend", r.state());
            return settle(id).transform(x -> Future.failedFuture(
                new AllotException(AllotException.Kind.CONFLICT, r.state(), "reservation '" + id + "' is " + r.state() + ", not held")));
          }
          metrics.transition("extend", "extended");
          rec.put("dl", Long.toString(deadline));
          return Future.succeededFuture(Json.write(view(rec, "held")));
        });
      });
    });
  }

  // ---- settling: making every SKU agree with the record ------------------------------------

  /** Expires a held record at once (a line was found gone) and settles it; answers the record's resulting state. */
  private Future<String> expireNow(String id) {
    return store.recordOp(id, "expire", clock.getAsLong(), "1", Long.toString(settings.cleanupLeaseMillis()))
        .compose(r -> {
          if (r.code() == 1 && r.state().equals("expired")) {
            metrics.holdExpired();
          }
          String state = r.code() < 0 ? "expired" : r.state();
          return settle(id).map(state);
        });
  }

  /** Gives back every line of a reservation the record has already ruled out (idempotent per SKU). */
  private Future<Void> releaseLines(String id, List<Line> lines, String why) {
    long now = clock.getAsLong();
    List<Future<LineChange>> changes = new ArrayList<>(lines.size());
    lines.forEach(l -> changes.add(store.releaseLine(l.sku(), id, now, why)));
    return Future.all(changes).mapEmpty();
  }

  private Future<Void> settleQuietly(String id) {
    return settle(id).recover(err -> {
      LOG.log(System.Logger.Level.WARNING, "reservation {0}: decided, but the stock clean-up failed ({1});"
          + " the sweeper finishes it", id, err.toString());
      return Future.succeededFuture();
    });
  }

  /**
   * Brings a decided reservation's SKUs in line with its record: the sweeper calls it for every due
   * reservation, handlers after each decision. Idempotent: running it twice changes nothing more.
   */
  public Future<Void> settle(String id) {
    long now = clock.getAsLong();
    return store.recordOp(id, "expire", now, "0", Long.toString(settings.cleanupLeaseMillis())).compose(r -> {
      if (r.code() < 0) {
        return Future.succeededFuture();
      }
      if (r.code() == 1 && r.state().equals("expired")) {
        metrics.holdExpired();
      }
      if (!TERMINAL.contains(r.state()) || r.cleaned()) {
        return Future.succeededFuture();
      }
      boolean ship = r.state().equals("shipped");
      String why = switch (r.state()) {
        case "expired" -> "expire";
        case "cancelled" -> "cancel";
        case "rejected" -> "reject";
        case "aborted" -> "abort";
        default -> "release";
      };
      List<Future<LineChange>> changes = new ArrayList<>();
      for (Line l : decodeLines(r.lines())) {
        changes.add(ship ? store.shipLine(l.sku(), id, now) : store.releaseLine(l.sku(), id, now, why));
      }
      return Future.all(changes).compose(cf -> store.recordOp(id, "finish", clock.getAsLong(),
          Long.toString(r.state().equals("rejected") || r.state().equals("aborted")
              ? Math.min(86400, settings.reservationRetentionSeconds()) : settings.reservationRetentionSeconds())))
          .mapEmpty();
    });
  }

  // ---- helpers ------------------------------------------------------------------------------

  private Future<Map<String, String>> load(String id, String callerChannel) {
    return store.readRecord(id).map(rec -> {
      String st = rec.get("st");
      if (st == null || st.equals("rejected") || st.equals("aborted")) {
        throw new AllotException(AllotException.Kind.NOT_FOUND, "unknown_reservation", "no reservation '" + id + "'");
      }
      if (callerChannel != null && !callerChannel.equals(rec.get("ch"))) {
        throw new AllotException(AllotException.Kind.FORBIDDEN, "forbidden", "reservation '" + id + "' belongs to another channel");
      }
      if (st.equals("pending")) {
        throw new AllotException(AllotException.Kind.CONFLICT, "reservation_in_progress",
            "reservation '" + id + "' is still being created; retry shortly", null, null, 1);
      }
      return rec;
    });
  }

  private ObjectNode view(Map<String, String> rec, String state) {
    ObjectNode o = (ObjectNode) Json.read(rec.get("body"));
    o.put("state", state);
    long dl = Long.parseLong(rec.getOrDefault("dl", "0"));
    o.put("expiresAt", Instant.ofEpochMilli(dl).toString());
    String oid = rec.get("oid");
    if (oid != null && !oid.isEmpty()) {
      o.put("orderId", oid);
    }
    return o;
  }

  private static AllotException stateConflict(String id, String state) {
    if (state.equals("expired")) {
      return new AllotException(AllotException.Kind.GONE, "reservation_expired", "reservation '" + id + "' has expired");
    }
    return new AllotException(AllotException.Kind.CONFLICT, "reservation_" + state, "reservation '" + id + "' is " + state);
  }

  private static AllotException idempotencyConflict(String id) {
    return new AllotException(AllotException.Kind.CONFLICT, "idempotency_conflict",
        "reservation id '" + id + "' was already used for a different request", "id", null, null);
  }

  static String encodeLines(List<Line> lines) {
    StringBuilder sb = new StringBuilder();
    for (Line l : lines) {
      if (sb.length() > 0) {
        sb.append(',');
      }
      sb.append(l.sku()).append('=').append(l.qty());
    }
    return sb.toString();
  }

  static List<Line> decodeLines(String s) {
    List<Line> out = new ArrayList<>();
    if (s == null || s.isEmpty()) {
      return out;
    }
    for (String part : s.split(",")) {
      int eq = part.lastIndexOf('=');
      out.add(new Line(part.substring(0, eq), Long.parseLong(part.substring(eq + 1))));
    }
    return out;
  }
}
