package dev.allot.http;

import dev.allot.common.StoreUnavailableException;
import dev.allot.common.Throttled;
import dev.allot.stock.AllotException;
import dev.allot.stock.Json;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.HttpException;

/**
 * Every error the server sends is a problem document (API.md, "General"). This is the one place
 * that maps a refusal to its HTTP status: the domain's {@link AllotException.Kind}s, the store's
 * outage, and the HTTP layer's own refusals (401, 404, 405, 413...).
 */
final class Problems {
  private static final System.Logger LOG = System.getLogger(Problems.class.getName());
  static final String PROBLEM = "application/problem+json";
  /** How long a refused request's unread body is read and dropped before its connection is closed. */
  static final long BODY_DRAIN_MILLIS = 3000;

  private final int storeRetryAfterSeconds;
  /** An outage fails every call: one line per 5 s per event loop. */
  private final Throttled storeWarnings = new Throttled(LOG, 5000);

  Problems(int storeRetryAfterSeconds) {
    this.storeRetryAfterSeconds = storeRetryAfterSeconds;
  }

  static int status(AllotException.Kind kind) {
    return switch (kind) {
      case INVALID -> 400;
      case FORBIDDEN -> 403;
      case NOT_FOUND -> 404;
      case CONFLICT -> 409;
      case GONE -> 410;
      case UNSUPPORTED_MEDIA_TYPE -> 415;
      case UNAVAILABLE -> 503;
    };
  }

  /** The router's failure handler: whatever a handler threw or failed with becomes one problem document. */
  void failure(RoutingContext ctx) {
    Throwable err = ctx.failure();
    if (err instanceof HttpClosedException || ctx.response().closed()) {
      failure(ctx.request(), ctx.vertx(), err); // nobody to answer
      return;
    }
    if (ctx.request().version() != HttpVersion.HTTP_2 && ctx.request().headers().get(HttpHeaders.HOST) == null) {
      // HTTP/1.x requires Host; Vert.x fails such a request with a VertxException before any route
      // runs. The client's mistake: a 400 that says so, not a 500.
      send(ctx, 400, "missing_host", "an HTTP/1.x request needs a Host header");
    } else if (ctx.statusCode() == 413 || (err instanceof HttpException h && h.getStatusCode() == 413)) {
      // The router's own refusals (the body handler's, a route's status) before the domain's.
      send(ctx, 413, "body_too_large", "the body is larger than " + ApiVerticle.BODY_LIMIT + " bytes");
    } else if (err instanceof HttpException h && h.getStatusCode() < 500) {
      send(ctx, h.getStatusCode(), h.getStatusCode() == 400 ? "malformed_json" : "bad_request",
          h.getPayload() != null ? h.getPayload() : "the request could not be read");
    } else if (err == null && ctx.statusCode() > 0 && ctx.statusCode() < 500) {
      send(ctx, ctx.statusCode(), ctx.statusCode() == 404 ? "not_found" : "bad_request",
          "the request could not be served");
    } else {
      failure(ctx.request(), ctx.vertx(), err);
    }
  }

  /**
   * What a request failed with, as a problem document: a domain refusal, the store's outage (503 with
   * Retry-After), anything else a logged 500; nothing when the client went away. The router's
   * failure handler ends here, and so does ReserveEndpoint, which answers past the router.
   */
  void failure(HttpServerRequest req, Vertx vertx, Throwable err) {
    if (err instanceof HttpClosedException || req.response().closed()) {
      // The client went away (mid-body, or before its answer): nobody to answer, nothing to report.
      LOG.log(System.Logger.Level.DEBUG, () -> "client closed the connection during " + req.method() + " " + req.path());
      return;
    }
    if (err instanceof AllotException a) {
      send(req, vertx, a);
    } else if (err instanceof StoreUnavailableException) {
      storeWarnings.warn(() -> "answering 503 store_unavailable (" + req.method() + " " + req.path() + "): "
          + err.getMessage());
      if (!req.response().ended()) {
        req.response().putHeader("Retry-After", Integer.toString(storeRetryAfterSeconds));
        send(req, vertx, 503, "store_unavailable", "the stock store (Redis) cannot be reached; retry shortly");
      }
    } else {
      LOG.log(System.Logger.Level.ERROR, "unexpected failure on " + req.method() + " " + req.path(), err);
      send(req, vertx, 500, "internal_error", "an unexpected error occurred; it has been logged");
    }
  }

