package dev.allot.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.config.Settings;
import dev.allot.outbound.Feed;
import dev.allot.outbound.Webhooks;
import dev.allot.stock.Catalog;
import dev.allot.stock.Inventory;
import dev.allot.stock.StockServices;
import dev.allot.stream.StreamHub;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import dev.allot.stream.StreamSocket;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;

import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The HTTP API (API.md): server options and the routes of each resource, mounted in one place.
 * Deployed once per core; each instance gets stock services of its own (over its own Redis client,
 * built on its event loop) and shares the catalogue, the stream hub and the metrics.
 */
public final class ApiVerticle extends VerticleBase {
  public static final long BODY_LIMIT = 1024 * 1024;
  /** 500 SKUs of up to 64 characters fit in an availability query's request line. */
  static final int MAX_INITIAL_LINE = 64 * 1024;
  /** Vert.x's default, said out loud: the 431 names it. */
  static final int MAX_HEADERS = 8192;
  /** A client stream message (subscribe/unsubscribe) larger than this closes the socket with 1009. */
  public static final int STREAM_MESSAGE_LIMIT = StreamSocket.MESSAGE_LIMIT;

  /**
   * What every API instance shares, built once by the server. {@code stock} builds one instance's
   * stock services on that instance's event loop; {@code readiness} answers /health/ready from the
   * server's own store (the one that loaded the scripts); {@code demoPage} is null outside demo mode.
   */
  public record Services(Settings settings, Function<Vertx, StockServices> stock, Catalog catalog, Inventory readiness,
                         StreamHub hub, PrometheusMeterRegistry registry, ObjectNode demoPage, ConnectionGate gate) {
  }

  private final Services s;
  private HttpServer server;
  private StockServices stock;

  public ApiVerticle(Services services) {
    this.s = services;
  }

