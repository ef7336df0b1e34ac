package dev.allot.stock;

import dev.allot.config.Settings;
import dev.allot.common.Throttled;
import dev.allot.store.Creations;
import dev.allot.store.Creations.Creation;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.store.Creations.LineDecision;
import dev.allot.store.Creations.NewReservation;
import dev.allot.store.Decisions;
import dev.allot.store.RecordStore;
import dev.allot.store.RecordStore.BeginResult;
import dev.allot.store.RecordStore.Record;
import dev.allot.store.RecordStore.Result;
import dev.allot.store.RecordStore.StockLine;
import dev.allot.store.RecordStore.Transition;
import dev.allot.store.Store;
import dev.allot.store.Store.HoldStatus;
import dev.allot.store.Store.LineChange;
import dev.allot.store.Store.LineHold;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

import static dev.allot.stock.ReservationDocs.idempotencyConflict;
import static dev.allot.stock.ReservationDocs.inProgress;
import static dev.allot.stock.ReservationDocs.stateConflict;
import static dev.allot.stock.ReservationDocs.view;

/**
 * The multi-SKU reservation protocol (docs/protocol.md). Each SKU is changed by its own script
 * in its own slot; the reservation record is the single decision point. Holds carry the
 * reservation id and a deadline, so whatever a dead instance leaves behind either expires on
 * its own or is finished by the sweeper from the record. Where the record and every SKU live on
 * one Redis (standalone), a reservation is created in one group-committed script call instead
 * ({@link Creations}). The documents it answers are {@link ReservationDocs}'.
 */
public final class Reservations {
  private static final System.Logger LOG = System.getLogger(Reservations.class.getName());
  /** A requested line; {@code alias} is the channel's own code when the client used one (else null). */
  public record Line(String sku, long qty, String alias) {
  }

  /** customer: null for none (then no per-customer limit applies). */
  public record ReserveRequest(String id, String channel, int ttlSeconds, List<Line> lines, String customer) {
    String canonical() {
      StringBuilder sb = new StringBuilder(48 + 24 * lines.size()).append("v1|").append(channel).append('|')
          .append(ttlSeconds).append('|').append(customer == null ? "" : customer);
      for (Line l : lines) {
        sb.append('|').append(l.sku()).append('=').append(l.qty());
      }
      return sb.toString();
    }
  }

  /**
   * What a reserve call answers: {@code held} with the reservation document, or refused (not enough
   * stock, a customer's limit) with the problem document that says why. Either is stored with the
   * record, so a replay answers the very same outcome.
   */
  public record Outcome(boolean held, Buffer body) {
    Outcome(boolean held, String body) {
      this(held, Buffer.buffer(body));
    }
  }

  private final Store store;
  private final RecordStore records;
  /** null in front of a Redis Cluster: the saga then creates every reservation. */
  private final Creations creations;
  /** null in front of a Redis Cluster: commit and release then run the record's op and each SKU's script. */
  private final Decisions decisions;
  private final Catalog catalog;
  private final ReservationDocs docs;
  private final Settings.Reservations settings;
  private final int storeRetryAfterSeconds;
  private final Metrics metrics;
  private final Settlement settlement;
  private final LongSupplier clock;

  /** storeRetryAfterSeconds: the Retry-After of a creation that took too long and was undone. */
  public Reservations(Store store, RecordStore records, Creations creations, Decisions decisions, Catalog catalog,
                      Settings.Reservations settings, int storeRetryAfterSeconds, Metrics metrics, LongSupplier clock) {
    this.store = store;
    this.records = records;
    this.creations = creations;
    this.decisions = decisions;
    this.catalog = catalog;
    this.docs = new ReservationDocs(catalog);
    this.settings = settings;
    this.storeRetryAfterSeconds = storeRetryAfterSeconds;
    this.metrics = metrics;
    this.settlement = new Settlement(store, records, settings, metrics, new DriftReport(store, metrics), clock);
    this.clock = clock;
  }

  // ---- create -----------------------------------------------------------------------------

