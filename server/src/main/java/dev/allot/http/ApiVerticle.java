package dev.allot.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.Settings;
import dev.allot.stock.AllotException;
import dev.allot.stock.Availability;
import dev.allot.stock.Bundle;
import dev.allot.stock.Catalog;
import dev.allot.stock.Channel;
import dev.allot.stock.Json;
import dev.allot.stock.Location;
import dev.allot.stock.Movements;
import dev.allot.stock.Reservations;
import dev.allot.stock.Validate;
import dev.allot.stream.StreamHub;
import dev.allot.stream.StreamSocket;
import dev.allot.stock.Metrics;
import dev.allot.store.RedisStore;
import dev.allot.store.Store;
import dev.allot.store.Store.StockView;
import dev.allot.store.StoreUnavailableException;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.HttpException;
import io.vertx.micrometer.PrometheusScrapingHandler;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The HTTP API (API.md): parse, validate, authorise, respond. Deployed once per core; every
 * instance shares the stateless services below it.
 */
public final class ApiVerticle extends VerticleBase {
  private static final System.Logger LOG = System.getLogger(ApiVerticle.class.getName());
  public static final long BODY_LIMIT = 1024 * 1024;
  /** A client stream message (subscribe/unsubscribe) larger than this closes the socket with 1009. */
  public static final int STREAM_MESSAGE_LIMIT = 64 * 1024;
  private static final String JSON = "application/json";
  private static final String PROBLEM = "application/problem+json";
  private static final String CALLER = "allot.caller";
  private static final Buffer OPENAPI = loadResource("/openapi.yaml");
  private static final Buffer PAGE = loadResource("/web/index.html");
  private static final java.util.regex.Pattern CUSTOMER = java.util.regex.Pattern.compile("[A-Za-z0-9._:@-]{1,128}");

  /** What every API instance shares: built once in the server, handed to each verticle. */
  public record Services(Settings settings, Store store, Catalog catalog, Metrics metrics, LongSupplier clock,
                         StreamHub hub, PrometheusMeterRegistry registry, boolean demo) {
  }

  private final Services s;
  private HttpServer server;
  /**
   * This verticle's own Redis client, created on its event loop: a request and its Redis round
   * trips then run on one thread, with no hand-off between threads per reply.
   */
  private RedisStore redis;
  private Store store;
  private Reservations reservations;
  private Movements movements;
  private long lastStoreWarning;

  public ApiVerticle(Services services) {
    this.s = services;
  }

