package dev.allot.stock;

import dev.allot.config.Settings;
import dev.allot.store.RecordStore;
import dev.allot.store.RecordStore.StockLine;
import dev.allot.store.Store;
import dev.allot.store.Store.LineChange;
import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Settling: making every SKU of a decided reservation agree with its record (docs/protocol.md). The
 * record is the decision; each SKU follows it with its own script (release_line, ship_line), and a
 * record is cleaned once every SKU has been told. {@link Reservations} settles after each decision
 * it cannot make in one call; the sweeper settles every due reservation.
 */
final class Settlement {
  private static final System.Logger LOG = System.getLogger(Settlement.class.getName());
  private static final Set<String> TERMINAL = Set.of("released", "expired", "cancelled", "shipped", "rejected", "aborted");

  private final Store store;
  private final RecordStore records;
  private final Settings.Reservations settings;
  private final Metrics metrics;
  private final DriftReport drift;
  private final LongSupplier clock;

  Settlement(Store store, RecordStore records, Settings.Reservations settings, Metrics metrics, DriftReport drift,
             LongSupplier clock) {
    this.store = store;
    this.records = records;
    this.settings = settings;
    this.metrics = metrics;
    this.drift = drift;
    this.clock = clock;
  }

  /** Expires a held record at once (a line was found gone) and settles it; answers the record's resulting state. */
  Future<String> expireNow(String id) {
    return records.expire(id, clock.getAsLong(), true, settings.cleanupLeaseMillis()).compose(r -> {
      if (r.changed() && r.state().equals("expired")) {
        metrics.holdExpired();
      }
      String state = r.missing() ? "expired" : r.state();
      return settle(id).map(state);
    });
  }

  /** Gives back every line of a reservation the record has already ruled out (idempotent per SKU). */
  Future<Void> releaseLines(String id, List<StockLine> lines, String why) {
    long now = clock.getAsLong();
    List<Future<LineChange>> changes = new ArrayList<>(lines.size());
    lines.forEach(l -> changes.add(store.releaseLine(l.sku(), id, now, why)));
    return Future.all(changes).mapEmpty();
  }

  /** settle, a failure logged and left to the sweeper (the caller has its answer already). */
  Future<Void> settleQuietly(String id) {
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
  Future<Void> settle(String id) {
    long now = clock.getAsLong();
    return records.expire(id, now, false, settings.cleanupLeaseMillis()).compose(r -> {
      if (r.missing()) {
        return Future.succeededFuture();
      }
      if (r.changed() && r.state().equals("expired")) {
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
      for (StockLine l : r.lines()) {
        changes.add(ship ? store.shipLine(l.sku(), id, now) : store.releaseLine(l.sku(), id, now, why));
      }
      boolean undone = r.state().equals("rejected") || r.state().equals("aborted");
      return Future.all(changes).compose(cf -> ship ? drift.ships(id, r.lines(), changes, now)
              : Future.succeededFuture())
          .compose(v -> records.finish(id, clock.getAsLong(),
          undone ? Math.min(86400, settings.retentionSeconds()) : settings.retentionSeconds()))
          .mapEmpty();
    });
  }
}