  public Future<Outcome> reserve(ReserveRequest req) {
    Channel known = catalog.cachedChannel(req.channel());
    if (known != null) {
      // The usual case, without a future for the catalogue's answer.
      try {
        return reserve(req, known);
      } catch (RuntimeException e) {
        return Future.failedFuture(e);
      }
    }
    return catalog.channel(req.channel()).compose(found -> reserve(req, found.orElseThrow(() -> new AllotException(
        AllotException.Kind.NOT_FOUND, "unknown_channel", "channel '" + req.channel() + "' does not exist", "channel",
        null, null))));
  }

  private Future<Outcome> reserve(ReserveRequest req, Channel channel) {
    long now = clock.getAsLong();
    long deadline = now + req.ttlSeconds() * 1000L;
    String fp = Json.fingerprint(req.canonical());
    List<StockLine> stock = catalog.stockLines(req.lines());
    if (creations != null) {
      return createAtOnce(req, stock, channel, fp, now, deadline);
    }
    return records.begin(req.id(), now, fp, channel.id(), deadline, now + settings.pendingLeaseMillis(), stock)
        .compose(begin -> {
          if (begin.result() == BeginResult.CREATED) {
            return holdAll(req, stock, channel, now, deadline);
          }
          if (begin.result() == BeginResult.OTHER_REQUEST) {
            metrics.reservation("idempotency_conflict");
            throw idempotencyConflict(req.id());
          }
          return Future.succeededFuture(replayCreate(req.id(), begin));
        });
  }

  /** Record and lines in one group-committed call (one Redis holds them all). */
  private Future<Outcome> createAtOnce(ReserveRequest req, List<StockLine> stock, Channel channel, String fp, long now,
                                       long deadline) {
    NewReservation create = new NewReservation(req.id(), now, fp, channel.id(), deadline, channel.buffer(),
        req.customer(), channel.backorder(), channel.locations(), stock,
        docs.createdTemplate(req, stock, channel, deadline), Math.min(86400, settings.retentionSeconds()));
    return creations.create(create).transform(ar -> {
      if (ar.failed()) {
        // One atomic script: it either happened whole (a replay answers it) or not at all.
        metrics.reservation("unavailable");
        return Future.failedFuture(ar.cause());
      }
      Creation c = ar.result();
      return Future.succeededFuture(switch (c.result()) {
        case CREATED -> {
          metrics.reservation("held");
          yield new Outcome(true, c.bytes());
        }
        case REFUSED -> refused(req, stock, c.refusal(), true);
        case OTHER_REQUEST -> {
          metrics.reservation("idempotency_conflict");
          throw idempotencyConflict(req.id());
        }
        case SAME_REQUEST -> c.status() == 409 && c.body().isEmpty() && !c.refusal().isEmpty()
            ? refused(req, c.lines().size() == c.refusal().size() ? c.lines() : stock, c.refusal(), false)
            : replayCreate(req.id(), new RecordStore.Begin(RecordStore.BeginResult.SAME_REQUEST, c.state(), c.status(),
                c.body()));
      });
    });
  }

  /** A refusal create_batch decided: its 409 document, written from each stock line's decision. */
  private Outcome refused(ReserveRequest req, List<StockLine> stock, List<LineDecision> decisions, boolean count) {
    ObjectNode problem = docs.refusal(req, stock, decisions);
    metrics.reservation(!count ? "replay" : problem.path("code").asText());
    return new Outcome(false, Json.write(problem));
  }

  private Outcome replayCreate(String id, RecordStore.Begin begin) {
    metrics.reservation("replay");
    return switch (begin.state()) {
      case "pending" -> throw inProgress(id, "is being created by an earlier request");
      case "aborted" -> throw AllotException.conflict("reservation_aborted", "an earlier attempt to create reservation '"
          + id + "' was cut short and undone; nothing is held; retry with a new id");
      default -> new Outcome(begin.status() == 201, begin.body());
    };
  }