  @Override
  public Future<?> start() {
    Settings settings = s.settings();
    redis = RedisStore.create(vertx, settings.redisUrl(), settings.redisCluster(), settings.redisPoolSize(),
        settings.redisTimeoutMillis(), settings.redisWaitReplicas(), settings.redisWaitMillis());
    store = new Store(redis, settings.ledgerMaxEntries());
    reservations = new Reservations(store, s.catalog(), settings, s.metrics(), s.clock());
    movements = new Movements(store, s.catalog(), settings, s.metrics(), s.clock());
    Router router = Router.router(vertx);
    router.route().failureHandler(this::failure);
    router.errorHandler(404, ctx -> problem(ctx, new AllotException(404, "not_found", "no such resource: "
        + ctx.request().method() + " " + ctx.request().path())));
    router.errorHandler(405, ctx -> problem(ctx, new AllotException(405, "method_not_allowed",
        ctx.request().method() + " is not allowed on " + ctx.request().path())));

    router.get("/health/live").handler(ctx -> ctx.response().putHeader("content-type", JSON).end("{\"status\":\"UP\"}"));
    router.get("/health/ready").handler(this::ready);
    router.get("/metrics").handler(PrometheusScrapingHandler.create(s.registry()));
    router.get("/").handler(ctx -> ctx.response().putHeader("content-type", "text/html; charset=utf-8").end(PAGE));
    router.get("/demo/config.json").handler(this::demoConfig);
    router.get("/openapi.yaml").handler(ctx -> ctx.response().putHeader("content-type", "application/yaml").end(OPENAPI));

    // The stream upgrades before any body handling; any valid key may watch.
    router.get("/v1/stream").handler(this::authenticate).handler(this::stream);
    router.route("/v1/*").handler(BodyHandler.create(false).setBodyLimit(BODY_LIMIT)).handler(this::authenticate);
    router.get("/v1/stats").handler(this::stats);
    router.put("/v1/locations/:location").handler(this::putLocation);
    router.get("/v1/locations").handler(this::listLocations);
    router.put("/v1/channels/:channel").handler(this::putChannel);
    router.get("/v1/channels").handler(this::listChannels);
    router.get("/v1/channels/:channel").handler(this::getChannel);
    router.put("/v1/channels/:channel/aliases/:code").handler(this::putAlias);
    router.get("/v1/channels/:channel/aliases").handler(this::listAliases);
    router.put("/v1/bundles/:sku").handler(this::putBundle);
    router.get("/v1/bundles/:sku").handler(this::getBundle);
    router.post("/v1/movements").handler(this::movements);
    router.get("/v1/skus/:sku").handler(this::getSku);
    router.get("/v1/skus/:sku/ledger").handler(this::ledger);
    router.put("/v1/skus/:sku/policy").handler(this::putPolicy);
    router.get("/v1/drift").handler(this::drift);
    router.get("/v1/availability").handler(this::availability);
    router.post("/v1/reservations").handler(this::reserve);
    router.get("/v1/reservations/:id").handler(this::getReservation);
    router.post("/v1/reservations/:id/commit").handler(this::commit);
    router.post("/v1/reservations/:id/release").handler(ctx -> transition(ctx, "release"));
    router.post("/v1/reservations/:id/ship").handler(ctx -> transition(ctx, "ship"));
    router.post("/v1/reservations/:id/cancel").handler(ctx -> transition(ctx, "cancel"));
    router.post("/v1/reservations/:id/extend").handler(this::extend);

    HttpServerOptions options = new HttpServerOptions()
        .setPort(s.settings().httpPort())
        .setHost(s.settings().listenHost())
        .setTcpNoDelay(true)
        // 500 SKUs of up to 64 characters fit in an availability query.
        .setMaxInitialLineLength(64 * 1024)
        .setCompressionSupported(false)
        .setMaxWebSocketFrameSize(STREAM_MESSAGE_LIMIT)
        .setMaxWebSocketMessageSize(STREAM_MESSAGE_LIMIT)
        // A client that does not read cannot answer our close frame: drop its TCP connection after 2 s.
        .setWebSocketClosingTimeout(2);
    server = vertx.createHttpServer(options).requestHandler(router);
    return server.listen();
  }

  @Override
  public Future<?> stop() {
    // Stop accepting, let requests in flight finish (bounded), then close.
    Future<Void> closed = server == null ? Future.succeededFuture() : server.shutdown(10, TimeUnit.SECONDS);
    return closed.eventually(() -> redis.close());
  }

  public int actualPort() {
    return server.actualPort();
  }

  // ---- auth ---------------------------------------------------------------------------------