  @Override
  public Future<?> start() {
    Settings settings = s.settings();
    stock = s.stock().apply(vertx);
    Problems problems = new Problems(settings.http().storeRetryAfterSeconds());
    Auth auth = new Auth(settings.http().authDisabled(), settings.http().apiKeys());
    OpsRoutes ops = new OpsRoutes(vertx, s.readiness(), s.registry(), s.demoPage(), s.hub(), s.catalog(),
        settings.stream());

    Router router = Router.router(vertx);
    router.route().failureHandler(problems::failure);
    router.errorHandler(404, ctx -> Problems.send(ctx, 404, "not_found", "no such resource: "
        + ctx.request().method() + " " + ctx.request().path()));
    router.errorHandler(405, ctx -> {
      String allow = allowed(router, ctx.request().path());
      if (!allow.isEmpty()) {
        ctx.response().putHeader("Allow", allow);
      }
      Problems.send(ctx, 405, "method_not_allowed", ctx.request().method() + " is not allowed on "
          + ctx.request().path() + (allow.isEmpty() ? "" : "; allowed: " + allow));
    });
    ops.mountOpen(router);
    ops.mountStream(router, auth);
    // The key first: a request without a valid one is 401 before any of its body is buffered (API.md,
    // "General"); keyless clients cannot hold the heap with partial 1 MiB bodies.
    // Two routes: Vert.x Web allows no body handler after a user handler on one route. The key check is
    // synchronous, so no body chunk arrives before the body handler is in place.
    router.route("/v1/*").handler(auth::authenticate);
    router.route("/v1/*").handler(BodyHandler.create(false).setBodyLimit(BODY_LIMIT));
    // Reservations first: the router tries routes in order, and each route with a path parameter is a
    // regex to run, so the hot POST /v1/reservations (an exact path) is found before any of those.
    // No two groups share a path, so the order changes nothing else.
    ReservationRoutes reservationRoutes = new ReservationRoutes(stock.reservations(), s.catalog(),
        settings.reservations().defaultTtlSeconds());
    reservationRoutes.mount(router);
    ReserveEndpoint reserve = new ReserveEndpoint(vertx, auth, problems, reservationRoutes);
    new CatalogRoutes(s.catalog(), stock.inventory()).mount(router);
    new StockRoutes(stock.movements(), stock.inventory(), stock.allocations()).mount(router);
    Feed feed = new Feed(stock.events(), s.catalog());
    new EventRoutes(feed).mount(router);
    new WebhookRoutes(new Webhooks(stock.webhooks(), feed, System::currentTimeMillis),
        settings.outbound().syncStaleSeconds()).mount(router);

    HttpServerOptions options = new HttpServerOptions()
        .setPort(settings.http().port())
        .setHost(settings.http().host())
        .setTcpNoDelay(true)
        // 500 SKUs of up to 64 characters fit in an availability query.
        .setMaxInitialLineLength(MAX_INITIAL_LINE)
        .setMaxHeaderSize(MAX_HEADERS)
        .setCompressionSupported(false)
        .setMaxWebSocketFrameSize(STREAM_MESSAGE_LIMIT)
        .setMaxWebSocketMessageSize(STREAM_MESSAGE_LIMIT)
        // A client that does not read cannot answer our close frame: drop its TCP connection after 2 s.
        .setWebSocketClosingTimeout(2)
        // HTTP/1.1 only (HTTP/2 is for the proxy in front): with h2c on, Vert.x waits for a connection's
        // first bytes before it tells anyone of it, and a connection that never sends any could never
        // be timed out or counted.
        .setHttp2ClearTextEnabled(false)
        // Idle = nothing read (a stream socket reads the pongs to its pings). A read-only idle check
        // adds nothing to writes; an all-idle one hooks a listener on every write, and fan-out is writes.
        .setReadIdleTimeout(settings.http().idleTimeoutSeconds())
        .setIdleTimeoutUnit(TimeUnit.SECONDS);
    if (settings.http().sendBufferBytes() > 0) {
      // The kernel's send buffer per connection (SO_SNDBUF): the OS's default, autotuned up to megabytes,
      // unless set. With tens of thousands of stream sockets, a bound on it bounds the kernel memory
      // a slow reader can hold; Allot's own queue per socket is ALLOT_STREAM_QUEUE_BYTES.
      options.setSendBufferSize(settings.http().sendBufferBytes());
    }
    ConnectionGate.Loop gate = s.gate().new Loop(vertx);
    server = vertx.createHttpServer(options)
        .connectionHandler(gate::accepted)
        .requestHandler(req -> {
          gate.headSeen(req.connection());
          if (ReserveEndpoint.takes(req)) {
            reserve.handle(req);
          } else {
            router.handle(req);
          }
        })
        .invalidRequestHandler(Problems::invalidRequest);
    return server.listen();
  }

  /**
   * The methods the routes of this path answer, for a 405's {@code Allow} (RFC 9110: a 405 must
   * carry it). Only at a 405, so a walk over the routes is cheap enough.
   */
  static String allowed(Router router, String path) {
    java.util.TreeSet<String> methods = new java.util.TreeSet<>();
    for (io.vertx.ext.web.Route r : router.getRoutes()) {
      String template = r.getPath();
      if (template == null || r.methods() == null || r.methods().isEmpty()) {
        continue;
      }
      if (matches(template, path)) {
        r.methods().forEach(m -> methods.add(m.name()));
      }
    }
    return String.join(", ", methods);
  }

  /** A route template ("/v1/reservations/:id/commit", "/v1/*") against a request path. */
  static boolean matches(String template, String path) {
    String[] t = template.split("/", -1);
    String[] p = path.split("/", -1);
    for (int i = 0; i < t.length; i++) {
      if (t[i].equals("*") && i == t.length - 1) {
        return p.length >= t.length - 1;
      }
      if (i >= p.length || !(t[i].startsWith(":") ? !p[i].isEmpty() : t[i].equals(p[i]))) {
        return false;
      }
    }
    return t.length == p.length;
  }

  @Override
  public Future<?> stop() {
    // Stop accepting, let requests in flight finish (bounded), then close.
    Future<Void> closed = server == null ? Future.succeededFuture() : server.shutdown(10, TimeUnit.SECONDS);
    return closed.eventually(() -> stock == null ? Future.succeededFuture() : stock.close().get());
  }

  public int actualPort() {
    return server.actualPort();
  }
}
