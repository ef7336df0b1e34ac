package dev.allot.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.config.Settings;
import dev.allot.stock.AllotException;
import dev.allot.stock.Catalog;
import dev.allot.stock.Inventory;
import dev.allot.stock.Json;
import dev.allot.stream.StreamHub;
import dev.allot.stream.StreamSocket;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.micrometer.PrometheusScrapingHandler;

import java.io.IOException;
import java.io.InputStream;

/** Operations (API.md, "Operations"), the live page and its demo config, and the stream's WebSocket upgrade. */
final class OpsRoutes {
  private static final Buffer OPENAPI = loadResource("/openapi.yaml");
  private static final Buffer PAGE = loadResource("/web/index.html");

  private final Vertx vertx;
  private final Inventory readiness;
  private final PrometheusMeterRegistry registry;
  private final Buffer demoPage;
  private final StreamHub hub;
  private final Catalog catalog;
  private final Settings.Stream stream;

  /** demoPage: what the live page shows in demo mode (null elsewhere: the page asks for a key). */
  OpsRoutes(Vertx vertx, Inventory readiness, PrometheusMeterRegistry registry, ObjectNode demoPage, StreamHub hub,
            Catalog catalog, Settings.Stream stream) {
    this.vertx = vertx;
    this.readiness = readiness;
    this.registry = registry;
    this.demoPage = demoPage == null ? null : Buffer.buffer(Json.bytes(demoPage));
    this.hub = hub;
    this.catalog = catalog;
    this.stream = stream;
  }

  /** Routes that need no key. */
  void mountOpen(Router router) {
    router.get("/health/live").handler(ctx -> ctx.response().putHeader("content-type", Bodies.JSON).end("{\"status\":\"UP\"}"));
    router.get("/health/ready").handler(this::ready);
    router.get("/metrics").handler(PrometheusScrapingHandler.create(registry));
    router.get("/").handler(ctx -> ctx.response().putHeader("content-type", "text/html; charset=utf-8").end(PAGE));
    router.get("/demo/config.json").handler(this::demoConfig);
    router.get("/openapi.yaml").handler(ctx -> ctx.response().putHeader("content-type", "application/yaml").end(OPENAPI));
  }

  /** The stream upgrades before any body handling; any valid key may watch. */
  void mountStream(Router router, Auth auth) {
    router.get("/v1/stream").handler(auth::authenticate).handler(this::stream);
  }

  private void ready(RoutingContext ctx) {
    readiness.readiness().onSuccess(r -> {
      ObjectNode o = Json.object();
      o.put("status", r.ready() ? "UP" : "DOWN");
      o.put("redis", r.reachable() ? "reachable" : "unreachable");
      o.put("scriptsLoaded", r.scriptsLoaded());
      if (r.evictionPolicy() != null) {
        o.put("maxmemoryPolicy", r.evictionPolicy());
      }
      ctx.response().setStatusCode(r.ready() ? 200 : 503).putHeader("content-type", Bodies.JSON).end(Json.write(o));
    }).onFailure(ctx::fail);
  }

  /** In demo mode only: the demo keys and products for the live page. Elsewhere the page asks for a key. */
  private void demoConfig(RoutingContext ctx) {
    if (demoPage == null) {
      Problems.send(ctx, 404, "not_found", "not in demo mode: the page asks for a key instead");
      return;
    }
    ctx.response().putHeader("content-type", Bodies.JSON).putHeader("cache-control", "no-store").end(demoPage);
  }

  private void stream(RoutingContext ctx) {
    if (!ctx.request().canUpgradeToWebSocket()) {
      throw AllotException.badField("websocket_required", null, "GET /v1/stream upgrades to a WebSocket");
    }
    String key = Auth.key(ctx);
    if (!hub.admit(key, stream.maxSocketsPerKey())) {
      Problems.send(ctx, 429, "too_many_connections", "this key holds " + stream.maxSocketsPerKey()
          + " stream sockets on this instance already (ALLOT_STREAM_MAX_SOCKETS_PER_KEY): close one first");
      return;
    }
    ctx.request().toWebSocket()
        .onSuccess(ws -> StreamSocket.open(vertx, ws, hub, catalog, stream, key))
        .onFailure(err -> {
          hub.release(key);
          ctx.fail(err);
        });
  }

  private static Buffer loadResource(String path) {
    try (InputStream in = OpsRoutes.class.getResourceAsStream(path)) {
      if (in == null) {
        throw new IllegalStateException("resource " + path + " is missing from the jar");
      }
      return Buffer.buffer(in.readAllBytes());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
