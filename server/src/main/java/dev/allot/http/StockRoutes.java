package dev.allot.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.stock.AllotException;
import dev.allot.stock.Allocations;
import dev.allot.stock.Inventory;
import dev.allot.stock.Movements;
import dev.allot.stock.Validate;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

import static dev.allot.http.Auth.caller;
import static dev.allot.http.Bodies.queryInt;
import static dev.allot.http.Bodies.requiredLong;
import static dev.allot.http.Bodies.respond;
import static dev.allot.http.Bodies.text;

/**
 * Stock movements in (API.md, "Stock movements"), allocations ("Allocations") and the reads out
 * ("Reads"), plus the operator panel's counters.
 */
final class StockRoutes {
  private final Movements movements;
  private final Inventory inventory;
  private final Allocations allocations;

  StockRoutes(Movements movements, Inventory inventory, Allocations allocations) {
    this.movements = movements;
    this.inventory = inventory;
    this.allocations = allocations;
  }

  void mount(Router router) {
    router.post("/v1/movements").handler(this::movements);
    router.get("/v1/skus/:sku").handler(this::getSku);
    router.get("/v1/skus/:sku/ledger").handler(this::ledger);
    router.put("/v1/skus/:sku/allocations/:channel").handler(ctx -> {
      caller(ctx).requireAdmin();
      JsonNode body = Bodies.object(ctx, false);
      respond(ctx, 200, allocations.put(ctx.pathParam("sku"), ctx.pathParam("channel"), text(body, "location"),
          requiredLong(body, "units", "units", 0, Allocations.MAX_UNITS, "invalid_units")));
    });
    router.delete("/v1/skus/:sku/allocations/:channel").handler(ctx -> {
      caller(ctx).requireAdmin();
      allocations.delete(ctx.pathParam("sku"), ctx.pathParam("channel"))
          .onSuccess(v -> ctx.response().setStatusCode(204).end()).onFailure(ctx::fail);
    });
    router.get("/v1/drift").handler(this::drift);
    router.get("/v1/availability").handler(this::availability);
    router.get("/v1/stats").handler(ctx -> respond(ctx, 200, inventory.stats()));
  }

  private void movements(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    JsonNode body = Bodies.object(ctx, false);
    JsonNode arr = body.get("movements");
    if (arr == null || !arr.isArray() || arr.isEmpty()) {
      throw AllotException.badField("invalid_movements", "movements", "movements must be a non-empty list");
    }
    if (arr.size() > Movements.MAX_BATCH) {
      throw AllotException.badField("too_many_movements", "movements",
          "at most " + Movements.MAX_BATCH + " movements a call, got " + arr.size());
    }
    List<Movements.Movement> batch = new ArrayList<>(arr.size());
    for (int i = 0; i < arr.size(); i++) {
      batch.add(movement(arr.get(i), i));
    }
    respond(ctx, 200, movements.apply(batch));
  }

  private static Movements.Movement movement(JsonNode m, int i) {
    String p = "movements[" + i + "].";
    if (!m.isObject()) {
      throw AllotException.badField("invalid_movements", "movements[" + i + "]", "each movement must be an object");
    }
    String id = Validate.clientId(text(m, "id"), p + "id");
    String sku = Validate.sku(text(m, "sku"), p + "sku");
    String loc = Validate.location(text(m, "location"), p + "location");
    String type = text(m, "type");
    if (type == null || !Movements.TYPES.contains(type)) {
      throw AllotException.badField("invalid_type", p + "type", "type must be one of " + Movements.TYPES);
    }
    long qty = requiredLong(m, "qty", p + "qty", -1_000_000_000L, 1_000_000_000L);
    boolean ok = switch (type) {
      case "count" -> qty >= 0;
      case "adjust" -> qty != 0;
      default -> qty > 0; // receive, return, inspect_pass, inspect_fail
    };
    if (!ok) {
      throw AllotException.badField("invalid_quantity", p + "qty", switch (type) {
        case "count" -> "a count needs qty >= 0";
        case "adjust" -> "an adjust needs a non-zero qty";
        default -> "a " + type + " needs qty > 0";
      });
    }
    JsonNode reason = m.get("reason");
    if (reason != null && !reason.isNull() && (!reason.isTextual() || reason.asText().length() > 500)) {
      throw AllotException.badField("invalid_reason", p + "reason", "reason must be a string of at most 500 characters");
    }
    return new Movements.Movement(id, sku, loc, type, qty, reason == null || reason.isNull() ? null : reason.asText());
  }

  private void getSku(RoutingContext ctx) {
    String code = Validate.sku(ctx.pathParam("sku"), "sku");
    // A channel key may use its own codes.
    respond(ctx, 200, inventory.sku(code, caller(ctx).channel()));
  }

  private void ledger(RoutingContext ctx) {
    String sku = Validate.sku(ctx.pathParam("sku"), "sku");
    respond(ctx, 200, inventory.ledger(sku, queryInt(ctx, "limit", 100, 1, 1000)));
  }

  private void drift(RoutingContext ctx) {
    respond(ctx, 200, inventory.drift(queryInt(ctx, "limit", 100, 1, Movements.DRIFT_MAX)));
  }

  private void availability(RoutingContext ctx) {
    String channelId = Validate.channel(ctx.request().getParam("channel"), "channel");
    List<String> raw = ctx.queryParam("sku");
    if (raw.isEmpty()) {
      throw AllotException.badField("invalid_sku", "sku", "name at least one sku");
    }
    if (raw.size() > 500) {
      throw AllotException.badField("too_many_skus", "sku", "at most 500 skus a call, got " + raw.size());
    }
    List<String> codes = new ArrayList<>(new LinkedHashSet<>(raw.stream().map(x -> Validate.sku(x, "sku")).toList()));
    respond(ctx, 200, inventory.availability(channelId, codes));
  }
}