  private Future<Outcome> holdAll(ReserveRequest req, List<StockLine> stock, Channel channel, long now, long deadline) {
    List<Future<LineHold>> pending = new ArrayList<>(stock.size());
    for (StockLine l : stock) {
      pending.add(store.reserveLine(l.sku(), req.id(), l.qty(), now, deadline, channel.buffer(), channel.id(),
          channel.locations(), req.customer(), channel.backorder()));
    }
    return Future.join(pending).transform(ar -> {
      if (ar.failed()) {
        // Some line may be held. 503 now, the undo after it (a stalled Redis would make the client
        // wait a second timeout): undone now if Redis lets us, else by the sweeper (docs/protocol.md).
        metrics.reservation("unavailable");
        abandon(req.id(), stock);
        return Future.failedFuture(ar.cause());
      }
      List<LineHold> holds = new ArrayList<>(pending.size());
      pending.forEach(f -> holds.add(f.result()));
      boolean allHeld = holds.stream().allMatch(h -> h.status() == HoldStatus.HELD || h.status() == HoldStatus.REPLAY);
      if (allHeld) {
        String body = Json.write(docs.created(req, stock, channel, deadline, holds));
        return records.held(req.id(), now, body).compose(r -> {
          if (r.done()) {
            metrics.reservation("held");
            return Future.succeededFuture(new Outcome(true, body));
          }
          // The sweeper aborted us (we took longer than the pending lease) and may have cleaned up before
          // our last line landed: every line is given back again, after the answer (all our calls are done).
          metrics.reservation("aborted");
          abandon(req.id(), stock);
          return Future.failedFuture(new AllotException(AllotException.Kind.UNAVAILABLE, "store_unavailable",
              "the reservation took too long to create and is being undone; retry with a new id", null, null,
              storeRetryAfterSeconds));
        });
      }
      boolean limited = holds.stream().anyMatch(h -> h.status() == HoldStatus.CUSTOMER_LIMIT);
      String body = Json.write(limited ? docs.customerLimit(req, stock, holds) : docs.insufficient(req, stock, holds));
      metrics.reservation(limited ? "customer_limit" : "insufficient_stock");
      return records.reject(req.id(), now, body, settings.cleanupLeaseMillis())
          .compose(r -> r.done() ? settlement.settle(req.id())
              // Aborted by the sweeper meanwhile (we were slower than the lease): undo our lines ourselves.
              : settlement.releaseLines(req.id(), stock, "abort").compose(x -> settlement.settle(req.id())))
          .map(v -> new Outcome(false, body));
    });
  }

  /** Undoes a creation that failed half-way (Redis trouble); what cannot be undone now, the sweeper undoes. */
  private Future<Void> abandon(String id, List<StockLine> stock) {
    return records.expire(id, clock.getAsLong(), true, settings.cleanupLeaseMillis())
        .compose(r -> settlement.releaseLines(id, stock, "abort"))
        .compose(r -> settlement.settle(id))
        .recover(err -> {
          // One line per 10 s: during an outage every failed creation comes here.
          abandonWarnings.warn(() -> "could not undo reservation " + id + " now (" + err + "); the sweeper will");
          return Future.succeededFuture();
        });
  }

  private final Throttled abandonWarnings = new Throttled(LOG, 10_000);

  // ---- reads and transitions --------------------------------------------------------------

  /** The reservation as it is now; {@code callerChannel} null means an admin. */
  public Future<String> get(String id, String callerChannel) {
    return load(id, callerChannel).map(rec -> view(rec.body(), rec.state(), rec.deadline(), rec.orderId()));
  }

  public Future<String> commit(String id, String orderId, String callerChannel) {
    if (decisions != null) {
      return commitAtOnce(id, orderId, callerChannel);
    }
    return load(id, callerChannel).compose(rec -> {
      String state = rec.state();
      if (state.equals("committed")) {
        return committedReplay(id, orderId);
      }
      if (!state.equals("held")) {
        metrics.transition("commit", state);
        throw stateConflict(id, state);
      }
      long now = clock.getAsLong();
      List<Future<LineChange>> changes = new ArrayList<>();
      rec.lines().forEach(l -> changes.add(store.commitLine(l.sku(), id, now)));
      return Future.all(changes).compose(cf -> {
        boolean allCommitted = changes.stream().allMatch(f -> f.result().code() == 1 || f.result().code() == 2);
        if (!allCommitted) {
          // A line's hold is gone: its deadline passed, or a release decided meanwhile. The record says which.
          return settlement.expireNow(id).compose(st -> {
            metrics.transition("commit", st);
            return Future.failedFuture(stateConflict(id, st));
          });
        }
        return records.commit(id, now, orderId, settings.cleanupLeaseMillis())
            .compose(r -> committed(id, orderId, rec, r));
      });
    });
  }

