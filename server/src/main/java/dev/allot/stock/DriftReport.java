package dev.allot.stock;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.store.RecordStore.StockLine;
import dev.allot.store.Store;
import dev.allot.store.Store.LineChange;
import io.vertx.core.Future;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The drift report ({@code GET /v1/drift}): the counts that disagreed with the books, and the ships
 * of units a count had found missing (onHand stopped at 0). Written by the server after the change
 * it reports, not atomically with it (docs/protocol.md, section 11): the change's ledger entry is
 * the record to trust. Each entry also raises its metric.
 */
final class DriftReport {
  private static final System.Logger LOG = System.getLogger(DriftReport.class.getName());
  private final Store store;
  private final Metrics metrics;

  DriftReport(Store store, Metrics metrics) {
    this.store = store;
    this.metrics = metrics;
  }

  /** An applied count whose drift is not 0. */
  Future<Void> count(long now, String sku, String location, String movementId, long counted, long drift,
                     long shortfall, String reason) {
    metrics.drift(drift, shortfall);
    ObjectNode d = entry("count", now, sku, location);
    d.put("movementId", movementId);
    d.put("counted", counted);
    d.put("previousOnHand", counted - drift);
    d.put("drift", drift);
    d.put("shortfall", shortfall);
    if (reason != null) {
      d.put("reason", reason);
    }
    return write(d);
  }

  /** A shipped reservation's lines (ship_line's answers, in line order): one entry per location short. */
  Future<Void> ships(String reservationId, List<StockLine> lines, List<Future<LineChange>> changes, long now) {
    List<Future<Void>> writes = new ArrayList<>();
    for (int i = 0; i < changes.size(); i++) {
      for (Store.ShipShortfall s : changes.get(i).result().shortfalls()) {
        writes.add(ship(now, lines.get(i).sku(), s.location(), reservationId, s.units(), s.shortfall()));
      }
    }
    return writes.isEmpty() ? Future.succeededFuture() : Future.all(writes).mapEmpty();
  }

  /** A ship that took {@code units} from a location whose onHand had {@code shortfall} fewer. */
  private Future<Void> ship(long now, String sku, String location, String reservationId, long units, long shortfall) {
    metrics.shipShortfall(shortfall);
    LOG.log(System.Logger.Level.WARNING, "ship of reservation {0} took {1} unit(s) of {2} at {3} where onHand had "
        + "{4} fewer: onHand stops at 0 (see GET /v1/drift)", reservationId, units, sku, location, shortfall);
    ObjectNode d = entry("ship", now, sku, location);
    d.put("reservationId", reservationId);
    d.put("shipped", units);
    d.put("previousOnHand", units - shortfall);
    d.put("shortfall", shortfall);
    return write(d);
  }

  private static ObjectNode entry(String type, long now, String sku, String location) {
    ObjectNode d = Json.object();
    d.put("type", type);
    d.put("at", Instant.ofEpochMilli(now).toString());
    d.put("sku", sku);
    d.put("location", location);
    return d;
  }

  private Future<Void> write(ObjectNode d) {
    return store.recordDrift(Json.write(d), Movements.DRIFT_MAX);
  }
}
