package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.outbound.Signer;
import dev.allot.store.EventLog;
import dev.allot.store.RedisProcess;
import dev.allot.store.RedisStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;

import static dev.allot.Api.expect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Webhooks (API.md, "Push: webhooks") against a real HTTP receiver that checks every signature itself:
 * every event once per change, in order per SKU, retries after failures with the newest availability,
 * 410 disabling, redelivery, and the endpoints' API. Two server instances share the deliveries.
 */
class WebhookTest {
  static final List<String> ALL_TYPES = List.of("reservation.held", "reservation.committed", "reservation.released",
      "reservation.expired", "reservation.shipped", "reservation.cancelled", "movement.applied",
      "availability.changed", "count.drifted");
  static AllotServer server;
  static AllotServer second;
  static Api admin;
  static Api web;
  static Api web2;

  @BeforeAll
  static void start() throws Exception {
    Map<String, String> cfg = Map.of("ALLOT_API_KEYS", TestServer.keys("web"), "ALLOT_OUTBOX_RELAY_MILLIS", "20",
        "ALLOT_SYNC_STALE_SECONDS", "1");
    server = TestServer.start(TestRedis.url(), cfg);
    second = TestServer.start(TestRedis.url(), cfg);
    admin = new Api(server.port(), TestServer.ADMIN);
    web = admin.as("t-web");
    web2 = new Api(second.port(), "t-web");
    admin.location("main");
    admin.channel("web", "[\"main\"]", 0);
  }

  @AfterAll
  static void stop() {
    server.stop();
    second.stop();
  }

  /** Creates an endpoint for the receiver (every type, channel web); answers its id. */
  static String endpoint(Receiver r) {
    String id = "wh-" + Long.toHexString(System.nanoTime()).substring(4);
    String types = String.join("\",\"", ALL_TYPES);
    JsonNode created = expect(admin.put("/v1/webhooks/" + id, "{\"url\":\"" + r.url() + "\",\"types\":[\"" + types
        + "\"],\"channels\":[\"web\"]}"), 200).json();
    assertTrue(created.path("secret").asText().startsWith("whsec_"), created.toString());
    assertEquals("active", created.path("state").asText());
    r.secret(created.path("secret").asText());
    return id;
  }

  static <T> T await(String what, long millis, Supplier<T> value, Predicate<T> done) {
    return ExpiryTest.await(what, millis, value, done);
  }

  static Predicate<JsonNode> about(String sku, Set<String> ids) {
    return e -> sku.equals(e.path("sku").asText()) || ids.contains(e.path("data").path("id").asText());
  }

  static String lastAvailability(List<Receiver.Delivery> ds) {
    List<String> a = describe(ds).stream().filter(t -> t.startsWith("availability")).toList();
    return a.isEmpty() ? "" : a.get(a.size() - 1);
  }

  static List<String> describe(List<Receiver.Delivery> ds) {
    return ds.stream().map(d -> OutboundTest.describe(d.event())).toList();
  }