  /** A standalone Redis commits in one call: the script reads the record, decides, commits every line. */
  private Future<String> commitAtOnce(String id, String orderId, String callerChannel) {
    return decisions.commit(id, callerChannel, orderId, clock.getAsLong(), settings.cleanupLeaseMillis())
        .compose(d -> switch (d.outcome()) {
          case DONE -> {
            metrics.transition("commit", "committed");
            yield Future.succeededFuture(view(d.body(), "committed", d.deadline(), d.orderId()));
          }
          case ALREADY -> {
            if (orderId != null && d.orderId() != null && !d.orderId().equals(orderId)) {
              throw otherOrder(id);
            }
            metrics.transition("commit", "replay");
            yield Future.succeededFuture(view(d.body(), "committed", d.deadline(), d.orderId()));
          }
          case REFUSED -> {
            metrics.transition("commit", d.state());
            if (!d.expiredNow()) {
              throw stateConflict(id, d.state());
            }
            // This call expired it (its deadline passed, or a line's hold was gone): the lines still held follow.
            metrics.holdExpired();
            yield settlement.settle(id).transform(x -> Future.failedFuture(stateConflict(id, d.state())));
          }
          default -> throw refusedByRecord(id, d);
        });
  }

  /** What load() answers for a record the caller may not decide: missing, another channel's, or pending. */
  private static AllotException refusedByRecord(String id, Decisions.Decided d) {
    return switch (d.outcome()) {
      case FORBIDDEN -> otherChannel(id);
      case PENDING -> inProgress(id, "is still being created");
      default -> unknown(id);
    };
  }

  private static AllotException unknown(String id) {
    return AllotException.notFound("unknown_reservation", "no reservation '" + id + "'");
  }

  private static AllotException otherChannel(String id) {
    return AllotException.forbidden("reservation '" + id + "' belongs to another channel");
  }

  private static AllotException otherOrder(String id) {
    return new AllotException(AllotException.Kind.CONFLICT, "idempotency_conflict", "reservation '" + id
        + "' was committed with another orderId", "orderId", null, null);
  }

  /** What the record's commit decided, answered. */
  private Future<String> committed(String id, String orderId, Record rec, RecordStore.Commit r) {
    if (r.result() == Result.DONE) {
      metrics.transition("commit", "committed");
      return Future.succeededFuture(view(rec.body(), "committed", rec.deadline(), orderId));
    }
    if (r.result() == Result.ALREADY) {
      return committedReplay(id, orderId);
    }
    if (r.result() == Result.MISSING) {
      throw unknown(id);
    }
    // Released or expired meanwhile (or a line's hold was gone): the record decided; settle the lines.
    if (r.expiredNow()) {
      metrics.holdExpired();
    }
    metrics.transition("commit", r.state());
    return settlement.settle(id).transform(x -> Future.failedFuture(stateConflict(id, r.state())));
  }

