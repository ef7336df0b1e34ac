package dev.allot.store;

import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Webhook endpoints and their delivery state, as Redis keeps them (docs/outbound.md, "Webhooks").
 * Every call is a plain single-key command (or the lease script), so the keys need no shared slot.
 * <ul>
 *   <li>{@code allot:config:webhooks} (hash): endpoint id -> its JSON (url, types, channels, state,
 *   createdAt, secret).</li>
 *   <li>{@code allot:webhook:<id>:state} (hash): the delivery position and health (field names in
 *   {@code outbound.Deliveries}).</li>
 *   <li>{@code allot:webhook:<id>:log} (list): the newest delivery attempts, JSON, at most
 *   {@link #LOG_MAX}.</li>
 *   <li>{@code allot:webhook:<id>:confirmed} (hash): "channel|SKU" -> the availability the endpoint last
 *   confirmed (a 2xx for an availability.changed).</li>
 *   <li>{@code allot:webhook:<id>:lease} (string): which instance delivers for it now (lua/lease.lua).</li>
 * </ul>
 */
public final class WebhookStore {
  public static final String CONFIG = "allot:config:webhooks";
  public static final int LOG_MAX = 1000;

  private final RedisStore redis;

  public WebhookStore(RedisStore redis) {
    this.redis = redis;
  }

  static String state(String id) {
    return "allot:webhook:" + id + ":state";
  }

  static String log(String id) {
    return "allot:webhook:" + id + ":log";
  }

  static String confirmed(String id) {
    return "allot:webhook:" + id + ":confirmed";
  }

  static String lease(String id) {
    return "allot:webhook:" + id + ":lease";
  }

  /** Every endpoint: id -> its JSON. */
  public Future<Map<String, String>> endpoints() {
    return redis.send(Command.HGETALL, CONFIG).map(WebhookStore::map);
  }

  /** One endpoint's JSON, or null. */
  public Future<String> endpoint(String id) {
    return redis.send(Command.HGET, CONFIG, id).map(r -> r == null ? null : r.toString());
  }

  public Future<Void> putEndpoint(String id, String json) {
    return redis.send(Command.HSET, CONFIG, id, json).mapEmpty();
  }

  /** Creates the endpoint only if the id is free: true when created (two creates racing: one wins). */
  public Future<Boolean> createEndpoint(String id, String json) {
    return redis.send(Command.HSETNX, CONFIG, id, json).map(r -> r != null && r.toLong() == 1);
  }

  /** Removes the endpoint, its state and its log: true when it existed. */
  public Future<Boolean> deleteEndpoint(String id) {
    return redis.send(Command.HDEL, CONFIG, id).compose(r -> redis.send(Command.DEL, state(id), log(id), confirmed(id), lease(id))
        .map(v -> r != null && r.toLong() == 1));
  }

  /** One endpoint's delivery state (empty before its first delivery). */
  public Future<Map<String, String>> stateOf(String id) {
    return redis.send(Command.HGETALL, state(id)).map(WebhookStore::map);
  }

  /** Several endpoints' states in one pipelined round trip, in the order asked. */
  public Future<List<Map<String, String>>> states(List<String> ids) {
    List<Request> reqs = new ArrayList<>(ids.size());
    ids.forEach(id -> reqs.add(Request.cmd(Command.HGETALL).arg(state(id))));
    return redis.pipeline(reqs).map(rs -> rs.stream().map(WebhookStore::map).toList());
  }

  public Future<Void> saveState(String id, Map<String, String> fields) {
    if (fields.isEmpty()) {
      return Future.succeededFuture();
    }
    Request req = Request.cmd(Command.HSET).arg(state(id));
    fields.forEach((k, v) -> req.arg(k).arg(v));
    return redis.send(req).mapEmpty();
  }

  /**
   * Writes the fields only if the endpoint's saved cursor is still {@code expected} (null: none yet):
   * true when written. A redelivery that moved the position meanwhile wins.
   */
  public Future<Boolean> advance(String id, String expected, Map<String, String> fields) {
    List<String> args = new ArrayList<>(1 + fields.size() * 2);
    args.add(expected == null ? "" : expected);
    fields.forEach((k, v) -> {
      args.add(k);
      args.add(v);
    });
    return redis.eval(Script.ADVANCE, List.of(state(id)), args).map(r -> r.toLong() == 1);
  }

  /** Appends delivery attempts (JSON, oldest first) to the log, keeping the newest {@link #LOG_MAX}. */
  public Future<Void> appendLog(String id, List<String> entries) {
    if (entries.isEmpty()) {
      return Future.succeededFuture();
    }
    Request push = Request.cmd(Command.LPUSH).arg(log(id));
    entries.forEach(push::arg);
    return redis.pipeline(List.of(push, Request.cmd(Command.LTRIM).arg(log(id)).arg(0).arg(LOG_MAX - 1)))
        .mapEmpty();
  }

  /** The newest {@code limit} attempts, newest first. */
  public Future<List<String>> log(String id, int limit) {
    return redis.send(Command.LRANGE, log(id), 0, limit - 1).map(r -> {
      List<String> out = new ArrayList<>(r == null ? 0 : r.size());
      if (r != null) {
        r.forEach(e -> out.add(e.toString()));
      }
      return out;
    });
  }

  /** What the endpoint confirmed for a channel and SKU: a 2xx for an availability.changed saying {@code available}. */
  public Future<Void> confirm(String id, String channelAndSku, long available) {
    return redis.send(Command.HSET, confirmed(id), channelAndSku, available).mapEmpty();
  }

  /** Every availability the endpoint confirmed: "channel|SKU" -> available. */
  public Future<Map<String, String>> confirmedOf(String id) {
    return redis.send(Command.HGETALL, confirmed(id)).map(WebhookStore::map);
  }

  /** Takes or renews the endpoint's delivery lease for {@code token}: true when it holds it now. */
  public Future<Boolean> takeLease(String id, String token, long ttlMillis) {
    return redis.eval(Script.LEASE, List.of(lease(id)), List.of(token, Long.toString(ttlMillis), "take"))
        .map(r -> r.toLong() == 1);
  }

  public Future<Void> dropLease(String id, String token) {
    return redis.eval(Script.LEASE, List.of(lease(id)), List.of(token, "1", "drop")).mapEmpty();
  }

  private static Map<String, String> map(Response r) {
    Map<String, String> out = new LinkedHashMap<>();
    if (r != null) {
      for (String k : r.getKeys()) {
        out.put(k, r.get(k).toString());
      }
    }
    return out;
  }
}
