package dev.allot.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.outbound.Webhooks;
import dev.allot.stock.Json;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import static dev.allot.http.Auth.caller;
import static dev.allot.http.Bodies.queryInt;
import static dev.allot.http.Bodies.respond;

/**
 * Outbound, the push side (API.md, "Push: webhooks", "Sync health"): endpoints, their delivery log,
 * redelivery, and GET /v1/sync. Admin only.
 */
final class WebhookRoutes {
  private final Webhooks webhooks;
  private final long syncStaleSeconds;

  WebhookRoutes(Webhooks webhooks, long syncStaleSeconds) {
    this.webhooks = webhooks;
    this.syncStaleSeconds = syncStaleSeconds;
  }

  void mount(Router router) {
    router.get("/v1/webhooks").handler(ctx -> {
      caller(ctx).requireAdmin();
      respond(ctx, 200, webhooks.list());
    });
    router.put("/v1/webhooks/:id").handler(this::put);
    router.get("/v1/sync").handler(ctx -> {
      caller(ctx).requireAdmin();
      respond(ctx, 200, webhooks.sync(syncStaleSeconds));
    });
    router.get("/v1/webhooks/:id").handler(ctx -> {
      caller(ctx).requireAdmin();
      respond(ctx, 200, webhooks.document(ctx.pathParam("id")));
    });
    router.delete("/v1/webhooks/:id").handler(ctx -> {
      caller(ctx).requireAdmin();
      webhooks.delete(ctx.pathParam("id")).onSuccess(v -> ctx.response().setStatusCode(204).end())
          .onFailure(ctx::fail);
    });
    router.get("/v1/webhooks/:id/deliveries").handler(ctx -> {
      caller(ctx).requireAdmin();
      String state = ctx.request().getParam("state");
      int limit = queryInt(ctx, "limit", 100, 1, 1000);
      respond(ctx, 200, webhooks.deliveries(ctx.pathParam("id"), state == null || state.isBlank() ? null : state.trim(),
          limit));
    });
    router.post("/v1/webhooks/:id/redeliver").handler(ctx -> {
      caller(ctx).requireAdmin();
      JsonNode body = Bodies.object(ctx, false);
      respond(ctx, 202, webhooks.redeliver(ctx.pathParam("id"), body));
    });
  }

  private void put(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    JsonNode body = Bodies.object(ctx, false);
    webhooks.put(ctx.pathParam("id"), body).onSuccess(p -> ctx.response().setStatusCode(200)
            .putHeader("content-type", Bodies.JSON).end(Json.write(p.body())))
        .onFailure(ctx::fail);
  }
}
