package dev.allot.outbound;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.common.Throttled;
import dev.allot.outbound.Feed.Cursor;
import dev.allot.outbound.Webhooks.Endpoint;
import dev.allot.stock.AllotException;
import dev.allot.stock.Json;
import dev.allot.store.WebhookStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Webhook deliveries (API.md, "Push: webhooks"; docs/outbound.md). Every instance runs one, on one
 * event loop (the {@link OutboxKeeper}'s). An endpoint's deliveries are made by the one instance that
 * holds its lease (lua/lease.lua, renewed every second, lapsing after {@link #LEASE_MILLIS}): no event
 * goes out from two instances at once in normal running, and when the instance dies another takes
 * over from the endpoint's saved position. Per endpoint:
 * <ul>
 *   <li>A window of the feed after its saved cursor, the events it wants (types, channels). An
 *   {@code availability.changed} with a newer one for the same channel and SKU in the window is
 *   skipped (coalesced): a retry carries the newest value.</li>
 *   <li>Per SKU (or per reservation, for events without a SKU) one event at a time, in order: a later
 *   event is not sent before the earlier one succeeded. Different SKUs go in parallel.</li>
 *   <li>A 2xx within 10 s is a success. Anything else: the endpoint waits (exponential backoff from
 *   1 s, doubling up to 5 minutes, jitter 50-100%) and tries again, for ever: nothing is dropped.
 *   A 410 disables the endpoint at once.</li>
 *   <li>The cursor is saved when the whole window is delivered; an instance that dies mid-window
 *   leaves events that the next owner sends again, with the same {@code webhook-id}.</li>
 * </ul>
 */
public final class Deliveries {
  private static final System.Logger LOG = System.getLogger(Deliveries.class.getName());
  static final long LEASE_MILLIS = 10_000;
  static final int WINDOW = 500;
  static final int PARALLEL = 16;
  static final long TIMEOUT_MILLIS = 10_000;
  static final long BACKOFF_FIRST_MILLIS = 1_000;
  static final long BACKOFF_MAX_MILLIS = 300_000;
  private static final long IDLE_MILLIS = 100;

  /** The fields of allot:webhook:<id>:state. */
  static final String CURSOR = "cursor";
  static final String CURSOR_AT = "cursorAt";

  /** An endpoint's position as its state keeps it: the cursor, and its entry's ms (what the trim holds back for). */
  static Map<String, String> position(Cursor c) {
    Map<String, String> fields = new HashMap<>();
    fields.put(CURSOR, c.encode());
    fields.put(CURSOR_AT, Long.toString(c.id().millis()));
    return fields;
  }
  static final String FAILURES = "failuresInARow";
  static final String LAST_SUCCESS = "lastSuccessAt";
  static final String LAST_ERROR = "lastError";
  static final String OLDEST_PENDING = "oldestPendingAt";
  /**
   * "channel|SKU|sinceMs;..." for each channel and SKU whose newest availability the endpoint has not
   * confirmed (it differs from what it confirmed last), since the first undelivered change of it.
   */
  static final String UNCONFIRMED = "unconfirmed";

  private final Vertx vertx;
  private final Webhooks webhooks;
  private final WebhookStore store;
  private final Feed feed;
  private final LongSupplier clock;
  private final DeliveryMetrics metrics;
  private final String token = UUID.randomUUID().toString();
  private final Map<String, Worker> workers = new HashMap<>();
  private final Throttled errors = new Throttled(LOG, 10_000);
  private HttpClientAgent http;
  private boolean stopped;

  public Deliveries(Vertx vertx, Webhooks webhooks, WebhookStore store, Feed feed, LongSupplier clock,
                    MeterRegistry registry, long staleSeconds) {
    this.vertx = vertx;
    this.webhooks = webhooks;
    this.store = store;
    this.feed = feed;
    this.clock = clock;
    this.metrics = new DeliveryMetrics(registry, clock, staleSeconds);
  }

  /** Takes and keeps the leases it can, starts and stops workers to match. Called every second. */
  public Future<Void> tick() {
    if (http == null) {
      http = vertx.createHttpClient(new HttpClientOptions().setConnectTimeout(5000).setKeepAlive(true)
          .setMaxRedirects(0), new PoolOptions().setHttp1MaxSize(PARALLEL));
    }
    return webhooks.all().compose(endpoints -> {
      Set<String> seen = new HashSet<>();
      List<Future<Void>> leases = new ArrayList<>();
      for (Endpoint e : endpoints) {
        seen.add(e.id());
        if (!e.active()) {
          stopWorker(e.id(), true);
          metrics.forget(e.id());
          continue;
        }
        leases.add(store.takeLease(e.id(), token, LEASE_MILLIS).map(held -> {
          if (stopped) {
            return null;
          }
          if (held) {
            Worker w = workers.get(e.id());
            if (w == null) {
              w = new Worker(e);
              workers.put(e.id(), w);
              w.schedule(0);
            } else {
              w.endpoint = e;
            }
          } else {
            stopWorker(e.id(), false);
          }
          return null;
        }));
      }
      for (String id : new ArrayList<>(workers.keySet())) {
        if (!seen.contains(id)) {
          stopWorker(id, true);
          metrics.forget(id);
        }
      }
      return Future.join(leases).mapEmpty();
    });
  }

  /** Lets go of every lease (a clean stop: the other instances take the endpoints at once). */
  public Future<Void> stop() {
    stopped = true;
    List<Future<Void>> drops = new ArrayList<>();
    for (String id : new ArrayList<>(workers.keySet())) {
      stopWorker(id, false);
      drops.add(store.dropLease(id, token));
    }
    return Future.join(drops).eventually(() -> http == null ? Future.succeededFuture() : http.close()).mapEmpty();
  }

  private void stopWorker(String id, boolean dropLease) {
    Worker w = workers.remove(id);
    if (w != null) {
      w.stopped = true;
      if (dropLease) {
        store.dropLease(id, token);
      }
    }
  }

  /** The oldest event (ms) an active endpoint has not had yet, or null: the feed must keep it. */
  public Future<Long> oldestNeeded() {
    return webhooks.all().compose(endpoints -> {
      List<String> ids = endpoints.stream().filter(Endpoint::active).map(Endpoint::id).toList();
      if (ids.isEmpty()) {
        return Future.succeededFuture(null);
      }
      return store.states(ids).map(states -> {
        Long min = null;
        for (Map<String, String> s : states) {
          String at = s.get(CURSOR_AT);
          long ms = at == null ? 0 : Long.parseLong(at);
          min = min == null ? ms : Math.min(min, ms);
        }
        return min;
      });
    });
  }

  /** One endpoint's deliveries, while this instance holds its lease. */
  private final class Worker {
    Endpoint endpoint;
    boolean stopped;
    /** The cursor the in-memory state belongs to; events of this window already delivered. */
    String windowCursor;
    final Set<String> delivered = new HashSet<>();
    final Map<String, Integer> attempts = new HashMap<>();
    /** "channel|SKU" -> the availability it confirmed last (null until read from Redis). */
    Map<String, Long> confirmed;
    String savedUnconfirmed = "";
    long failures;
    long nextAttemptAt;

    Worker(Endpoint e) {
      this.endpoint = e;
      metrics.watch(e.id());
    }

    void schedule(long delay) {
      if (stopped || Deliveries.this.stopped) {
        return;
      }
      if (delay <= 0) {
        vertx.runOnContext(v -> run());
      } else {
        vertx.setTimer(delay, t -> run());
      }
    }

    private void run() {
      if (stopped) {
        return;
      }
      step().onComplete(ar -> {
        if (ar.failed()) {
          errors.warn(() -> "webhook " + endpoint.id() + ": delivery pass failed (tried again): " + ar.cause());
          schedule(1000);
        } else {
          schedule(ar.result());
        }
      });
    }

    /** One pass; answers how long to wait before the next (0: at once). */
    private Future<Long> step() {
      long now = clock.getAsLong();
      if (now < nextAttemptAt) {
        return Future.succeededFuture(nextAttemptAt - now);
      }
      return store.stateOf(endpoint.id()).compose(state -> {
        String saved = state.get(CURSOR);
        if (saved == null) {
          return webhooks.startAtTail(endpoint.id()).map(v -> 0L);
        }
        if (!saved.equals(windowCursor)) {
          // A new window (or a rewind by redelivery): nothing of it is delivered yet.
          windowCursor = saved;
          delivered.clear();
          attempts.clear();
        }
        failures = Long.parseLong(state.getOrDefault(FAILURES, "0"));
        savedUnconfirmed = state.getOrDefault(UNCONFIRMED, "");
        Endpoint e = endpoint;
        Future<Void> ready = confirmed != null ? Future.succeededFuture() : store.confirmedOf(e.id()).map(m -> {
          confirmed = new HashMap<>();
          m.forEach((k, v) -> confirmed.put(k, Long.parseLong(v)));
          return null;
        });
        return ready.compose(v -> feed.window(Cursor.decode(saved), WINDOW, e::wants))
            .compose(page -> deliverWindow(e, saved, page), err -> expired(err) ? restartAtOldest(e) : Future.failedFuture(err));
      });
    }

    private Future<Long> deliverWindow(Endpoint e, String saved, Feed.Page page) {
      List<ObjectNode> todo = coalesced(page.events());
      if (todo.isEmpty()) {
        metrics.caughtUp(e.id());
        if (page.next().equals(saved)) {
          return savedUnconfirmed.isEmpty() ? Future.succeededFuture(IDLE_MILLIS)
              : persist(e, Map.of(UNCONFIRMED, "")).map(IDLE_MILLIS);
        }
        Cursor next = Cursor.decode(page.next());
        Map<String, String> fields = position(next);
        fields.put(OLDEST_PENDING, "0");
        fields.put(UNCONFIRMED, "");
        // Only from where this window began: a redelivery may have moved the position back meanwhile.
        return stopped ? Future.succeededFuture(0L) : store.advance(e.id(), saved, fields).map(0L);
      }
      Map<String, Long> since = unconfirmed(page.events());
      long oldest = Instant.parse(todo.get(0).path("at").asText()).toEpochMilli();
      metrics.behind(e.id(), oldest, since);
      StringBuilder text = new StringBuilder();
      since.forEach((k, ms) -> text.append(text.length() == 0 ? "" : ";").append(k).append('|').append(ms));
      String unconfirmedNow = text.toString();
      // The first undelivered event of each SKU (or reservation): later ones wait for it.
      Map<String, ObjectNode> heads = new LinkedHashMap<>();
      for (ObjectNode ev : todo) {
        heads.putIfAbsent(orderKey(ev), ev);
        if (heads.size() == PARALLEL) {
          break;
        }
      }
      List<Future<Attempt>> sent = new ArrayList<>(heads.size());
      heads.values().forEach(ev -> sent.add(send(e, ev)));
      return Future.join(sent).transform(ar -> {
        List<String> logLines = new ArrayList<>();
        Attempt failed = null;
        boolean gone = false;
        for (Future<Attempt> f : sent) {
          Attempt a = f.result();
          logLines.add(a.log());
          metrics.attempt(e.id(), a.ok());
          if (a.ok()) {
            delivered.add(a.eventId());
            ObjectNode ev = heads.values().stream().filter(x -> x.path("id").asText().equals(a.eventId()))
                .findFirst().orElseThrow();
            if (a.type().equals("availability.changed")) {
              String key = ev.path("channel").asText() + "|" + ev.path("sku").asText();
              long available = ev.path("data").path("available").asLong();
              confirmed.put(key, available);
              store.confirm(e.id(), key, available);
            }
          } else {
            failed = failed == null ? a : failed;
            gone |= a.status() == 410;
          }
        }
        Map<String, String> fields = new HashMap<>();
        fields.put(OLDEST_PENDING, Long.toString(oldest));
        if (!unconfirmedNow.equals(savedUnconfirmed)) {
          fields.put(UNCONFIRMED, unconfirmedNow);
        }
        long wait = 0;
        if (failed == null) {
          fields.put(FAILURES, "0");
          fields.put(LAST_SUCCESS, Instant.ofEpochMilli(clock.getAsLong()).toString());
          nextAttemptAt = 0;
        } else {
          failures++;
          fields.put(FAILURES, Long.toString(failures));
          fields.put(LAST_ERROR, failed.error());
          wait = backoff(failures);
          nextAttemptAt = clock.getAsLong() + wait;
        }
        Future<Void> logged = store.appendLog(e.id(), logLines);
        Future<Void> persisted = persist(e, fields);
        long after = wait;
        if (gone) {
          LOG.log(System.Logger.Level.WARNING, "webhook {0}: {1} answered 410 Gone: endpoint disabled (PUT it"
              + " again to resume)", e.id(), e.url());
          stopped = true;
          workers.remove(e.id());
          return Future.join(logged, persisted).compose(v -> webhooks.disable(e, "410 Gone from " + e.url()))
              .compose(v -> store.dropLease(e.id(), token)).map(v -> -1L);
        }
        return Future.join(logged, persisted).map(v -> after);
      });
    }

    /**
     * The feed was trimmed past the endpoint's position: only an endpoint that was disabled longer than
     * the retention (an active one holds the trim back). It goes on from the oldest event kept; what it
     * missed is gone, and the log says so.
     */
    private Future<Long> restartAtOldest(Endpoint e) {
      LOG.log(System.Logger.Level.WARNING, "webhook {0}: its position is older than the feed keeps"
          + " (ALLOT_EVENTS_RETENTION_SECONDS); it goes on from the oldest event kept, the events before are lost"
          + " for it", e.id());
      String from = windowCursor;
      return feed.trimmedBefore().compose(t -> stopped ? Future.succeededFuture()
          : store.advance(e.id(), from, position(new Cursor(t, 0)))).map(0L);
    }

    /**
     * The channels and SKUs of this window whose newest availability differs from what the endpoint
     * confirmed, each since its first undelivered change: kept for GET /v1/sync and the metric.
     */
    private Map<String, Long> unconfirmed(List<ObjectNode> events) {
      Map<String, Long> since = new LinkedHashMap<>();
      Map<String, Long> newest = new HashMap<>();
      for (ObjectNode ev : events) {
        if (!ev.path("type").asText().equals("availability.changed") || delivered.contains(ev.path("id").asText())) {
          continue;
        }
        String key = ev.path("channel").asText() + "|" + ev.path("sku").asText();
        since.putIfAbsent(key, Instant.parse(ev.path("at").asText()).toEpochMilli());
        newest.put(key, ev.path("data").path("available").asLong());
      }
      since.keySet().removeIf(k -> newest.get(k).equals(confirmed.get(k)));
      return since;
    }

    private Future<Void> persist(Endpoint e, Map<String, String> fields) {
      // A worker that lost its lease never writes over the new owner's position.
      return stopped ? Future.succeededFuture() : store.saveState(e.id(), fields);
    }

    /** The window's events not yet delivered, with every availability.changed but the newest per channel and SKU left out. */
    private List<ObjectNode> coalesced(List<ObjectNode> events) {
      Map<String, String> newest = new HashMap<>();
      for (ObjectNode ev : events) {
        if (ev.path("type").asText().equals("availability.changed")) {
          newest.put(ev.path("channel").asText() + "|" + ev.path("sku").asText(), ev.path("id").asText());
        }
      }
      List<ObjectNode> out = new ArrayList<>();
      for (ObjectNode ev : events) {
        String id = ev.path("id").asText();
        if (delivered.contains(id)) {
          continue;
        }
        if (ev.path("type").asText().equals("availability.changed")
            && !id.equals(newest.get(ev.path("channel").asText() + "|" + ev.path("sku").asText()))) {
          continue;
        }
        out.add(ev);
      }
      return out;
    }

    private Future<Attempt> send(Endpoint e, ObjectNode ev) {
      String eventId = ev.path("id").asText();
      int attempt = attempts.merge(eventId, 1, Integer::sum);
      String body = Json.write(ev);
      long ts = clock.getAsLong() / 1000;
      String signature = new Signer(e.secret()).sign(eventId, ts, body);
      long started = System.nanoTime();
      RequestOptions opts = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(e.url())
          .putHeader("content-type", "application/json").putHeader("user-agent", "Allot-Webhooks/1")
          .putHeader("webhook-id", eventId).putHeader("webhook-timestamp", Long.toString(ts))
          .putHeader("webhook-signature", signature);
      return http.request(opts)
          .compose(req -> req.send(Buffer.buffer(body)))
          .compose(resp -> resp.body().map(b -> resp.statusCode()))
          .timeout(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)
          .transform(ar -> {
            long ms = (System.nanoTime() - started) / 1_000_000;
            if (ar.succeeded()) {
              int status = ar.result();
              boolean ok = status >= 200 && status < 300;
              return Future.succeededFuture(new Attempt(eventId, ev.path("type").asText(), attempt, status, ok,
                  ok ? null : "HTTP " + status, ms));
            }
            String err = ar.cause().getClass().getSimpleName() + ": " + ar.cause().getMessage();
            return Future.succeededFuture(new Attempt(eventId, ev.path("type").asText(), attempt, 0, false, err, ms));
          });
    }
  }

  private static boolean expired(Throwable err) {
    return err instanceof AllotException a && a.code().equals("cursor_expired");
  }

  /** Per SKU; events without one (a reservation's) per reservation; else each alone. */
  static String orderKey(ObjectNode ev) {
    if (ev.hasNonNull("sku")) {
      return "sku:" + ev.path("sku").asText();
    }
    String rid = ev.path("data").path("id").asText("");
    return rid.isEmpty() ? "evt:" + ev.path("id").asText() : "res:" + rid;
  }

  /** 1 s, 2 s, 4 s ... up to 5 minutes, each with jitter (50 to 100%). */
  static long backoff(long failures) {
    long base = BACKOFF_FIRST_MILLIS << Math.min(20, Math.max(0, failures - 1));
    long capped = Math.min(BACKOFF_MAX_MILLIS, base);
    return capped / 2 + ThreadLocalRandom.current().nextLong(capped / 2 + 1);
  }
}
