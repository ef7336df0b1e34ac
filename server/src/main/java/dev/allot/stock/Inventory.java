package dev.allot.stock;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.store.RecordStore;
import dev.allot.store.RedisSettings;
import dev.allot.store.Store;
import dev.allot.store.Store.LocationCounts;
import dev.allot.store.Store.StockView;
import io.vertx.core.Future;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The read side: what a SKU, a channel's availability, a ledger, the drift list and the
 * reservation counters answer (API.md, "Reads"). Every number goes through {@link Availability}.
 */
public final class Inventory {
  private final Store store;
  private final RecordStore records;
  private final Catalog catalog;

  public Inventory(Store store, RecordStore records, Catalog catalog) {
    this.store = store;
    this.records = records;
    this.catalog = catalog;
  }

  /**
   * GET /health/ready: whether the store answered at all, whether it is ready (it answered PONG and
   * holds the scripts), and whether the scripts are loaded.
   */
  /** evictionPolicy: Redis's maxmemory-policy (null when Redis did not answer); only noeviction is ready. */
  public record Readiness(boolean reachable, boolean ready, boolean scriptsLoaded, String evictionPolicy) {
  }

  public Future<Readiness> readiness() {
    return store.redis().ping().transform(ar -> {
      boolean loaded = store.redis().scriptsLoaded();
      if (ar.failed() || !ar.result()) {
        return Future.succeededFuture(new Readiness(false, false, loaded, null));
      }
      return RedisSettings.evictionPolicy(store.redis()).transform(p -> {
        String policy = p.succeeded() ? p.result() : null;
        boolean safe = RedisSettings.SAFE_POLICY.equals(policy);
        return Future.succeededFuture(new Readiness(true, loaded && safe, loaded, policy));
      });
    });
  }

  /** Sets (or, with null, removes) the per-customer limit of a SKU (PUT /v1/skus/{sku}/policy). */
  public Future<Void> setCustomerLimit(String sku, Long limit) {
    return store.setCustomerLimit(sku, limit);
  }

  /** Whether stock was ever recorded for the SKU (a bundle has none of its own). */
  public Future<Boolean> stockExists(String sku) {
    return store.readStock(sku).map(StockView::exists);
  }

  /**
   * GET /v1/skus/{sku}: {@code code} as asked, resolved through the caller's channel aliases
   * ({@code callerChannel} null for keys of no channel).
   */
  public Future<ObjectNode> sku(String code, String callerChannel) {
    String sku = catalog.resolve(callerChannel, code);
    Bundle bundle = catalog.bundle(sku);
    if (bundle != null) {
      return bundleView(bundle, code);
    }
    return store.readStock(sku).map(view -> {
      if (!view.exists()) {
        throw AllotException.notFound("unknown_sku", "no stock has ever been recorded for SKU '" + sku + "'");
      }
      ObjectNode o = Json.object();
      o.put("sku", sku);
      if (!sku.equals(code)) {
        o.put("alias", code);
      }
      o.put("version", view.version());
      ObjectNode locs = Json.object();
      for (Map.Entry<String, LocationCounts> e : view.locations().entrySet()) {
        LocationCounts c = e.getValue();
        ObjectNode l = locs.putObject(e.getKey()).put("onHand", c.onHand()).put("reserved", c.reserved())
            .put("committed", c.committed()).put("quarantine", c.quarantine()).put("available", Availability.atLocation(c));
        if (c.allocatedUnused() > 0) {
          l.put("allocatedUnused", c.allocatedUnused());
        }
      }
      o.put("available", Availability.total(view));
      if (view.backordered() > 0) {
        o.put("backordered", view.backordered());
      }
      if (view.limitPerCustomer() != null) {
        o.putObject("policy").put("limitPerCustomer", view.limitPerCustomer());
      }
      o.set("locations", locs);
      ObjectNode chans = o.putObject("channels");
      for (Channel c : catalog.channels()) {
        chans.put(c.id(), Availability.channel(view, c));
      }
      if (!view.allocations().isEmpty()) {
        ObjectNode allocs = o.putObject("allocations");
        view.allocations().forEach((ch, a) -> allocs.putObject(ch).put("location", a.location())
            .put("allocated", a.allocated()).put("allocationUsed", a.used()));
      }
      return o;
    });
  }

  /** A bundle read: no stock of its own; what its components make, in total and per channel. */
  private Future<ObjectNode> bundleView(Bundle b, String code) {
    List<String> comps = b.components().stream().map(Bundle.Component::sku).toList();
    return store.readStocks(comps).map(views -> {
      ObjectNode o = Json.object();
      o.put("sku", b.sku());
      if (!b.sku().equals(code)) {
        o.put("alias", code);
      }
      o.put("bundle", true);
      long version = 0;
      long[] total = new long[comps.size()];
      ArrayNode arr = o.putArray("components");
      for (int i = 0; i < comps.size(); i++) {
        StockView v = views.get(i);
        version += v.version();
        total[i] = Availability.total(v);
        arr.addObject().put("sku", comps.get(i)).put("qty", b.components().get(i).qty()).put("available", total[i]);
      }
      o.put("version", version);
      o.put("available", Availability.bundle(b, total));
      ObjectNode chans = o.putObject("channels");
      for (Channel c : catalog.channels()) {
        long[] avail = new long[comps.size()];
        for (int i = 0; i < comps.size(); i++) {
          avail[i] = Availability.channel(views.get(i), c);
        }
        chans.put(c.id(), Availability.bundle(b, avail));
      }
      return o;
    });
  }

