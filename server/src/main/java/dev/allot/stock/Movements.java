package dev.allot.stock;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.config.Settings;
import dev.allot.store.Store;
import dev.allot.store.Store.MovementResult;
import dev.allot.store.Store.MovementStatus;
import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Back-office stock movements. Each is applied atomically and exactly once by its id (a claim
 * on the id across SKUs, then the SKU's own script, which remembers the id and its outcome);
 * a batch is not atomic as a whole, and answers in input order.
 */
public final class Movements {
  public static final Set<String> TYPES = Set.of("receive", "adjust", "count", "return", "inspect_pass",
      "inspect_fail");
  public static final int MAX_BATCH = 1000;
  /** Entries the drift report keeps (newest first). */
  public static final int DRIFT_MAX = 10_000;

  public record Movement(String id, String sku, String location, String type, long qty, String reason) {
    String fingerprint() {
      return Json.fingerprint("v1|" + sku + "|" + location + "|" + type + "|" + qty + "|" + (reason == null ? "" : reason));
    }
  }

  private final Store store;
  private final Catalog catalog;
  private final Settings.Stock settings;
  private final Metrics metrics;
  private final DriftReport drift;
  private final LongSupplier clock;

  public Movements(Store store, Catalog catalog, Settings.Stock settings, Metrics metrics, LongSupplier clock) {
    this.store = store;
    this.catalog = catalog;
    this.settings = settings;
    this.metrics = metrics;
    this.drift = new DriftReport(store, metrics);
    this.clock = clock;
  }

  public Future<ObjectNode> apply(List<Movement> batch) {
    List<Future<ObjectNode>> results = new ArrayList<>(batch.size());
    for (Movement m : batch) {
      results.add(applyOne(m));
    }
    return Future.all(results).map(cf -> {
      ObjectNode out = Json.object();
      ArrayNode arr = out.putArray("results");
      results.forEach(f -> arr.add(f.result()));
      return out;
    });
  }

  private Future<ObjectNode> applyOne(Movement m) {
    String fp = m.fingerprint();
    return catalog.location(m.location()).compose(loc -> {
      if (loc.isEmpty()) {
        return Future.succeededFuture(rejected(m, "unknown_location"));
      }
      if (catalog.bundle(m.sku()) != null) {
        return Future.succeededFuture(rejected(m, "bundle_has_no_stock"));
      }
      return store.claimMovement(m.id(), fp, settings.movementRetentionSeconds()).compose(free -> {
        if (!free) {
          return Future.succeededFuture(rejected(m, "idempotency_conflict"));
        }
        long now = clock.getAsLong();
        return store.movement(m.id(), fp, m.type(), m.sku(), m.location(), m.qty(), now,
            settings.movementRetentionSeconds() * 1000L).compose(r -> {
              if (r.status() != MovementStatus.APPLIED || !m.type().equals("count") || r.drift() == 0) {
                return Future.succeededFuture(result(m, r));
              }
              // A count that disagrees with the books: reported, never hidden (drift report, metric, result).
              return drift.count(now, m.sku(), m.location(), m.id(), m.qty(), r.drift(), r.shortfall(), m.reason())
                  .map(v -> result(m, r));
            });
      });
    });
  }

  private ObjectNode result(Movement m, MovementResult r) {
    if (r.status() == MovementStatus.CONFLICT || r.status() == MovementStatus.REJECTED) {
      return rejected(m, r.rejectCode());
    }
    String status = r.status() == MovementStatus.APPLIED ? "applied" : "duplicate";
    metrics.movement(status);
    ObjectNode o = Json.object();
    o.put("id", m.id());
    o.put("status", status);
    o.put("sku", m.sku());
    o.put("location", m.location());
    o.put("onHand", r.onHand());
    o.put("available", r.available());
    o.put("version", r.version());
    o.put("quarantine", r.quarantine());
    if (m.type().equals("count")) {
      o.put("drift", r.drift());
    }
    if (r.shortfall() > 0) {
      o.put("shortfall", r.shortfall());
    }
    return o;
  }

  private ObjectNode rejected(Movement m, String code) {
    metrics.movement("rejected");
    ObjectNode o = Json.object();
    o.put("id", m.id());
    o.put("status", "rejected");
    o.put("code", code);
    o.put("sku", m.sku());
    o.put("location", m.location());
    return o;
  }
}
