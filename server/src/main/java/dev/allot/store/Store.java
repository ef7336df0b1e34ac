package dev.allot.store;

import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Typed calls of the Lua scripts and the few plain commands the server needs. The only code that
 * knows key names (through {@link Keys}), script names and their numeric return codes.
 */
public final class Store {
  private final RedisStore redis;
  private final String ledgerMax;

  public Store(RedisStore redis, int ledgerMaxEntries) {
    this.redis = redis;
    this.ledgerMax = Integer.toString(ledgerMaxEntries);
  }

  public RedisStore redis() {
    return redis;
  }

  // ---- per-SKU stock scripts -------------------------------------------------------------

  public record Allocation(String location, long qty) {
  }

  public enum HoldStatus { HELD, INSUFFICIENT, REPLAY, CUSTOMER_LIMIT }

  /**
   * What reserve_line answered. {@code available} is the channel's availability after a hold, or
   * what it has on a refusal; for CUSTOMER_LIMIT it is how many more units the customer may take.
   */
  public record LineHold(HoldStatus status, long version, long available, long backordered,
                         List<Allocation> allocations) {
  }

  /** customer: null for none; backorder: hold what the shelf has and record the rest as backordered. */
  public Future<LineHold> reserveLine(String sku, String reservationId, long qty, long now, long deadline,
                                      long buffer, String channel, List<String> locations, String customer,
                                      boolean backorder) {
    List<String> args = skuArgs(sku, now, locations.size(), reservationId, Long.toString(qty), Long.toString(deadline),
        Long.toString(buffer), channel, customer == null ? "" : customer, backorder ? "1" : "0");
    args.addAll(locations);
    return redis.eval(Script.RESERVE_LINE, skuKeys(sku), args).map(r -> {
      int code = r.get(0).toInteger();
      HoldStatus status = switch (code) {
        case 1 -> HoldStatus.HELD;
        case 2 -> HoldStatus.REPLAY;
        case 3 -> HoldStatus.CUSTOMER_LIMIT;
        default -> HoldStatus.INSUFFICIENT;
      };
      if (code == 0 || code == 3) {
        return new LineHold(status, r.get(1).toLong(), r.get(2).toLong(), 0, List.of());
      }
      List<Allocation> allocations = new ArrayList<>();
      for (int i = 4; i + 1 < r.size(); i += 2) {
        allocations.add(new Allocation(r.get(i).toString(), r.get(i + 1).toLong()));
      }
      return new LineHold(status, r.get(1).toLong(), r.get(2).toLong(), r.get(3).toLong(), List.copyOf(allocations));
    });
  }

  /**
   * Result of commit_line, release_line, extend_line, ship_line: the script's code and the SKU's
   * version; for a ship, each location whose onHand had fewer units than it shipped.
   */
  public record LineChange(int code, long version, List<ShipShortfall> shortfalls) {
    public boolean changed() {
      return code == 1;
    }
  }

  /** A ship took {@code units} from a location whose onHand had {@code shortfall} fewer: onHand stopped at 0. */
  public record ShipShortfall(String location, long units, long shortfall) {
  }

  public Future<LineChange> commitLine(String sku, String reservationId, long now) {
    return lineScript(Script.COMMIT_LINE, sku, skuArgs(sku, now, reservationId));
  }

  /** why: what the ledger records as the cause (release, expire, cancel, reject, abort). */
  public Future<LineChange> releaseLine(String sku, String reservationId, long now, String why) {
    return lineScript(Script.RELEASE_LINE, sku, skuArgs(sku, now, reservationId, why));
  }

  public Future<LineChange> releaseLine(String sku, String reservationId, long now) {
    return releaseLine(sku, reservationId, now, "release");
  }

  public Future<LineChange> extendLine(String sku, String reservationId, long now, long deadline) {
    return lineScript(Script.EXTEND_LINE, sku, skuArgs(sku, now, reservationId, Long.toString(deadline)));
  }

  public Future<LineChange> shipLine(String sku, String reservationId, long now) {
    return lineScript(Script.SHIP_LINE, sku, skuArgs(sku, now, reservationId));
  }

  /** A per-SKU script's keys: the five every one takes, then its outbox (lua/include/stock_prelude.lua). */
  private List<String> skuKeys(String sku) {
    List<String> keys = new ArrayList<>(6);
    keys.addAll(Keys.skuKeys(sku));
    keys.add(Keys.outbox(sku, redis.cluster()));
    return keys;
  }

  private Future<LineChange> lineScript(Script script, String sku, List<String> args) {
    return redis.eval(script, skuKeys(sku), args)
        .map(r -> {
          List<ShipShortfall> missing = List.of();
          if (r.size() > 2) {
            missing = new ArrayList<>((r.size() - 2) / 3);
            for (int i = 2; i + 2 < r.size(); i += 3) {
              missing.add(new ShipShortfall(r.get(i).toString(), r.get(i + 1).toLong(), r.get(i + 2).toLong()));
            }
          }
          return new LineChange(r.get(0).toInteger(), r.get(1).toLong(), missing);
        });
  }