  private Future<String> committedReplay(String id, String orderId) {
    return records.read(id).map(fresh -> {
      String stored = fresh.orderId();
      if (orderId != null && stored != null && !stored.equals(orderId)) {
        throw otherOrder(id);
      }
      metrics.transition("commit", "replay");
      return view(fresh.body(), fresh.state(), fresh.deadline(), fresh.orderId());
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
    if (decisions != null && op.equals("release")) {
      return releaseAtOnce(id, callerChannel);
    }
    return load(id, callerChannel).compose(rec -> {
      String state = rec.state();
      if (!state.equals(from) && !state.equals(to)) {
        metrics.transition(op, state);
        throw stateConflict(id, state);
      }
      long now = clock.getAsLong();
      long lease = settings.cleanupLeaseMillis();
      Future<Transition> decided = switch (op) {
        case "release" -> records.release(id, now, lease);
        case "ship" -> records.ship(id, now, lease);
        default -> records.cancel(id, now, lease);
      };
      return decided.compose(r -> {
        if (r.result() == Result.MISSING) {
          throw unknown(id);
        }
        if (r.result() == Result.REFUSED) {
          metrics.transition(op, r.state());
          throw stateConflict(id, r.state());
        }
        metrics.transition(op, r.done() ? to : "replay");
        // The SKUs follow the record (on a replay too: it may meet a release left unfinished).
        return settlement.settleQuietly(id).compose(v -> records.read(id))
            .map(fresh -> view(fresh.body(), to, fresh.deadline(), fresh.orderId()));
      });
    });
  }

  /** A standalone Redis releases in one call: the script reads the record, decides, gives every line back, finishes. */
  private Future<String> releaseAtOnce(String id, String callerChannel) {
    long lease = settings.cleanupLeaseMillis();
    return decisions.release(id, callerChannel, clock.getAsLong(), lease, settings.retentionSeconds())
        .compose(d -> switch (d.outcome()) {
          case DONE -> {
            metrics.transition("release", "released");
            yield Future.succeededFuture(view(d.body(), "released", d.deadline(), d.orderId()));
          }
          case ALREADY -> {
            metrics.transition("release", "replay");
            // It may meet a release left unfinished (the cluster's path, or a sweeper's): the SKUs follow.
            yield settlement.settleQuietly(id).map(v -> view(d.body(), "released", d.deadline(), d.orderId()));
          }
          case REFUSED -> {
            metrics.transition("release", d.state());
            throw stateConflict(id, d.state());
          }
          default -> throw refusedByRecord(id, d);
        });
  }

  public Future<String> extend(String id, int ttlSeconds, String callerChannel) {
    return load(id, callerChannel).compose(rec -> {
      String state = rec.state();
      if (!state.equals("held")) {
        metrics.transition("extend", state);
        throw stateConflict(id, state);
      }
      long now = clock.getAsLong();
      long deadline = now + ttlSeconds * 1000L;
      List<Future<LineChange>> changes = new ArrayList<>();
      rec.lines().forEach(l -> changes.add(store.extendLine(l.sku(), id, now, deadline)));
      return Future.all(changes).compose(cf -> {
        if (changes.stream().anyMatch(f -> f.result().code() == 0)) {
          // A line's hold is gone: expired, or released meanwhile. The record says which.
          return settlement.expireNow(id).compose(st -> {
            metrics.transition("extend", st);
            return Future.failedFuture(stateConflict(id, st));
          });
        }
        if (changes.stream().anyMatch(f -> f.result().code() == 2)) {
          // A commit is under way: leave it alone and answer from the record.
          return records.read(id).compose(fresh -> {
            String st = fresh == null ? "held" : fresh.state();
            metrics.transition("extend", st);
            return Future.failedFuture(st.equals("held") ? inProgress(id, "is being committed") : stateConflict(id, st));
          });
        }
        return records.extend(id, now, deadline).compose(r -> {
          if (!r.done()) {
            metrics.transition("extend", r.state());
            return settlement.settle(id).transform(x -> Future.failedFuture(stateConflict(id, r.state())));
          }
          metrics.transition("extend", "extended");
          return Future.succeededFuture(view(rec.body(), "held", deadline, rec.orderId()));
        });
      });
    });
  }

  /**
   * Brings a decided reservation's SKUs in line with its record ({@link Settlement#settle}): the
   * sweeper calls it for every due reservation.
   */
  public Future<Void> settle(String id) {
    return settlement.settle(id);
  }

  private Future<Record> load(String id, String callerChannel) {
    return records.read(id).map(rec -> {
      String st = rec == null ? null : rec.state();
      if (st == null || st.equals("rejected") || st.equals("aborted")) {
        throw unknown(id);
      }
      if (callerChannel != null && !callerChannel.equals(rec.channel())) {
        throw otherChannel(id);
      }
      if (st.equals("pending")) {
        throw inProgress(id, "is still being created");
      }
      return rec;
    });
  }
}
