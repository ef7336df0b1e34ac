package dev.allot.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.stock.AllotException;
import dev.allot.stock.Catalog;
import dev.allot.stock.Reservations;
import dev.allot.stock.Validate;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static dev.allot.http.Auth.caller;
import static dev.allot.http.Bodies.requiredLong;
import static dev.allot.http.Bodies.respondText;

/** Reservations (API.md, "Reservations"): reserve, read, and each transition. */
final class ReservationRoutes {
  private final Reservations reservations;
  private final Catalog catalog;
  private final int defaultTtlSeconds;

  ReservationRoutes(Reservations reservations, Catalog catalog, int defaultTtlSeconds) {
    this.reservations = reservations;
    this.catalog = catalog;
    this.defaultTtlSeconds = defaultTtlSeconds;
  }

  void mount(Router router) {
    router.post("/v1/reservations").handler(this::reserve);
    router.get("/v1/reservations/:id").handler(this::get);
    router.post("/v1/reservations/:id/commit").handler(this::commit);
    router.post("/v1/reservations/:id/release").handler(ctx -> transition(ctx, "release"));
    router.post("/v1/reservations/:id/ship").handler(ctx -> transition(ctx, "ship"));
    router.post("/v1/reservations/:id/cancel").handler(ctx -> transition(ctx, "cancel"));
    router.post("/v1/reservations/:id/extend").handler(this::extend);
  }

  private void reserve(RoutingContext ctx) {
    reserve(Bodies.json(ctx, false), caller(ctx), ctx.response(), ctx::fail);
  }

  /**
   * A reserve call, whichever way it came (the router, or ReserveEndpoint past it): throws the
   * refusals its body earns; {@code fail} gets what the store fails with.
   */
  void reserve(Buffer json, Caller caller, HttpServerResponse response, Handler<Throwable> fail) {
    ReserveBody body = ReserveBody.read(json);
    String id = Validate.clientId(body.id(), "id");
    String channel = Validate.channel(body.channel(), "channel");
    caller.requireChannel(channel);
    int ttl = body.ttl() == null ? defaultTtlSeconds
        : (int) Bodies.inRange(body.ttl(), "ttlSeconds", 1, 86400, "invalid_ttl");
    List<ReserveBody.Line> linesIn = body.lines();
    if (linesIn == null || linesIn.isEmpty() || linesIn.size() > 100) {
      throw AllotException.badField("invalid_lines", "lines", "lines must be a list of 1 to 100 lines");
    }
    List<Reservations.Line> lines = new ArrayList<>(linesIn.size());
    Set<String> seen = linesIn.size() == 1 ? null : new HashSet<>();
    for (int i = 0; i < linesIn.size(); i++) {
      ReserveBody.Line l = linesIn.get(i);
      if (!l.object()) {
        throw AllotException.badField("invalid_lines", "lines[" + i + "]", "each line must be an object");
      }
      String code = Validate.sku(l.sku(), "lines[" + i + "].sku");
      long qty = Bodies.inRange(l.qty(), "lines[" + i + "].qty", 1, 1_000_000, "invalid_quantity");
      String sku = catalog.resolve(channel, code);
      if (seen != null && !seen.add(sku)) {
        throw AllotException.badField("duplicate_line", "lines[" + i + "].sku", "SKU '" + sku + "' appears twice");
      }
      lines.add(new Reservations.Line(sku, qty, sku.equals(code) ? null : code));
    }
    if (!body.customerText() || (body.customer() != null && !Validate.customer(body.customer()))) {
      throw AllotException.badField("invalid_customer", "customer", "customer must match [A-Za-z0-9._:@-]{1,128}");
    }
    String customer = body.customer();
    reservations.reserve(new Reservations.ReserveRequest(id, channel, ttl, List.copyOf(lines), customer))
        .onSuccess(outcome -> {
          if (outcome.held()) {
            response.setStatusCode(201).putHeader(HttpHeaders.CONTENT_TYPE, Bodies.JSON_HEADER).end(outcome.body());
          } else {
            Problems.sendEncoded(response, 409, outcome.body());
          }
        })
        .onFailure(fail);
  }

  private void get(RoutingContext ctx) {
    String id = Validate.clientId(ctx.pathParam("id"), "id");
    respondText(ctx, reservations.get(id, caller(ctx).readScope()));
  }

  private void commit(RoutingContext ctx) {
    String id = Validate.clientId(ctx.pathParam("id"), "id");
    String scope = caller(ctx).reservationScope();
    JsonNode body = Bodies.object(ctx, true);
    JsonNode oid = body.get("orderId");
    if (oid != null && !oid.isNull() && (!oid.isTextual() || oid.asText().isEmpty() || oid.asText().length() > 128)) {
      throw AllotException.badField("invalid_order_id", "orderId", "orderId must be a string of 1 to 128 characters");
    }
    respondText(ctx, reservations.commit(id, oid == null || oid.isNull() ? null : oid.asText(), scope));
  }

  private void transition(RoutingContext ctx, String op) {
    String id = Validate.clientId(ctx.pathParam("id"), "id");
    String scope = caller(ctx).reservationScope();
    Bodies.object(ctx, true);
    respondText(ctx, switch (op) {
      case "release" -> reservations.release(id, scope);
      case "ship" -> reservations.ship(id, scope);
      default -> reservations.cancel(id, scope);
    });
  }

  private void extend(RoutingContext ctx) {
    String id = Validate.clientId(ctx.pathParam("id"), "id");
    String scope = caller(ctx).reservationScope();
    JsonNode body = Bodies.object(ctx, false);
    long ttl = requiredLong(body, "ttlSeconds", "ttlSeconds", 1, 86400, "invalid_ttl");
    respondText(ctx, reservations.extend(id, (int) ttl, scope));
  }
}