  private void authenticate(RoutingContext ctx) {
    if (s.settings().authDisabled()) {
      ctx.put(CALLER, Caller.ADMIN);
      ctx.next();
      return;
    }
    String header = ctx.request().getHeader("Authorization");
    String key = null;
    if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      key = header.substring(7).trim();
    } else if (header == null && ctx.request().path().equals("/v1/stream")) {
      // Browsers cannot set headers on a WebSocket: the stream alone takes the key from the query.
      key = ctx.request().getParam("access_token");
    }
    String role = key == null ? null : s.settings().apiKeys().get(key);
    if (role == null) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer");
      problem(ctx, new AllotException(401, "unauthorized", key == null
          ? "an API key is required: Authorization: Bearer <key>" : "unknown API key"));
      return;
    }
    ctx.put(CALLER, new Caller(role));
    ctx.next();
  }

  private static Caller caller(RoutingContext ctx) {
    return ctx.get(CALLER);
  }

  // ---- configuration ------------------------------------------------------------------------

  private void putLocation(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    String id = Validate.location(ctx.pathParam("location"), "location");
    JsonNode body = bodyObject(ctx, true);
    JsonNode name = body.get("name");
    if (name != null && !name.isNull() && (!name.isTextual() || name.asText().length() > 200)) {
      throw AllotException.badField("invalid_name", "name", "name must be a string of at most 200 characters");
    }
    String n = name == null || name.isNull() || name.asText().isBlank() ? id : name.asText().trim();
    respond(ctx, 200, s.catalog().putLocation(new Location(id, n)).map(Catalog::toJson));
  }

  private void listLocations(RoutingContext ctx) {
    ObjectNode o = Json.object();
    ArrayNode arr = o.putArray("locations");
    respond(ctx, 200, s.catalog().refresh().map(v -> {
      s.catalog().locations().forEach(l -> arr.add(Catalog.toJson(l)));
      return o;
    }));
  }

  private void putChannel(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    String id = Validate.channel(ctx.pathParam("channel"), "channel");
    JsonNode body = bodyObject(ctx, false);
    JsonNode locs = body.get("locations");
    if (locs == null || !locs.isArray() || locs.isEmpty() || locs.size() > 64) {
      throw AllotException.badField("invalid_locations", "locations", "locations must be a list of 1 to 64 location ids");
    }
    List<String> locations = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < locs.size(); i++) {
      String field = "locations[" + i + "]";
      String l = Validate.location(locs.get(i).isTextual() ? locs.get(i).asText() : null, field);
      if (!seen.add(l)) {
        throw AllotException.badField("invalid_locations", field, "location '" + l + "' is listed twice");
      }
      locations.add(l);
    }
    long buffer = optionalLong(body, "buffer", 0, 0, 1_000_000_000L, "invalid_buffer");
    JsonNode bo = body.get("backorder");
    if (bo != null && !bo.isNull() && !bo.isBoolean()) {
      throw AllotException.badField("invalid_backorder", "backorder", "backorder must be true or false");
    }
    boolean backorder = bo != null && bo.asBoolean(false);
    respond(ctx, 200, s.catalog().putChannel(new Channel(id, List.copyOf(locations), buffer, backorder))
        .map(Catalog::toJson));
  }

  private void listChannels(RoutingContext ctx) {
    ObjectNode o = Json.object();
    ArrayNode arr = o.putArray("channels");
    respond(ctx, 200, s.catalog().refresh().map(v -> {
      s.catalog().channels().forEach(c -> arr.add(Catalog.toJson(c)));
      return o;
    }));
  }

  private void getChannel(RoutingContext ctx) {
    String id = Validate.channel(ctx.pathParam("channel"), "channel");
    respond(ctx, 200, s.catalog().channel(id).map(c -> Catalog.toJson(c.orElseThrow(() ->
        new AllotException(404, "unknown_channel", "channel '" + id + "' does not exist")))));
  }

  // ---- movements -----------------------------------------------------------------------------

  private void movements(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    JsonNode body = bodyObject(ctx, false);
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
      String p = "movements[" + i + "].";
      JsonNode m = arr.get(i);
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
      batch.add(new Movements.Movement(id, sku, loc, type, qty, reason == null || reason.isNull() ? null : reason.asText()));
    }
    respond(ctx, 200, movements.apply(batch));
  }

  // ---- reads -----------------------------------------------------------------------------------

  private void getSku(RoutingContext ctx) {
    String code = Validate.sku(ctx.pathParam("sku"), "sku");
    String sku = s.catalog().resolve(caller(ctx).channel(), code); // a channel key may use its own codes
    Bundle bundle = s.catalog().bundle(sku);
    if (bundle != null) {
      respond(ctx, 200, bundleView(bundle, code));
      return;
    }
    respond(ctx, 200, store.readStock(sku).map(view -> {
      if (!view.exists()) {
        throw new AllotException(404, "unknown_sku", "no stock has ever been recorded for SKU '" + sku + "'");
      }
      ObjectNode o = Json.object();
      o.put("sku", sku);
      if (!sku.equals(code)) {
        o.put("alias", code);
      }
      o.put("version", view.version());
      long total = 0;
      ObjectNode locs = Json.object();
      for (Map.Entry<String, Store.LocationCounts> e : view.locations().entrySet()) {
        Store.LocationCounts c = e.getValue();
        locs.putObject(e.getKey()).put("onHand", c.onHand()).put("reserved", c.reserved())
            .put("committed", c.committed()).put("quarantine", c.quarantine()).put("available", Availability.atLocation(c));
        total += Availability.atLocation(c);
      }
      o.put("available", total);
      if (view.backordered() > 0) {
        o.put("backordered", view.backordered());
      }
      if (view.limitPerCustomer() != null) {
        o.putObject("policy").put("limitPerCustomer", view.limitPerCustomer());
      }
      o.set("locations", locs);
      ObjectNode chans = o.putObject("channels");
      for (Channel c : s.catalog().channels()) {
        chans.put(c.id(), Availability.channel(view, c));
      }
      return o;
    }));
  }

  /** The SKU's ledger, newest first: every change with its cause and the location's numbers after it. */
  private void ledger(RoutingContext ctx) {
    String sku = Validate.sku(ctx.pathParam("sku"), "sku");
    int limit = queryInt(ctx, "limit", 100, 1, 1000);
    respond(ctx, 200, store.ledger(sku, limit).map(entries -> {
      ObjectNode o = Json.object();
      o.put("sku", sku);
      ArrayNode arr = o.putArray("entries");
      for (String e : entries) {
        ObjectNode entry = (ObjectNode) Json.read(e);
        entry.put("at", java.time.Instant.ofEpochMilli(entry.path("at").asLong()).toString());
        arr.add(entry);
      }
      return o;
    }));
  }

  private void putPolicy(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    String sku = Validate.sku(ctx.pathParam("sku"), "sku");
    if (s.catalog().bundle(sku) != null) {
      throw AllotException.badField("bundle_has_no_stock", "sku", "'" + sku + "' is a bundle: set limits on its"
          + " components, which are what a bundle reservation holds");
    }
    JsonNode body = bodyObject(ctx, false);
    JsonNode limit = body.get("limitPerCustomer");
    Long value = null;
    if (limit != null && !limit.isNull()) {
      value = requiredLong(body, "limitPerCustomer", "limitPerCustomer", 1, 1_000_000, "invalid_limit");
    }
    Long v = value;
    respond(ctx, 200, store.setCustomerLimit(sku, v).map(x -> {
      ObjectNode o = Json.object();
      o.put("sku", sku);
      if (v == null) {
        o.putNull("limitPerCustomer");
      } else {
        o.put("limitPerCustomer", v);
      }
      return o;
    }));
  }

  /** Counts whose drift was not zero, newest first. */
  private void drift(RoutingContext ctx) {
    int limit = queryInt(ctx, "limit", 100, 1, Movements.DRIFT_MAX);
    respond(ctx, 200, store.drift(limit).map(entries -> {
      ObjectNode o = Json.object();
      ArrayNode arr = o.putArray("counts");
      entries.forEach(e -> arr.add(Json.read(e)));
      return o;
    }));
  }

  private static int queryInt(RoutingContext ctx, String name, int dflt, int min, int max) {
    String v = ctx.request().getParam(name);
    if (v == null || v.isBlank()) {
      return dflt;
    }
    try {
      int n = Integer.parseInt(v.trim());
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException ignored) {
      // answered below
    }
    throw AllotException.badField("invalid_" + name, name, name + " must be a whole number from " + min + " to " + max);
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
    respond(ctx, 200, s.catalog().channel(channelId).compose(found -> {
      Channel c = found.orElseThrow(() -> new AllotException(404, "unknown_channel",
          "channel '" + channelId + "' does not exist", "channel", null, null));
      List<String> skus = codes.stream().map(code -> s.catalog().resolve(c.id(), code)).toList();
      // One pipelined read of every stock SKU involved (a bundle's components instead of the bundle).
      List<String> reads = new ArrayList<>(new LinkedHashSet<>(skus.stream().flatMap(sku -> {
        Bundle b = s.catalog().bundle(sku);
        return b == null ? java.util.stream.Stream.of(sku) : b.components().stream().map(Bundle.Component::sku);
      }).toList()));
      return store.readStocks(reads).map(views -> {
        Map<String, StockView> bySku = new java.util.HashMap<>();
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
          Bundle b = s.catalog().bundle(sku);
          if (b == null) {
            StockView v = bySku.get(sku);
            item.put("available", Availability.channel(v, c)).put("version", v.version());
          } else {
            Map<String, Long> avail = new java.util.HashMap<>();
            long version = 0;
            for (Bundle.Component comp : b.components()) {
              StockView v = bySku.get(comp.sku());
              avail.put(comp.sku(), Availability.channel(v, c));
              version += v.version();
            }
            item.put("available", b.available(avail)).put("version", version);
          }
        }
        return o;
      });
    }));
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
      Map<String, Long> total = new java.util.HashMap<>();
      ArrayNode arr = o.putArray("components");
      for (int i = 0; i < comps.size(); i++) {
        StockView v = views.get(i);
        version += v.version();
        long avail = Availability.total(v);
        total.put(comps.get(i), avail);
        arr.addObject().put("sku", comps.get(i)).put("qty", b.components().get(i).qty()).put("available", avail);
      }
      o.put("version", version);
      o.put("available", b.available(total));
      ObjectNode chans = o.putObject("channels");
      for (Channel c : s.catalog().channels()) {
        Map<String, Long> avail = new java.util.HashMap<>();
        for (int i = 0; i < comps.size(); i++) {
          avail.put(comps.get(i), Availability.channel(views.get(i), c));
        }
        chans.put(c.id(), b.available(avail));
      }
      return o;
    });
  }

  // ---- aliases and bundles (admin) ------------------------------------------------------------

  private void putAlias(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    String channelId = Validate.channel(ctx.pathParam("channel"), "channel");
    String code = Validate.sku(ctx.pathParam("code"), "code");
    JsonNode body = bodyObject(ctx, false);
    String sku = Validate.sku(text(body, "sku"), "sku");
    if (sku.equals(code)) {
      throw AllotException.badField("invalid_alias", "sku", "an alias cannot point at itself");
    }
    respond(ctx, 200, s.catalog().channel(channelId).compose(found -> {
      if (found.isEmpty()) {
        throw new AllotException(404, "unknown_channel", "channel '" + channelId + "' does not exist");
      }
      if (s.catalog().bundle(sku) != null) {
        return Future.succeededFuture(true);
      }
      return store.readStock(sku).map(StockView::exists);
    }).compose(known -> {
      if (!known) {
        throw AllotException.badField("unknown_sku", "sku", "SKU '" + sku + "' is unknown: receive stock for it"
            + " (or define it as a bundle) before aliasing it");
      }
      return s.catalog().putAlias(channelId, code, sku);
    }).map(v -> {
      ObjectNode o = Json.object();
      o.put("channel", channelId).put("code", code).put("sku", sku);
      return o;
    }));
  }

  private void listAliases(RoutingContext ctx) {
    String channelId = Validate.channel(ctx.pathParam("channel"), "channel");
    respond(ctx, 200, s.catalog().refresh().map(v -> {
      ObjectNode o = Json.object();
      o.put("channel", channelId);
      ObjectNode a = o.putObject("aliases");
      s.catalog().aliasesOf(channelId).forEach(a::put);
      return o;
    }));
  }

  private void putBundle(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    String sku = Validate.sku(ctx.pathParam("sku"), "sku");
    JsonNode body = bodyObject(ctx, false);
    JsonNode comps = body.get("components");
    if (comps == null || !comps.isArray() || comps.isEmpty() || comps.size() > 50) {
      throw AllotException.badField("invalid_components", "components", "components must be a list of 1 to 50");
    }
    if (!s.catalog().bundlesUsing(sku).isEmpty()) {
      throw AllotException.badField("nested_bundle", "sku", "'" + sku + "' is a component of another bundle;"
          + " bundles cannot nest");
    }
    List<Bundle.Component> list = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < comps.size(); i++) {
      String p = "components[" + i + "].";
      JsonNode c = comps.get(i);
      if (!c.isObject()) {
        throw AllotException.badField("invalid_components", "components[" + i + "]", "each component is an object");
      }
      String comp = Validate.sku(text(c, "sku"), p + "sku");
      if (comp.equals(sku)) {
        throw AllotException.badField("bundle_contains_itself", p + "sku", "a bundle cannot contain itself");
      }
      if (s.catalog().bundle(comp) != null) {
        throw AllotException.badField("nested_bundle", p + "sku", "'" + comp + "' is a bundle; bundles cannot nest");
      }
      if (!seen.add(comp)) {
        throw AllotException.badField("duplicate_component", p + "sku", "'" + comp + "' is listed twice");
      }
      list.add(new Bundle.Component(comp, requiredLong(c, "qty", p + "qty", 1, 1000)));
    }
    Bundle bundle = new Bundle(sku, List.copyOf(list));
    respond(ctx, 200, store.readStock(sku).compose(view -> {
      if (view.exists()) {
        throw new AllotException(409, "sku_has_stock", "'" + sku + "' has stock of its own; a bundle has none",
            "sku", null, null);
      }
      return s.catalog().putBundle(bundle);
    }).map(Bundle::toJson));
  }

  private void getBundle(RoutingContext ctx) {
    String sku = Validate.sku(ctx.pathParam("sku"), "sku");
    respond(ctx, 200, s.catalog().refresh().map(v -> {
      Bundle b = s.catalog().bundle(sku);
      if (b == null) {
        throw new AllotException(404, "unknown_bundle", "no bundle '" + sku + "'");
      }
      return b.toJson();
    }));
  }

  // ---- reservations ------------------------------------------------------------------------

  private void reserve(RoutingContext ctx) {
    JsonNode body = bodyObject(ctx, false);
    String id = Validate.clientId(text(body, "id"), "id");
    String channel = Validate.channel(text(body, "channel"), "channel");
    caller(ctx).requireChannel(channel);
    int ttl = (int) optionalLong(body, "ttlSeconds", s.settings().defaultTtlSeconds(), 1, 86400, "invalid_ttl");
    JsonNode linesNode = body.get("lines");
    if (linesNode == null || !linesNode.isArray() || linesNode.isEmpty() || linesNode.size() > 100) {
      throw AllotException.badField("invalid_lines", "lines", "lines must be a list of 1 to 100 lines");
    }
    List<Reservations.Line> lines = new ArrayList<>(linesNode.size());
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < linesNode.size(); i++) {
      JsonNode l = linesNode.get(i);
      if (!l.isObject()) {
        throw AllotException.badField("invalid_lines", "lines[" + i + "]", "each line must be an object");
      }
      String code = Validate.sku(text(l, "sku"), "lines[" + i + "].sku");
      long qty = requiredLong(l, "qty", "lines[" + i + "].qty", 1, 1_000_000);
      String sku = s.catalog().resolve(channel, code);
      if (!seen.add(sku)) {
        throw AllotException.badField("duplicate_line", "lines[" + i + "].sku", "SKU '" + sku + "' appears twice");
      }
      lines.add(new Reservations.Line(sku, qty, sku.equals(code) ? null : code));
    }
    JsonNode cust = body.get("customer");
    String customer = null;
    if (cust != null && !cust.isNull()) {
      if (!cust.isTextual() || !CUSTOMER.matcher(cust.asText()).matches()) {
        throw AllotException.badField("invalid_customer", "customer", "customer must match [A-Za-z0-9._:@-]{1,128}");
      }
      customer = cust.asText();
    }
    reservations.reserve(new Reservations.ReserveRequest(id, channel, ttl, List.copyOf(lines), customer))
        .onSuccess(reply -> ctx.response().setStatusCode(reply.status())
            .putHeader("content-type", reply.status() >= 400 ? PROBLEM : JSON)
            .end(reply.body()))
        .onFailure(ctx::fail);
  }

  private void getReservation(RoutingContext ctx) {
    String id = Validate.clientId(ctx.pathParam("id"), "id");
    respondText(ctx, reservations.get(id, caller(ctx).readScope()));
  }

  private void commit(RoutingContext ctx) {
    String id = Validate.clientId(ctx.pathParam("id"), "id");
    String scope = caller(ctx).reservationScope();
    JsonNode body = bodyObject(ctx, true);
    JsonNode oid = body.get("orderId");
    if (oid != null && !oid.isNull() && (!oid.isTextual() || oid.asText().isEmpty() || oid.asText().length() > 128)) {
      throw AllotException.badField("invalid_order_id", "orderId", "orderId must be a string of 1 to 128 characters");
    }
    respondText(ctx, reservations.commit(id, oid == null || oid.isNull() ? null : oid.asText(), scope));
  }

  private void transition(RoutingContext ctx, String op) {
    String id = Validate.clientId(ctx.pathParam("id"), "id");
    String scope = caller(ctx).reservationScope();
    bodyObject(ctx, true);
    respondText(ctx, switch (op) {
      case "release" -> reservations.release(id, scope);
      case "ship" -> reservations.ship(id, scope);
      default -> reservations.cancel(id, scope);
    });
  }

  private void extend(RoutingContext ctx) {
    String id = Validate.clientId(ctx.pathParam("id"), "id");
    String scope = caller(ctx).reservationScope();
    JsonNode body = bodyObject(ctx, false);
    long ttl = requiredLong(body, "ttlSeconds", "ttlSeconds", 1, 86400, "invalid_ttl");
    respondText(ctx, reservations.extend(id, (int) ttl, scope));
  }

  /** In demo mode only: the demo keys and products for the live page. Elsewhere the page asks for a key. */
  private void demoConfig(RoutingContext ctx) {
    if (!s.demo()) {
      problem(ctx, new AllotException(404, "not_found", "not in demo mode: the page asks for a key instead"));
      return;
    }
    ctx.response().putHeader("content-type", JSON).putHeader("cache-control", "no-store")
        .end(Buffer.buffer(Json.bytes(dev.allot.Demo.pageConfig())));
  }

  // ---- stream and stats ---------------------------------------------------------------------

  private void stream(RoutingContext ctx) {
    if (!ctx.request().canUpgradeToWebSocket()) {
      throw new AllotException(400, "websocket_required", "GET /v1/stream upgrades to a WebSocket");
    }
    ctx.request().toWebSocket()
        .onSuccess(ws -> StreamSocket.open(vertx, ws, s.hub(), s.catalog(), s.settings()))
        .onFailure(ctx::fail);
  }

  /** Reservation counters for the operator panel (summed over every instance: they live in Redis). */
  private void stats(RoutingContext ctx) {
    respond(ctx, 200, store.reservationStats().map(m -> {
      ObjectNode o = Json.object();
      o.put("reservationsCreated", m.get("created"));
      o.put("holdsOutstanding", m.get("held"));
      o.put("commits", m.get("committed"));
      o.put("expiries", m.get("expired"));
      o.put("at", java.time.Instant.now().toString());
      return o;
    }));
  }

  // ---- health -----------------------------------------------------------------------------------

  private void ready(RoutingContext ctx) {
    s.store().redis().ping().onComplete(ar -> {
      boolean up = ar.succeeded() && ar.result() && s.store().redis().scriptsLoaded();
      ObjectNode o = Json.object();
      o.put("status", up ? "UP" : "DOWN");
      o.put("redis", ar.succeeded() ? "reachable" : "unreachable");
      o.put("scriptsLoaded", s.store().redis().scriptsLoaded());
      ctx.response().setStatusCode(up ? 200 : 503).putHeader("content-type", JSON).end(Json.write(o));
    });
  }

  // ---- plumbing -------------------------------------------------------------------------------

  private static JsonNode bodyObject(RoutingContext ctx, boolean optional) {
    Buffer b = ctx.body().buffer();
    if (b == null || b.length() == 0 || b.toString().isBlank()) {
      if (optional) {
        return Json.object();
      }
      throw AllotException.badField("malformed_json", "body", "a JSON object body is required");
    }
    JsonNode n;
    try {
      n = Json.MAPPER.readTree(b.getBytes());
    } catch (JsonProcessingException e) {
      throw AllotException.badField("malformed_json", "body", "the body is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw AllotException.badField("malformed_json", "body", "the body could not be read");
    }
    if (n == null || !n.isObject()) {
      throw AllotException.badField("malformed_json", "body", "the body must be a JSON object");
    }
    return n;
  }

  private static String text(JsonNode n, String name) {
    JsonNode v = n.get(name);
    return v != null && v.isTextual() ? v.asText() : null;
  }

  private static long requiredLong(JsonNode n, String name, String field, long min, long max) {
    return requiredLong(n, name, field, min, max, "invalid_quantity");
  }

  private static long requiredLong(JsonNode n, String name, String field, long min, long max, String code) {
    JsonNode v = n.get(name);
    if (v == null || !v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < min || v.asLong() > max) {
      throw AllotException.badField(code, field, field + " must be a whole number from " + min + " to " + max);
    }
    return v.asLong();
  }

  private static long optionalLong(JsonNode n, String name, long dflt, long min, long max, String code) {
    JsonNode v = n.get(name);
    if (v == null || v.isNull()) {
      return dflt;
    }
    return requiredLong(n, name, name, min, max, code);
  }

  private static void respond(RoutingContext ctx, int status, Future<? extends JsonNode> result) {
    result.onSuccess(node -> ctx.response().setStatusCode(status).putHeader("content-type", JSON)
            .end(Buffer.buffer(Json.bytes(node))))
        .onFailure(ctx::fail);
  }

  private static void respondText(RoutingContext ctx, Future<String> result) {
    result.onSuccess(body -> ctx.response().setStatusCode(200).putHeader("content-type", JSON).end(body))
        .onFailure(ctx::fail);
  }

  private void failure(RoutingContext ctx) {
    Throwable err = ctx.failure();
    AllotException p;
    if (err instanceof AllotException a) {
      p = a;
    } else if (err instanceof StoreUnavailableException) {
      long now = System.currentTimeMillis();
      if (now - lastStoreWarning > 5000) {
        lastStoreWarning = now;
        LOG.log(System.Logger.Level.WARNING, "answering 503 store_unavailable (" + ctx.request().method() + " "
            + ctx.request().path() + "): " + err.getMessage());
      }
      p = new AllotException(503, "store_unavailable", "the stock store (Redis) cannot be reached; retry shortly",
          null, null, s.settings().storeRetryAfterSeconds());
    } else if (ctx.statusCode() == 413 || (err instanceof HttpException h && h.getStatusCode() == 413)) {
      p = new AllotException(413, "body_too_large", "the body is larger than " + BODY_LIMIT + " bytes");
    } else if (err instanceof HttpException h && h.getStatusCode() < 500) {
      p = new AllotException(h.getStatusCode(), h.getStatusCode() == 400 ? "malformed_json" : "bad_request",
          h.getPayload() != null ? h.getPayload() : "the request could not be read");
    } else if (err == null && ctx.statusCode() > 0 && ctx.statusCode() < 500) {
      p = new AllotException(ctx.statusCode(), ctx.statusCode() == 404 ? "not_found" : "bad_request",
          "the request could not be served");
    } else {
      LOG.log(System.Logger.Level.ERROR, "unexpected failure on " + ctx.request().method() + " "
          + ctx.request().path(), err);
      p = new AllotException(500, "internal_error", "an unexpected error occurred; it has been logged");
    }
    problem(ctx, p);
  }

  private static void problem(RoutingContext ctx, AllotException p) {
    if (ctx.response().ended()) {
      return;
    }
    ObjectNode doc = Reservations.problem(p.status(), p.code(), p.getMessage());
    if (p.field() != null) {
      doc.put("field", p.field());
    }
    if (p.extra() != null) {
      doc.setAll(p.extra());
    }
    if (p.retryAfter() != null) {
      ctx.response().putHeader("Retry-After", Integer.toString(p.retryAfter()));
    }
    ctx.response().setStatusCode(p.status()).putHeader("content-type", PROBLEM).end(Buffer.buffer(Json.bytes(doc)));
  }

  private static Buffer loadResource(String path) {
    try (InputStream in = ApiVerticle.class.getResourceAsStream(path)) {
      if (in == null) {
        throw new IllegalStateException("resource " + path + " is missing from the jar");
      }
      return Buffer.buffer(in.readAllBytes());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
