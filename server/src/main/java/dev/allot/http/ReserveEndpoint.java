package dev.allot.http;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;

/**
 * POST /v1/reservations, the flash sale's one request, answered past the router: the same steps
 * the router's routes take for it (the key before the body, the body limit, the reserve route, the
 * failure handler's problem documents), without a routing context, a body handler and the walk
 * over the routes for each buyer (3.3% of the server's CPU samples under the capacity load went
 * to vertx-web, docs/benchmarks.md). Every other request, and any other spelling of this path, goes
 * through the router, which keeps the route. Its metrics carry the route label the router gave it.
 * HardeningTest.reserveEdgesPastTheRouter holds both ways to the same answers.
 */
final class ReserveEndpoint {
  /** The path this answers (exactly: the router normalises others); the router keeps the route, for 405's Allow. */
  static final String PATH = "/v1/reservations";
  /**
   * The routes the router takes this request through, each told to the metrics as it is reached, so
   * the route label is the router's: "/v1/" (the key), "/v1/" (the body), "/v1/reservations";
   * joined with '>' by HttpMetrics ("/v1/" alone for a 401, "/v1/>/v1/" for a 413).
   */
  private static final String KEY_ROUTE = "/v1/";
  private static final String BODY_ROUTE = "/v1/";
  private static final String RESERVE_ROUTE = PATH;

  private final Vertx vertx;
  private final Auth auth;
  private final Problems problems;
  private final ReservationRoutes reservations;

  ReserveEndpoint(Vertx vertx, Auth auth, Problems problems, ReservationRoutes reservations) {
    this.vertx = vertx;
    this.auth = auth;
    this.problems = problems;
    this.reservations = reservations;
  }

  /** Whether this request is one for {@link #handle}. */
  static boolean takes(HttpServerRequest req) {
    return req.method() == HttpMethod.POST && PATH.equals(req.path());
  }

  void handle(HttpServerRequest req) {
    if (req.version() != HttpVersion.HTTP_2 && req.headers().get(HttpHeaders.HOST) == null) {
      // As the router's failure handler answers it (Problems.failure): HTTP/1.x requires Host.
      Problems.send(req, vertx, 400, "missing_host", "an HTTP/1.x request needs a Host header");
      return;
    }
    req.routed(KEY_ROUTE);
    Caller caller = auth.caller(req, vertx);
    if (caller == null) {
      return; // answered 401, its body drained
    }
    req.routed(BODY_ROUTE);
    // As BodyHandler does: a declared length over the limit is refused before any byte is read,
    // an Expect other than 100-continue is 417, and a body that grows past the limit is 413.
    long declared = declaredLength(req);
    if (declared > ApiVerticle.BODY_LIMIT) {
      tooLarge(req);
      return;
    }
    String expect = req.getHeader(HttpHeaders.EXPECT);
    if (expect != null) {
      if (!expect.equalsIgnoreCase("100-continue")) {
        Problems.send(req, vertx, 417, "bad_request", "the request could not be served");
        return;
      }
      if (req.version() != HttpVersion.HTTP_1_0) {
        req.response().writeContinue();
      }
    }
    if (req.isEnded()) {
      answer(req, caller, Buffer.buffer());
      return;
    }
    Buffer body = Buffer.buffer(declared > 0 ? (int) declared : 256);
    boolean[] failed = {false};
    req.handler(chunk -> {
      if (failed[0]) {
        return;
      }
      if (body.length() + chunk.length() > ApiVerticle.BODY_LIMIT) {
        failed[0] = true;
        tooLarge(req);
      } else {
        body.appendBuffer(chunk);
      }
    });
    req.exceptionHandler(err -> {
      if (!failed[0]) {
        failed[0] = true;
        problems.failure(req, vertx, err);
      }
    });
    req.endHandler(v -> {
      if (!failed[0]) {
        answer(req, caller, body);
      }
    });
  }

  private void answer(HttpServerRequest req, Caller caller, Buffer body) {
    req.routed(RESERVE_ROUTE);
    try {
      reservations.reserve(Bodies.json(body, req.getHeader(HttpHeaders.CONTENT_TYPE), false), caller, req.response(),
          err -> problems.failure(req, vertx, err));
    } catch (RuntimeException e) {
      problems.failure(req, vertx, e);
    }
  }

  private void tooLarge(HttpServerRequest req) {
    Problems.send(req, vertx, 413, "body_too_large", "the body is larger than " + ApiVerticle.BODY_LIMIT + " bytes");
  }

  /** The Content-Length, or -1 when there is none or it is not a number (the body is read as it comes). */
  private static long declaredLength(HttpServerRequest req) {
    String length = req.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (length == null || length.isEmpty()) {
      return -1;
    }
    try {
      return Long.parseLong(length.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