  /**
   * The HTTP server's answer to a request it could not decode (a request line over the limit, headers
   * over the limit, or not HTTP at all): the same statuses Vert.x would send, as problem documents,
   * then the connection closes (its bytes cannot be trusted to frame another request).
   */
  static void invalidRequest(HttpServerRequest request) {
    Throwable cause = request.decoderResult().cause();
    int status;
    String code;
    String detail;
    if (cause instanceof TooLongHttpLineException) {
      status = 414;
      code = "uri_too_long";
      detail = "the request line is longer than " + ApiVerticle.MAX_INITIAL_LINE + " bytes";
    } else if (cause instanceof TooLongHttpHeaderException) {
      status = 431;
      code = "headers_too_large";
      detail = "the request headers are larger than " + ApiVerticle.MAX_HEADERS + " bytes";
    } else {
      status = 400;
      code = "bad_request";
      detail = "the request is not valid HTTP";
    }
    request.response().setStatusCode(status).putHeader("content-type", PROBLEM)
        .end(Buffer.buffer(Json.bytes(Json.problem(status, code, detail))))
        .onComplete(ar -> request.connection().close());
  }

  /** A domain refusal, with its field, extra members and Retry-After where it has them. */
  static void send(RoutingContext ctx, AllotException p) {
    send(ctx.request(), ctx.vertx(), p);
  }

  static void send(HttpServerRequest req, Vertx vertx, AllotException p) {
    if (req.response().ended()) {
      return;
    }
    ObjectNode doc = Json.problem(status(p.kind()), p.code(), p.getMessage());
    if (p.field() != null) {
      doc.put("field", p.field());
    }
    if (p.extra() != null) {
      doc.setAll(p.extra());
    }
    if (p.retryAfter() != null) {
      req.response().putHeader("Retry-After", Integer.toString(p.retryAfter()));
    }
    end(req, vertx, status(p.kind()), doc);
  }

  /** One of the HTTP layer's own refusals. */
  static void send(RoutingContext ctx, int status, String code, String detail) {
    send(ctx.request(), ctx.vertx(), status, code, detail);
  }

  static void send(HttpServerRequest req, Vertx vertx, int status, String code, String detail) {
    if (req.response().ended()) {
      return;
    }
    end(req, vertx, status, Json.problem(status, code, detail));
  }

  /** A problem document that is already encoded (a stored refusal replayed), with its status. */
  static void sendEncoded(HttpServerResponse response, int status, Buffer body) {
    response.setStatusCode(status).putHeader("content-type", PROBLEM).end(body);
  }

  private static void end(HttpServerRequest req, Vertx vertx, int status, ObjectNode doc) {
    if (!req.isEnded() && hasBody(req)) {
      // Refused before its body was read (401 before the body, 413 part-way). The rest of the body
      // is read and thrown away, so the client gets its answer (closing at once, with its bytes
      // unread, would reset the connection under the answer); a client that has not finished
      // sending it within BODY_DRAIN_MILLIS (one holding a partial body) is disconnected.
      long timer = vertx.setTimer(BODY_DRAIN_MILLIS, t -> {
        if (!req.isEnded()) {
          req.connection().close();
        }
      });
      req.handler(ignored -> { }).endHandler(v -> vertx.cancelTimer(timer));
      req.resume();
    }
    req.response().setStatusCode(status).putHeader("content-type", PROBLEM).end(Buffer.buffer(Json.bytes(doc)));
  }

  private static boolean hasBody(HttpServerRequest req) {
    String length = req.getHeader(HttpHeaders.CONTENT_LENGTH);
    return (length != null && !length.equals("0")) || req.getHeader(HttpHeaders.TRANSFER_ENCODING) != null;
  }
}
