package dev.allot.http;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;

import java.util.Map;

/**
 * Who is calling (API.md, "General", Auth): the key is checked before a body is read, so a request
 * without a valid key is answered 401 without its body being buffered.
 */
final class Auth {
  private static final String CALLER = "allot.caller";
  private static final String KEY = "allot.key";

  private final boolean disabled;
  /** Each key's caller, made once: a request only looks its key up. */
  private final Map<String, Caller> keys;

  /** keys: API key -> role; disabled: every caller is an admin (an explicit setting, said loudly at start). */
  Auth(boolean disabled, Map<String, String> keys) {
    this.disabled = disabled;
    Map<String, Caller> callers = new java.util.HashMap<>();
    keys.forEach((key, role) -> callers.put(key, new Caller(role)));
    this.keys = Map.copyOf(callers);
  }

  /** A route handler: puts the {@link Caller} on the context, or answers 401. */
  void authenticate(RoutingContext ctx) {
    if (disabled) {
      ctx.put(CALLER, Caller.ADMIN);
      ctx.next();
      return;
    }
    String key = key(ctx.request());
    Caller caller = key == null ? null : keys.get(key);
    if (caller == null) {
      refuse(ctx.request(), ctx.vertx(), key);
      return;
    }
    ctx.put(CALLER, caller);
    ctx.put(KEY, key);
    ctx.next();
  }

  /**
   * The caller of a request that does not go through the router (ReserveEndpoint), or null after
   * answering it 401 as {@link #authenticate} does.
   */
  Caller caller(HttpServerRequest req, Vertx vertx) {
    if (disabled) {
      return Caller.ADMIN;
    }
    String key = key(req);
    Caller caller = key == null ? null : keys.get(key);
    if (caller == null) {
      refuse(req, vertx, key);
    }
    return caller;
  }

  /** The request's API key (null when it has none): the Bearer token, or the stream's access_token. */
  private static String key(HttpServerRequest req) {
    String header = req.getHeader("Authorization");
    if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return header.substring(7).trim();
    } else if (header == null && req.path().equals("/v1/stream")) {
      // Browsers cannot set headers on a WebSocket: the stream alone takes the key from the query.
      return req.getParam("access_token");
    }
    return null;
  }

  private static void refuse(HttpServerRequest req, Vertx vertx, String key) {
    req.response().putHeader("WWW-Authenticate", "Bearer");
    Problems.send(req, vertx, 401, "unauthorized", key == null
        ? "an API key is required: Authorization: Bearer <key>" : "unknown API key");
  }

  /** The API key the caller authenticated with ("" with auth disabled): per-key limits count by it. */
  static String key(RoutingContext ctx) {
    String k = ctx.get(KEY);
    return k == null ? "" : k;
  }

  static Caller caller(RoutingContext ctx) {
    return ctx.get(CALLER);
  }
}