  /** GET /v1/availability: each code (deduplicated, in order) as the channel sees it. */
  public Future<ObjectNode> availability(String channelId, List<String> codes) {
    return catalog.channel(channelId).compose(found -> {
      Channel c = found.orElseThrow(() -> new AllotException(AllotException.Kind.NOT_FOUND, "unknown_channel",
          "channel '" + channelId + "' does not exist", "channel", null, null));
      List<String> skus = codes.stream().map(code -> catalog.resolve(c.id(), code)).toList();
      // One pipelined read of every stock SKU involved (a bundle's components instead of the bundle).
      List<String> reads = new ArrayList<>(new LinkedHashSet<>(skus.stream().flatMap(sku -> {
        Bundle b = catalog.bundle(sku);
        return b == null ? Stream.of(sku) : b.components().stream().map(Bundle.Component::sku);
      }).toList()));
      return store.readStocks(reads).map(views -> {
        Map<String, StockView> bySku = new HashMap<>();
        for (int i = 0; i < reads.size(); i++) {
          bySku.put(reads.get(i), views.get(i));
        }
        ObjectNode o = Json.object();
        o.put("channel", c.id());
        ArrayNode items = o.putArray("items");
        for (int i = 0; i < skus.size(); i++) {
          String sku = skus.get(i);
          ObjectNode item = items.addObject().put("sku", sku);
          if (!sku.equals(codes.get(i))) {
            item.put("alias", codes.get(i));
          }
          Bundle b = catalog.bundle(sku);
          if (b == null) {
            StockView v = bySku.get(sku);
            item.put("available", Availability.channel(v, c)).put("version", v.version());
          } else {
            long[] avail = new long[b.components().size()];
            long version = 0;
            for (int k = 0; k < avail.length; k++) {
              StockView v = bySku.get(b.components().get(k).sku());
              avail[k] = Availability.channel(v, c);
              version += v.version();
            }
            item.put("available", Availability.bundle(b, avail)).put("version", version);
          }
        }
        return o;
      });
    });
  }

  /** The SKU's ledger, newest first: every change with its cause and the location's numbers after it. */
  public Future<ObjectNode> ledger(String sku, int limit) {
    return store.ledger(sku, limit).map(entries -> {
      ObjectNode o = Json.object();
      o.put("sku", sku);
      ArrayNode arr = o.putArray("entries");
      for (String e : entries) {
        ObjectNode entry = (ObjectNode) Json.read(e);
        entry.put("at", Instant.ofEpochMilli(entry.path("at").asLong()).toString());
        for (ObjectNode one : expand(entry)) {
          if (arr.size() < limit) {
            arr.add(one);
          }
        }
      }
      return o;
    });
  }

  /**
   * A stored ledger entry as the entries it stands for, newest first. A group commit's changes of one
   * kind at one location (its holds, or its commits, or its releases of held units) are stored as one
   * entry (lua/README.md, the ledger): the numbers after the last change, and "holds":
   * "ref=qty[:fromAllocation],..." in order, with consecutive seqs ending at its seq. Each change's
   * numbers are worked back from the quantities of the changes after it: a hold adds to "reserved",
   * a commit moves units from "reserved" to "committed", a release or an expiry takes them off
   * "reserved".
   */
  public static List<ObjectNode> expand(ObjectNode entry) {
    JsonNode holds = entry.get("holds");
    if (holds == null || !holds.isTextual()) {
      return List.of(entry);
    }
    String type = entry.path("type").asText();
    // Per unit of a change: what it added to reserved and to committed.
    int toReserved;
    int toCommitted = 0;
    switch (type) {
      case "hold" -> toReserved = 1;
      case "commit" -> {
        toReserved = -1;
        toCommitted = 1;
      }
      case "release", "expire", "cancel", "reject", "abort" -> toReserved = -1;
      default -> {
        // A kind this version does not write compact (a newer server's): shown as stored.
        return List.of(entry);
      }
    }
    String[] parts = holds.asText().split(",");
    List<ObjectNode> out = new ArrayList<>(parts.length);
    long seq = entry.path("seq").asLong();
    long reserved = entry.path("reserved").asLong();
    long committed = entry.path("committed").asLong();
    for (int i = parts.length - 1; i >= 0; i--) {
      String part = parts[i];
      int eq = part.lastIndexOf('=');
      int colon = part.indexOf(':', eq);
      long qty = Long.parseLong(colon < 0 ? part.substring(eq + 1) : part.substring(eq + 1, colon));
      ObjectNode one = entry.deepCopy();
      one.remove("holds");
      one.put("seq", seq);
      one.put("ref", part.substring(0, eq));
      one.put("reserved", reserved);
      one.put("committed", committed);
      if (colon >= 0) {
        one.put("fromAllocation", Long.parseLong(part.substring(colon + 1)));
      }
      out.add(one);
      seq--;
      reserved -= toReserved * qty;
      committed -= toCommitted * qty;
    }
    return out;
  }

  /** Counts whose drift was not zero, newest first. */
  public Future<ObjectNode> drift(int limit) {
    return store.drift(limit).map(entries -> {
      ObjectNode o = Json.object();
      ArrayNode arr = o.putArray("counts");
      entries.forEach(e -> arr.add(Json.read(e)));
      return o;
    });
  }

  /** Reservation counters for the operator panel (summed over every instance: they live in Redis). */
  public Future<ObjectNode> stats() {
    return records.stats().map(m -> {
      ObjectNode o = Json.object();
      o.put("reservationsCreated", m.get("created"));
      o.put("holdsOutstanding", m.get("held"));
      o.put("commits", m.get("committed"));
      o.put("expiries", m.get("expired"));
      o.put("at", Instant.now().toString());
      return o;
    });
  }
}