  /**
   * The ARGV of a per-SKU script: the prefix every one of them takes (lua/include/stock_prelude.lua),
   * now_ms, the ledger's maximum length and the SKU's event channel, then the script's own.
   */
  private List<String> skuArgs(String sku, long now, String... own) {
    return skuArgs(sku, now, 0, own);
  }

  /** room: how many more arguments the caller appends (sized once, never regrown). */
  private List<String> skuArgs(String sku, long now, int room, String... own) {
    List<String> args = new ArrayList<>(3 + own.length + room);
    args.add(Long.toString(now));
    args.add(ledgerMax);
    args.add(Keys.events(sku));
    Collections.addAll(args, own);
    return args;
  }

  // ---- movements ----------------------------------------------------------------------------

  public enum MovementStatus { APPLIED, DUPLICATE, CONFLICT, REJECTED }

  public record MovementResult(MovementStatus status, String rejectCode, long onHand, long available,
                               long version, long shortfall, long drift, long quarantine) {
  }

  /** Claims a movement id for one fingerprint: true when it is free or already ours. */
  public Future<Boolean> claimMovement(String movementId, String fingerprint, long retentionSeconds) {
    String key = Keys.movementClaim(movementId);
    return redis.send(Request.cmd(Command.SET).arg(key).arg(fingerprint).arg("NX").arg("EX").arg(retentionSeconds))
        .compose(r -> r != null ? Future.succeededFuture(true)
            : redis.send(Command.GET, key).map(existing -> existing == null || fingerprint.equals(existing.toString())));
  }

  public Future<MovementResult> movement(String movementId, String fingerprint, String type, String sku,
                                         String location, long qty, long now, long retentionMillis) {
    List<String> keys = List.of(Keys.stock(sku), Keys.holds(sku), Keys.expiry(sku), Keys.ledger(sku),
        Keys.customers(sku), Keys.moves(sku), Keys.moveTimes(sku), Keys.outbox(sku, redis.cluster()));
    List<String> args = skuArgs(sku, now, movementId, fingerprint, type, location, Long.toString(qty),
        Long.toString(retentionMillis));
    return redis.eval(Script.MOVEMENT, keys, args).map(r -> {
      int code = r.get(0).toInteger();
      return switch (code) {
        case 1, 2 -> new MovementResult(code == 1 ? MovementStatus.APPLIED : MovementStatus.DUPLICATE, null,
            r.get(1).toLong(), r.get(2).toLong(), r.get(3).toLong(), r.get(4).toLong(), r.get(5).toLong(),
            r.get(6).toLong());
        case 3 -> new MovementResult(MovementStatus.CONFLICT, "idempotency_conflict", 0, 0, 0, 0, 0, 0);
        default -> new MovementResult(MovementStatus.REJECTED, r.get(1).toString(), 0, 0, 0, 0, 0, 0);
      };
    });
  }

  // ---- allocations ---------------------------------------------------------------------------

  /**
   * What allocate.lua answered. SET: the allocation now; INSUFFICIENT: {@code free} units at the location;
   * ELSEWHERE: the channel's allocation of this SKU is at {@code location}; IN_USE: lowering below the
   * {@code used} units was refused.
   */
  public record AllocationResult(AllocationStatus status, long allocated, long used, long version, long free,
                                 String location) {
  }

  public enum AllocationStatus { SET, INSUFFICIENT, ELSEWHERE, IN_USE }

  /** Sets the channel's allocation of a SKU at a location to {@code units} (0 removes it). */
  public Future<AllocationResult> allocate(String sku, String channel, String location, long units, long now) {
    return redis.eval(Script.ALLOCATE, skuKeys(sku), skuArgs(sku, now, channel, location, Long.toString(units)))
        .map(r -> switch (r.get(0).toInteger()) {
          case 1 -> new AllocationResult(AllocationStatus.SET, r.get(1).toLong(), r.get(2).toLong(), r.get(3).toLong(),
              0, location);
          case 3 -> new AllocationResult(AllocationStatus.ELSEWHERE, 0, 0, 0, 0, r.get(1).toString());
          case 4 -> new AllocationResult(AllocationStatus.IN_USE, 0, r.get(1).toLong(), 0, 0, location);
          default -> new AllocationResult(AllocationStatus.INSUFFICIENT, 0, 0, 0, r.get(1).toLong(), location);
        });
  }

  // ---- stock reads --------------------------------------------------------------------------

  /**
   * One location's counts, as stored. {@code allocatedUnused}: the units set aside there for channels
   * and not used yet (allocations). What is available of them is stock.Availability's rule.
   */
  public record LocationCounts(long onHand, long reserved, long committed, long quarantine, long allocatedUnused) {
    public LocationCounts(long onHand, long reserved, long committed, long quarantine) {
      this(onHand, reserved, committed, quarantine, 0);
    }
  }

  /** A channel's allocation of a SKU: units of one location set aside for it, and how many it uses. */
  public record ChannelAllocation(String location, long allocated, long used) {
  }