  @Test
  @DisplayName("the signer matches the Standard Webhooks spec's own example")
  void specVector() {
    assertEquals("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        new Signer("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
            "{\"test\": 2432232314}"));
    assertTrue(Receiver.verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "i", Long.toString(Instant.now()
        .getEpochSecond()), new Signer("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").sign("i", Instant.now()
        .getEpochSecond(), "{}"), "{}"), "the test's receiver agrees with the signer");
  }

  @Test
  @DisplayName("every event arrives once per change, signed, with the feed's id, in order per SKU")
  void everyEventOnce() throws Exception {
    try (Receiver r = new Receiver()) {
      String wh = endpoint(r);
      try {
        String sku = Api.sku("whk");
        admin.receive(sku, "main", 10);
        String a = Api.id("a");
        String b = Api.id("b");
        expect(web.post("/v1/reservations", OutboundTest.cart(a, sku, 3, 600)), 201);
        expect(web.post("/v1/reservations/" + a + "/commit", "{\"orderId\":\"o-7\"}"), 200);
        expect(web2.post("/v1/reservations", OutboundTest.cart(b, sku, 2, 600)), 201);
        expect(web2.post("/v1/reservations/" + b + "/release", null), 200);
        expect(web.post("/v1/reservations/" + a + "/ship", null), 200);
        Predicate<JsonNode> mine = about(sku, Set.of(a, b));
        List<Receiver.Delivery> got = await("the deliveries", 15_000, () -> r.accepted(mine),
            ds -> describe(ds).contains("reservation.shipped " + a) && describe(ds).contains("reservation.released " + b)
                && lastAvailability(ds).equals("availability.changed 7"));
        got.forEach(d -> assertTrue(d.verified(), "signature verified: " + d));
        got.forEach(d -> assertEquals(d.webhookId(), d.event().path("id").asText(), "webhook-id is the event id"));
        Set<String> ids = new HashSet<>();
        got.forEach(d -> assertTrue(ids.add(d.webhookId()), "delivered once: " + d.webhookId()));
        List<String> kinds = describe(got);
        for (String t : List.of("movement.applied", "reservation.held " + a, "reservation.committed " + a,
            "reservation.held " + b, "reservation.released " + b, "reservation.shipped " + a)) {
          assertEquals(1, kinds.stream().filter(t::equals).count(), t + " once in " + kinds);
        }
        // Per SKU in version order; availability may be coalesced, but its last word is the truth (7).
        long version = 0;
        for (Receiver.Delivery d : got) {
          if (d.event().has("version")) {
            assertTrue(d.event().path("version").asLong() >= version, "in order per SKU: " + kinds);
            version = d.event().path("version").asLong();
          }
        }
        List<String> avail = kinds.stream().filter(t -> t.startsWith("availability")).toList();
        assertEquals("availability.changed 7", avail.get(avail.size() - 1), kinds.toString());
        JsonNode committed = got.stream().filter(d -> d.event().path("type").asText().equals("reservation.committed"))
            .findFirst().orElseThrow().event();
        assertEquals("o-7", committed.path("data").path("orderId").asText());
        // The same events as the feed, same ids and bodies.
        Map<String, JsonNode> feed = new HashMap<>();
        OutboundTest.readAll(admin, null, null).events().forEach(e -> feed.put(e.path("id").asText(), e));
        got.forEach(d -> assertEquals(feed.get(d.webhookId()), d.event(), "as in the feed"));
        JsonNode log = expect(admin.get("/v1/webhooks/" + wh + "/deliveries?state=delivered&limit=1000"), 200).json();
        assertTrue(log.path("deliveries").size() >= got.size(), log.toString());
      } finally {
        expect(admin.call("DELETE", "/v1/webhooks/" + wh, null), 204);
      }
    }
  }

  @Test
  @DisplayName("cancelled, expired and count.drifted arrive too, each once")
  void otherTypes() throws Exception {
    try (Receiver r = new Receiver()) {
      String wh = endpoint(r);
      try {
        String sku = Api.sku("wht");
        admin.receive(sku, "main", 10);
        String c = Api.id("c");
        String x = Api.id("x");
        expect(web.post("/v1/reservations", OutboundTest.cart(c, sku, 2, 600)), 201);
        expect(web.post("/v1/reservations/" + c + "/commit", null), 200);
        expect(web.post("/v1/reservations/" + c + "/cancel", null), 200);
        expect(admin.post("/v1/movements", "{\"movements\":[{\"id\":\"" + Api.id("cnt") + "\",\"sku\":\"" + sku
            + "\",\"location\":\"main\",\"type\":\"count\",\"qty\":9}]}"), 200);
        expect(web2.post("/v1/reservations", OutboundTest.cart(x, sku, 1, 1)), 201);
        Predicate<JsonNode> mine = about(sku, Set.of(c, x));
        List<Receiver.Delivery> got = await("the expiry", 20_000, () -> r.accepted(mine),
            ds -> describe(ds).contains("reservation.expired " + x) && lastAvailability(ds).equals("availability.changed 9"));
        List<String> kinds = describe(got);
        for (String t : List.of("reservation.cancelled " + c, "reservation.expired " + x, "count.drifted")) {
          assertEquals(1, kinds.stream().filter(t::equals).count(), t + " once in " + kinds);
        }
        JsonNode drift = got.stream().filter(d -> d.event().path("type").asText().equals("count.drifted")).findFirst()
            .orElseThrow().event();
        assertEquals(-1, drift.path("data").path("drift").asLong(), drift.toString());
      } finally {
        expect(admin.call("DELETE", "/v1/webhooks/" + wh, null), 204);
      }
    }
  }

  @Test
  @DisplayName("an endpoint disabled past the retention goes on from the oldest event kept when enabled again")
  void enabledAfterTheRetention() throws Exception {
    try (RedisProcess own = RedisProcess.start(); Receiver r = new Receiver()) {
      AllotServer alone = TestServer.start(own.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web")));
      io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
      try {
        Api a = new Api(alone.port(), TestServer.ADMIN);
        a.location("main");
        a.channel("web", "[\"main\"]", 0);
        String body = "{\"url\":\"" + r.url() + "\",\"types\":[\"movement.applied\"]}";
        r.secret(expect(a.put("/v1/webhooks/late", body), 200).json().path("secret").asText());
        r.answer(410);
        String sku = Api.sku("ret");
        a.receive(sku, "main", 1);
        await("disabled", 15_000, () -> expect(a.get("/v1/webhooks/late"), 200).json().path("state").asText(),
            "disabled"::equals);
        a.receive(sku, "main", 1);
        RedisStore redis = RedisStore.create(vertx, own.url(), null, 1);
        new EventLog(redis).trimBefore(System.currentTimeMillis() + 1).toCompletionStage().toCompletableFuture()
            .get(5, java.util.concurrent.TimeUnit.SECONDS);
        redis.close();
        r.answer(200);
        expect(a.put("/v1/webhooks/late", body), 200);
        a.receive(sku, "main", 1);
        Predicate<JsonNode> mine = about(sku, Set.of());
        List<Receiver.Delivery> got = await("the movement after the trim", 15_000, () -> r.accepted(mine),
            ds -> !ds.isEmpty());
        assertEquals(3, got.get(0).event().path("data").path("onHand").asLong(),
            "the two trimmed away are lost for it; the next one arrives: " + describe(got));
      } finally {
        alone.stop();
        vertx.close();
      }
    }
  }

  @Test
  @DisplayName("a receiver that fails for a while gets every event after it recovers, in order, with the newest availability")
  void failingReceiverRecovers() throws Exception {
    try (Receiver r = new Receiver()) {
      String wh = endpoint(r);
      try {
        String sku = Api.sku("whf");
        r.answer(500);
        admin.receive(sku, "main", 20);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
          String id = Api.id("f");
          ids.add(id);
          expect((i % 2 == 0 ? web : web2).post("/v1/reservations", OutboundTest.cart(id, sku, 1, 600)), 201);
        }
        Predicate<JsonNode> mine = about(sku, new HashSet<>(ids));
        await("failed attempts", 15_000, () -> r.received().stream().filter(d -> mine.test(d.event())).count(),
            n -> n >= 2);
        JsonNode failed = await("the failures in the log", 15_000,
            () -> expect(admin.get("/v1/webhooks/" + wh + "/deliveries?state=failed"), 200).json(),
            j -> j.path("deliveries").size() >= 1);
        assertEquals(500, failed.path("deliveries").path(0).path("status").asInt());
        assertEquals("failed", failed.path("deliveries").path(0).path("outcome").asText());
        for (int i = 0; i < 3; i++) {
          String id = Api.id("g");
          ids.add(id);
          expect(web.post("/v1/reservations", OutboundTest.cart(id, sku, 1, 600)), 201);
        }
        Predicate<JsonNode> mineNow = about(sku, new HashSet<>(ids));
        r.answer(200);
        List<Receiver.Delivery> got = await("every event after the recovery", 30_000, () -> r.accepted(mineNow),
            ds -> describe(ds).stream().filter(t -> t.startsWith("reservation.held")).count() == 8
                && describe(ds).contains("availability.changed 12"));
        List<String> kinds = describe(got);
        assertEquals(1, kinds.stream().filter(t -> t.equals("movement.applied")).count(), kinds.toString());
        for (String id : ids) {
          assertEquals(1, kinds.stream().filter(t -> t.equals("reservation.held " + id)).count(), id + " in " + kinds);
        }
        List<String> avail = kinds.stream().filter(t -> t.startsWith("availability")).toList();
        assertEquals(List.of("availability.changed 12"), avail,
            "while the receiver failed, newer availability replaced the undelivered one: " + kinds);
        assertEquals("availability.changed 12", kinds.get(kinds.size() - 1), "after every event before it");
        got.forEach(d -> assertTrue(d.verified(), "signature verified: " + d));
        // Retries carry the same webhook-id: every accepted id was first tried while failing, or is new.
        Set<String> accepted = new HashSet<>();
        got.forEach(d -> assertTrue(accepted.add(d.webhookId()), "accepted once: " + d.webhookId()));
      } finally {
        expect(admin.call("DELETE", "/v1/webhooks/" + wh, null), 204);
      }
    }
  }

  @Test
  @DisplayName("a 410 disables the endpoint at once; PUT makes it active again; redelivery resends from a time")
  void goneAndRedelivery() throws Exception {
    try (Receiver r = new Receiver()) {
      String wh = endpoint(r);
      try {
        String sku = Api.sku("whg");
        Instant before = Instant.now().minusSeconds(1);
        r.answer(410);
        admin.receive(sku, "main", 4);
        Predicate<JsonNode> mine = about(sku, Set.of());
        await("the endpoint disabled", 15_000, () -> expect(admin.get("/v1/webhooks/" + wh), 200).json(),
            j -> j.path("state").asText().equals("disabled"));
        int tried = r.received().size();
        assertEquals(1, r.received().stream().filter(d -> mine.test(d.event())).count(), "tried once, then stopped");
        // Deliveries go on for the others: a second endpoint gets the next change, the disabled one nothing.
        try (Receiver other = new Receiver()) {
          String wh2 = endpoint(other);
          try {
            admin.receive(sku, "main", 1);
            await("the other endpoint's delivery", 15_000, () -> other.accepted(mine),
                ds -> describe(ds).contains("availability.changed 5"));
          } finally {
            expect(admin.call("DELETE", "/v1/webhooks/" + wh2, null), 204);
          }
        }
        assertEquals(tried, r.received().size(), "nothing more is sent to a disabled endpoint");
        assertEquals("410 Gone from " + r.url(),
            expect(admin.get("/v1/webhooks/" + wh), 200).json().path("disabledReason").asText());

        r.answer(200);
        String types = String.join("\",\"", ALL_TYPES);
        JsonNode again = expect(admin.put("/v1/webhooks/" + wh, "{\"url\":\"" + r.url() + "\",\"types\":[\"" + types
            + "\"],\"channels\":[\"web\"]}"), 200).json();
        assertEquals("active", again.path("state").asText());
        assertFalse(again.has("secret"), "the secret is shown on creation only");
        List<Receiver.Delivery> got = await("the events after the 410", 15_000, () -> r.accepted(mine),
            ds -> describe(ds).contains("availability.changed 5"));
        Set<String> firstIds = new HashSet<>();
        got.forEach(d -> firstIds.add(d.webhookId()));

        expect(admin.post("/v1/webhooks/" + wh + "/redeliver", "{\"since\":\"" + before + "\"}"), 202);
        List<Receiver.Delivery> twice = await("the redelivery", 15_000, () -> r.accepted(mine),
            ds -> ds.size() >= got.size() + 3);
        Set<String> redelivered = new HashSet<>();
        twice.subList(got.size(), twice.size()).forEach(d -> redelivered.add(d.webhookId()));
        assertEquals(firstIds, redelivered, "the same events, with the same ids");
        assertTrue(describe(twice.subList(got.size(), twice.size())).contains("movement.applied"),
            "the first movement (refused by the 410) is sent again: " + describe(twice));
      } finally {
        expect(admin.call("DELETE", "/v1/webhooks/" + wh, null), 204);
      }
    }
  }

  @Test
  @DisplayName("GET /v1/sync and the metrics name a failing endpoint, its lag and its stale SKUs, and clear on recovery")
  void syncHealth() throws Exception {
    try (Receiver r = new Receiver()) {
      String wh = endpoint(r);
      try {
        String sku = Api.sku("whs");
        r.answer(503);
        admin.receive(sku, "main", 3);
        JsonNode failing = await("the endpoint failing with a stale SKU", 15_000, () -> sync(wh),
            j -> j.path("state").asText().equals("failing") && j.path("lagSeconds").asLong() >= 1
                && j.path("channels").path("web").path("staleSkus").toString().contains(sku));
        assertTrue(failing.path("failuresInARow").asLong() >= 1, failing.toString());
        assertEquals("HTTP 503", failing.path("lastError").asText());
        String metrics = await("the metrics", 15_000, () -> new Api(server.port(), null).get("/metrics").text() + "\n"
                + new Api(second.port(), null).get("/metrics").text(),
            m -> m.lines().anyMatch(l -> l.startsWith("allot_sync_stale_skus{") && l.contains("endpoint=\"" + wh + "\"")
                && l.contains("channel=\"web\"") && !l.endsWith(" 0.0")));
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("allot_webhook_lag_seconds{") && l.contains(wh)
            && !l.endsWith(" 0.0")), "the lag gauge names the endpoint");
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("allot_webhook_deliveries_total{") && l.contains(wh)
            && l.contains("outcome=\"failed\"")), "failed attempts are counted");

        r.answer(200);
        JsonNode healthy = await("the endpoint healthy again", 30_000, () -> sync(wh),
            j -> j.path("state").asText().equals("active") && j.path("lagSeconds").asLong() == 0
                && j.path("channels").path("web").path("staleSkus").isEmpty());
        assertFalse(healthy.path("lastSuccessAt").isNull(), healthy.toString());
        assertEquals(403, web.get("/v1/sync").status());
      } finally {
        expect(admin.call("DELETE", "/v1/webhooks/" + wh, null), 204);
      }
    }
  }

  static JsonNode sync(String wh) {
    for (JsonNode e : expect(admin.get("/v1/sync"), 200).json().path("endpoints")) {
      if (e.path("id").asText().equals(wh)) {
        return e;
      }
    }
    throw new AssertionError("no " + wh + " in GET /v1/sync");
  }

  @Test
  @DisplayName("endpoints: validation, secrets only on creation, admin only, list, 404 and delete")
  void endpointsApi() {
    String id = "wh-api-" + Long.toHexString(System.nanoTime()).substring(8);
    assertEquals("invalid_url", expect(admin.put("/v1/webhooks/" + id,
        "{\"url\":\"https://user:pw@example.com/x\",\"types\":[\"reservation.held\"]}"), 400).code());
    assertEquals("invalid_url", expect(admin.put("/v1/webhooks/" + id,
        "{\"url\":\"ftp://example.com/x\",\"types\":[\"reservation.held\"]}"), 400).code());
    assertEquals("invalid_types", expect(admin.put("/v1/webhooks/" + id,
        "{\"url\":\"https://example.com/x\",\"types\":[\"reservation.hold\"]}"), 400).code());
    assertEquals("invalid_types", expect(admin.put("/v1/webhooks/" + id,
        "{\"url\":\"https://example.com/x\",\"types\":[]}"), 400).code());
    assertEquals("invalid_channels", expect(admin.put("/v1/webhooks/" + id,
        "{\"url\":\"https://example.com/x\",\"types\":[\"reservation.held\"],\"channels\":[]}"), 400).code());
    assertEquals("invalid_webhook", expect(admin.put("/v1/webhooks/Bad.Id",
        "{\"url\":\"https://example.com/x\",\"types\":[\"reservation.held\"]}"), 400).code());
    assertEquals(403, web.put("/v1/webhooks/" + id, "{\"url\":\"https://example.com/x\",\"types\":[\"reservation.held\"]}")
        .status());
    JsonNode created = expect(admin.put("/v1/webhooks/" + id,
        "{\"url\":\"http://10.0.0.5:8080/hook\",\"types\":[\"reservation.committed\"]}"), 200).json();
    assertTrue(created.path("secret").asText().startsWith("whsec_"));
    assertTrue(created.path("channels").isNull(), "no filter: every channel");
    JsonNode listed = expect(admin.get("/v1/webhooks"), 200).json();
    JsonNode mine = null;
    for (JsonNode w : listed.path("webhooks")) {
      assertFalse(w.has("secret"), "never listed: " + w);
      if (w.path("id").asText().equals(id)) {
        mine = w;
      }
    }
    assertEquals("http://10.0.0.5:8080/hook", mine.path("url").asText());
    assertFalse(expect(admin.get("/v1/webhooks/" + id), 200).json().has("secret"));
    assertEquals(403, web.get("/v1/webhooks").status());
    expect(admin.call("DELETE", "/v1/webhooks/" + id, null), 204);
    assertEquals("unknown_webhook", expect(admin.get("/v1/webhooks/" + id), 404).code());
    assertEquals("unknown_webhook", expect(admin.call("DELETE", "/v1/webhooks/" + id, null), 404).code());
  }
}