  /**
   * A SKU's counts per location; {@code exists} is false for a SKU Redis has never seen.
   * {@code limitPerCustomer} is null without a policy; {@code backordered} counts units promised past the shelf.
   */
  public record StockView(boolean exists, long version, Map<String, LocationCounts> locations, Long limitPerCustomer,
                          long backordered, Map<String, ChannelAllocation> allocations) {
    public StockView(boolean exists, long version, Map<String, LocationCounts> locations, Long limitPerCustomer,
                     long backordered) {
      this(exists, version, locations, limitPerCustomer, backordered, Map.of());
    }
  }

  public Future<StockView> readStock(String sku) {
    return redis.send(Command.HGETALL, Keys.stock(sku)).map(Store::parseStock);
  }

  /** Several SKUs' counts in one pipelined round trip, in the order asked. */
  public Future<List<StockView>> readStocks(List<String> skus) {
    List<Request> reqs = new ArrayList<>(skus.size());
    skus.forEach(sku -> reqs.add(Request.cmd(Command.HGETALL).arg(Keys.stock(sku))));
    return redis.pipeline(reqs).map(rs -> rs.stream().map(Store::parseStock).toList());
  }

  static StockView parseStock(Response r) {
    if (r == null || r.size() == 0) {
      return new StockView(false, 0, Map.of(), null, 0);
    }
    long version = 0;
    Long limit = null;
    long backordered = 0;
    Map<String, long[]> raw = new TreeMap<>();
    Map<String, ChannelAllocation> allocations = new TreeMap<>();
    for (String field : r.getKeys()) {
      if (field.equals("pub")) {
        // The availability the SKU's last outbox entry carried (lua/include/stock_prelude.lua): not a count.
        continue;
      }
      if (field.startsWith("alloc:")) {
        // A channel's allocation: "<loc>|<allocated>|<used>" (lua/allocate.lua).
        String[] p = r.get(field).toString().split("\\|");
        if (p.length == 3) {
          allocations.put(field.substring("alloc:".length()), new ChannelAllocation(p[0], Long.parseLong(p[1]),
              Long.parseLong(p[2])));
        }
        continue;
      }
      long value = r.get(field).toLong();
      if (field.equals("ver")) {
        version = value;
        continue;
      }
      if (field.equals("limit")) {
        limit = value;
        continue;
      }
      if (field.equals("backordered")) {
        backordered = value;
        continue;
      }
      int bar = field.lastIndexOf('|');
      if (bar <= 0) {
        continue;
      }
      long[] c = raw.computeIfAbsent(field.substring(0, bar), k -> new long[5]);
      switch (field.substring(bar + 1)) {
        case "on" -> c[0] = value;
        case "res" -> c[1] = value;
        case "com" -> c[2] = value;
        case "q" -> c[3] = value;
        case "ar" -> c[4] = value;
        default -> { }
      }
    }
    Map<String, LocationCounts> locs = new LinkedHashMap<>();
    raw.forEach((k, c) -> locs.put(k, new LocationCounts(c[0], c[1], c[2], c[3], c[4])));
    return new StockView(true, version, locs, limit, backordered, Map.copyOf(allocations));
  }

  /** The newest {@code limit} ledger entries of a SKU, as the scripts wrote them (JSON). */
  public Future<List<String>> ledger(String sku, int limit) {
    return redis.send(Command.LRANGE, Keys.ledger(sku), 0, limit - 1).map(r -> {
      List<String> out = new ArrayList<>(r == null ? 0 : r.size());
      if (r != null) {
        r.forEach(x -> out.add(x.toString()));
      }
      return out;
    });
  }

  /** Sets (or, with null, removes) the per-customer limit of a SKU; the SKU's stock hash holds it. */
  public Future<Void> setCustomerLimit(String sku, Long limit) {
    return (limit == null ? redis.send(Command.HDEL, Keys.stock(sku), "limit")
        : redis.send(Command.HSET, Keys.stock(sku), "limit", limit)).mapEmpty();
  }

  /** Records a count that drifted (bounded list, newest first). */
  public Future<Void> recordDrift(String json, int max) {
    return redis.pipeline(List.of(Request.cmd(Command.LPUSH).arg(Keys.DRIFT).arg(json),
        Request.cmd(Command.LTRIM).arg(Keys.DRIFT).arg(0).arg(max - 1))).mapEmpty();
  }

  public Future<List<String>> drift(int limit) {
    return redis.send(Command.LRANGE, Keys.DRIFT, 0, limit - 1).map(r -> {
      List<String> out = new ArrayList<>();
      if (r != null) {
        r.forEach(x -> out.add(x.toString()));
      }
      return out;
    });
  }

  // ---- configuration --------------------------------------------------------------------------

  public Future<Void> putConfig(String hash, String id, String json) {
    return redis.send(Command.HSET, hash, id, json).mapEmpty();
  }

  public Future<Map<String, String>> readConfig(String hash) {
    return redis.send(Command.HGETALL, hash).map(r -> {
      Map<String, String> out = new TreeMap<>();
      if (r != null) {
        for (String k : r.getKeys()) {
          out.put(k, r.get(k).toString());
        }
      }
      return out;
    });
  }
}
