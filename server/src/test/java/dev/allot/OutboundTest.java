package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.stock.Json;
import dev.allot.store.EventLog;
import dev.allot.store.RedisProcess;
import dev.allot.store.RedisStore;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static dev.allot.Api.expect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The change feed (API.md, "Outbound"): every change makes its events in the same atomic step, and
 * GET /v1/events gives them once each, in order per SKU, from resumable cursors. Runs against a
 * standalone Redis and, in the suite's cluster run, a 3-master cluster (where the outboxes are relayed).
 */
class OutboundTest {
  static AllotServer server;
  static AllotServer second;
  static Api admin;
  static Api web;
  static Api web2;

  @BeforeAll
  static void start() throws Exception {
    Map<String, String> cfg = Map.of("ALLOT_API_KEYS", TestServer.keys("web"), "ALLOT_SWEEP_INTERVAL_MILLIS", "100",
        "ALLOT_OUTBOX_RELAY_MILLIS", "20");
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

  /** Every event from {@code cursor} on (null: from the start), and the cursor after the last one. */
  record Read(List<JsonNode> events, String next) {
  }

  static Read readAll(Api api, String cursor, String query) {
    List<JsonNode> out = new ArrayList<>();
    String at = cursor;
    while (true) {
      String q = "/v1/events?limit=1000" + (at == null ? "" : "&after=" + at) + (query == null ? "" : "&" + query);
      JsonNode page = expect(api.get(q), 200).json();
      page.path("events").forEach(out::add);
      String next = page.path("next").asText();
      assertFalse(next.isEmpty(), "every page has a next cursor");
      if (page.path("events").isEmpty() || next.equals(at)) {
        return new Read(out, next);
      }
      at = next;
    }
  }

  static String tail() {
    return tail(admin);
  }

  static String tail(Api api) {
    return readAll(api, null, null).next();
  }

  /** Polls the feed from {@code cursor} until {@code done} holds for the events that {@code mine} picks. */
  static List<JsonNode> awaitEvents(String cursor, Predicate<JsonNode> mine, Predicate<List<JsonNode>> done,
                                    String what) {
    return awaitEvents(admin, cursor, mine, done, what);
  }

  static List<JsonNode> awaitEvents(Api api, String cursor, Predicate<JsonNode> mine, Predicate<List<JsonNode>> done,
                                    String what) {
    return ExpiryTest.await(what, 10_000, () -> readAll(api, cursor, null).events().stream().filter(mine).toList(), done);
  }

  static List<String> types(List<JsonNode> events) {
    return events.stream().map(e -> e.path("type").asText()).toList();
  }

  /**
   * The events of this SKU and these reservations; availability only for the channel "web" (other test
   * classes of the same Redis add channels that sell "main" too).
   */
  static Predicate<JsonNode> about(String sku, Set<String> ids) {
    return e -> {
      if (e.path("type").asText().equals("availability.changed") && !e.path("channel").asText().equals("web")) {
        return false;
      }
      return sku.equals(e.path("sku").asText()) || ids.contains(e.path("data").path("id").asText());
    };
  }

  /** "type id" for a reservation event, "type available" for availability, else the type. */
  static String describe(JsonNode e) {
    String type = e.path("type").asText();
    if (type.startsWith("reservation.")) {
      return type + " " + e.path("data").path("id").asText();
    }
    if (type.equals("availability.changed")) {
      return type + " " + e.path("data").path("available").asLong();
    }
    return type;
  }

  static String cart(String id, String sku, int qty, int ttl) {
    return ExpiryTest.cart(id, sku, qty, ttl);
  }

  @Test
  @DisplayName("every event type arrives once per change, with its data, in version order per SKU")
  void everyTypeOncePerChange() {
    String from = tail();
    String sku = Api.sku("out");
    admin.receive(sku, "main", 10);
    String a = Api.id("a");
    String b = Api.id("b");
    String c = Api.id("c");
    String d = Api.id("d");
    expect(web.post("/v1/reservations", cart(a, sku, 3, 600)), 201);
    expect(web.post("/v1/reservations/" + a + "/commit", "{\"orderId\":\"ord-1\"}"), 200);
    expect(web.post("/v1/reservations/" + a + "/ship", null), 200);
    expect(web2.post("/v1/reservations", cart(b, sku, 2, 600)), 201);
    expect(web2.post("/v1/reservations/" + b + "/release", null), 200);
    expect(web.post("/v1/reservations", cart(c, sku, 1, 600)), 201);
    expect(web.post("/v1/reservations/" + c + "/commit", null), 200);
    expect(web.post("/v1/reservations/" + c + "/cancel", null), 200);
    expect(admin.post("/v1/movements", "{\"movements\":[{\"id\":\"" + Api.id("cnt") + "\",\"sku\":\"" + sku
        + "\",\"location\":\"main\",\"type\":\"count\",\"qty\":6}]}"), 200);
    expect(web.post("/v1/reservations", cart(d, sku, 2, 1)), 201);

    Set<String> ids = Set.of(a, b, c, d);
    // On a cluster the expiry's record event and the SKU's last availability come through different
    // outboxes, relayed separately: wait for both (12 stock events), not only the first to arrive.
    List<JsonNode> events = awaitEvents(from, about(sku, ids),
        got -> types(got).contains("reservation.expired")
            && types(got).stream().filter(t -> !t.startsWith("reservation.")).count() >= 12, "the expiry of " + d);
    // Per SKU, the stock events in version order; per reservation, its events in order. On a cluster the
    // two come from different outboxes, so only a standalone Redis promises the whole interleaving.
    List<String> whole = events.stream().map(OutboundTest::describe).toList();
    List<String> expected = List.of(
        "movement.applied", "availability.changed 10",
        "reservation.held " + a, "availability.changed 7",
        "reservation.committed " + a,
        "reservation.shipped " + a,
        "reservation.held " + b, "availability.changed 5",
        "reservation.released " + b, "availability.changed 7",
        "reservation.held " + c, "availability.changed 6",
        "reservation.committed " + c,
        "reservation.cancelled " + c, "availability.changed 7",
        "movement.applied", "count.drifted", "availability.changed 6",
        "reservation.held " + d, "availability.changed 4",
        "reservation.expired " + d, "availability.changed 6");
    if (!TestRedis.clusterMode()) {
      assertEquals(expected, whole);
    }
    assertEquals(expected.stream().filter(t -> !t.startsWith("reservation.")).toList(),
        whole.stream().filter(t -> !t.startsWith("reservation.")).toList(), "the SKU's events, in order");
    for (String id : ids) {
      assertEquals(expected.stream().filter(t -> t.endsWith(" " + id)).toList(),
          whole.stream().filter(t -> t.endsWith(" " + id)).toList(), "the events of " + id + ", in order");
    }
    assertEquals(expected.size(), whole.size(), "nothing more: " + whole);
    Set<String> eventIds = new HashSet<>();
    events.forEach(e -> assertTrue(eventIds.add(e.path("id").asText()), "event ids are unique: " + e));
    long version = 0;
    long availabilityVersion = 0;
    for (JsonNode e : events) {
      if (e.has("version")) {
        // A movement and the availability it changed share the change's version.
        assertTrue(e.path("version").asLong() >= version, "versions never go back per SKU: " + e);
        version = e.path("version").asLong();
      }
      if (e.path("type").asText().equals("availability.changed")) {
        assertTrue(version > availabilityVersion, "each availability event is a newer version: " + e);
        availabilityVersion = version;
      }
      assertTrue(e.path("id").asText().startsWith("evt_"), e.toString());
      assertFalse(e.path("at").asText().isEmpty(), e.toString());
    }
    JsonNode committed = events.stream().filter(e -> e.path("type").asText().equals("reservation.committed"))
        .findFirst().orElseThrow();
    assertEquals("ord-1", committed.path("data").path("orderId").asText());
    assertEquals("web", committed.path("channel").asText());
    assertEquals("committed", committed.path("data").path("state").asText());
    JsonNode line = committed.path("data").path("lines").path(0);
    assertEquals(sku, line.path("sku").asText());
    assertEquals("main", line.path("allocations").path(0).path("location").asText());
    assertEquals(3, line.path("allocations").path(0).path("qty").asLong());
    JsonNode drifted = events.stream().filter(e -> e.path("type").asText().equals("count.drifted")).findFirst()
        .orElseThrow();
    assertEquals(-1, drifted.path("data").path("drift").asLong(), "7 on hand counted as 6: " + drifted);
    JsonNode avail = events.stream().filter(e -> e.path("type").asText().equals("availability.changed")).findFirst()
        .orElseThrow();
    assertEquals(10, avail.path("data").path("available").asLong());
    assertEquals("web", avail.path("channel").asText());
    assertEquals(sku, avail.path("data").path("sku").asText());
    assertEquals(avail.path("version").asLong(), avail.path("data").path("version").asLong());
  }

  @Test
  @DisplayName("a cursor resumes where it was: pages of one event give the same events as one read, and again")
  void cursorsResume() {
    String from = tail();
    String sku = Api.sku("cur");
    admin.receive(sku, "main", 5);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      String id = Api.id("p");
      ids.add(id);
      expect(web.post("/v1/reservations", cart(id, sku, 1, 600)), 201);
    }
    Predicate<JsonNode> mine = about(sku, new HashSet<>(ids));
    List<JsonNode> all = awaitEvents(from, mine, got -> got.size() == 10, "4 holds and their availability");
    List<String> whole = all.stream().map(e -> e.path("id").asText()).toList();

    List<String> paged = new ArrayList<>();
    String at = from;
    List<String> cursors = new ArrayList<>();
    for (int i = 0; i < 10_000 && paged.size() < whole.size(); i++) {
      JsonNode page = expect(admin.get("/v1/events?limit=1&after=" + at), 200).json();
      cursors.add(at);
      page.path("events").forEach(e -> {
        if (mine.test(e)) {
          paged.add(e.path("id").asText());
        }
      });
      at = page.path("next").asText();
    }
    assertEquals(whole, paged, "one event a page, same events in the same order");
    // The same cursor again: the same page.
    String again = cursors.get(cursors.size() / 2);
    assertEquals(expect(admin.get("/v1/events?limit=3&after=" + again), 200).json(),
        expect(admin.get("/v1/events?limit=3&after=" + again), 200).json());
    // Past the end: nothing, and the same cursor to poll with.
    String end = readAll(admin, from, null).next();
    JsonNode empty = expect(admin.get("/v1/events?after=" + end), 200).json();
    assertEquals(0, empty.path("events").size());
    assertEquals(end, empty.path("next").asText());
  }

  @Test
  @DisplayName("type filters; bad cursors and types are 400; only admins read the feed")
  void filtersAndRefusals() {
    String from = tail();
    String sku = Api.sku("flt");
    admin.receive(sku, "main", 5);
    String id = Api.id("f");
    expect(web.post("/v1/reservations", cart(id, sku, 1, 600)), 201);
    awaitEvents(from, about(sku, Set.of(id)), got -> got.size() == 4, "receive and hold");
    List<JsonNode> held = readAll(admin, from, "type=reservation.held,movement.applied").events().stream()
        .filter(about(sku, Set.of(id))).toList();
    // Sorted: on a cluster the movement's and the reservation's events come from different outboxes.
    assertEquals(List.of("movement.applied", "reservation.held"), types(held).stream().sorted().toList());
    List<JsonNode> repeated = readAll(admin, from, "type=reservation.held&type=movement.applied").events().stream()
        .filter(about(sku, Set.of(id))).toList();
    assertEquals(types(held).stream().sorted().toList(), types(repeated).stream().sorted().toList());

    assertEquals("invalid_type", expect(admin.get("/v1/events?type=reservation.hold"), 400).code());
    assertEquals("invalid_cursor", expect(admin.get("/v1/events?after=not-a-cursor"), 400).code());
    assertEquals("invalid_limit", expect(admin.get("/v1/events?limit=0"), 400).code());
    assertEquals(403, web.get("/v1/events").status());
    assertEquals(403, admin.as(TestServer.READER).get("/v1/events").status());
  }

  @Test
  @DisplayName("parallel buyers on two instances: one reservation.held per 201, none for a 409, no event lost")
  void parallelBuyers() {
    String from = tail();
    String sku = Api.sku("par");
    admin.receive(sku, "main", 40);
    Api.Buyers buyers = Api.parallelBuyers(120, "pb", id -> cart(id, sku, 1, 600), web, web2);
    List<String> ids = buyers.ids();
    Set<String> created = buyers.held();
    assertEquals(40, created.size());
    List<JsonNode> events = awaitEvents(from, about(sku, new HashSet<>(ids)),
        got -> got.stream().filter(e -> e.path("type").asText().equals("reservation.held")).count() >= 40
            && got.stream().anyMatch(e -> e.path("data").path("available").asLong(-1) == 0), "40 holds");
    Map<String, Integer> heldEvents = new HashMap<>();
    events.stream().filter(e -> e.path("type").asText().equals("reservation.held"))
        .forEach(e -> heldEvents.merge(e.path("data").path("id").asText(), 1, Integer::sum));
    assertEquals(created, heldEvents.keySet(), "exactly the 201s have a held event");
    heldEvents.forEach((id, n) -> assertEquals(1, n, id + " held once"));
    // Each held event's data is the buyer's 201 document (standalone: read back from a compact entry).
    events.stream().filter(e -> e.path("type").asText().equals("reservation.held")).forEach(e ->
        assertEquals(Json.read(buyers.bodies().get(e.path("data").path("id").asText())), e.path("data"), e.toString()));
    assertEquals(events.size(), events.stream().map(e -> e.path("id").asText()).distinct().count(),
        "every event its own id, also those of one group commit's entry");
    long version = 0;
    long lastAvailable = Long.MAX_VALUE;
    for (JsonNode e : events) {
      if (e.path("type").asText().equals("availability.changed")) {
        assertTrue(e.path("version").asLong() > version, "in version order: " + e);
        assertTrue(e.path("data").path("available").asLong() < lastAvailable, "only falls while buyers hold: " + e);
        version = e.path("version").asLong();
        lastAvailable = e.path("data").path("available").asLong();
      }
    }
    assertEquals(0, lastAvailable, "the last availability event says sold out");

    // The holds decided at once, on both instances: every other one committed with an order id that a
    // comma, a quote or a newline would break if the feed joined them as text, the rest released.
    String decided = tail();
    List<String> held = new ArrayList<>(created);
    Map<String, String> orders = new HashMap<>();
    List<java.util.concurrent.CompletableFuture<Api.Res>> calls = new ArrayList<>();
    for (int i = 0; i < held.size(); i++) {
      String id = held.get(i);
      Api via = i % 2 == 0 ? web : web2;
      if (i % 4 < 2) {
        orders.put(id, "o,\"" + i + "\"\n/" + id);
        calls.add(via.async("POST", "/v1/reservations/" + id + "/commit",
            Json.write(Json.object().put("orderId", orders.get(id)))));
      } else {
        calls.add(via.async("POST", "/v1/reservations/" + id + "/release", null));
      }
    }
    calls.forEach(c -> Api.expect(c.join(), 200));
    List<JsonNode> decisions = awaitEvents(decided, e -> created.contains(e.path("data").path("id").asText()),
        got -> got.size() >= 40, "40 decisions");
    assertEquals(40, decisions.size(), "one event per decision: " + types(decisions));
    assertEquals(40, decisions.stream().map(e -> e.path("id").asText()).distinct().count(), "each its own id");
    for (JsonNode e : decisions) {
      String id = e.path("data").path("id").asText();
      if (orders.containsKey(id)) {
        assertEquals("reservation.committed", e.path("type").asText(), id);
        assertEquals(orders.get(id), e.path("data").path("orderId").asText(), id);
      } else {
        assertEquals("reservation.released", e.path("type").asText(), id);
        assertTrue(e.path("data").path("orderId").isMissingNode() || e.path("data").path("orderId").isNull(), e.toString());
      }
      assertEquals(e.path("type").asText().substring("reservation.".length()), e.path("data").path("state").asText());
    }
  }

  @Test
  @DisplayName("a cursor from before the trim point is 410 cursor_expired; the feed reads on from its start")
  void expiredCursor() throws Exception {
    try (RedisProcess own = RedisProcess.start()) {
      AllotServer alone = TestServer.start(own.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web")));
      Vertx vertx = Vertx.vertx();
      try {
        Api a = new Api(alone.port(), TestServer.ADMIN);
        a.location("main");
        a.channel("web", "[\"main\"]", 0);
        String sku = Api.sku("trm");
        a.receive(sku, "main", 3);
        Read first = readAll(a, null, null);
        assertEquals(List.of("movement.applied", "availability.changed"), types(first.events()));
        String old = expect(a.get("/v1/events?limit=1"), 200).json().path("next").asText();
        RedisStore redis = RedisStore.create(vertx, own.url(), null, 1);
        EventLog log = new EventLog(redis);
        long trimmed = log.trimBefore(System.currentTimeMillis() + 1).toCompletionStage().toCompletableFuture()
            .get(5, TimeUnit.SECONDS);
        assertEquals(2L, trimmed, "both entries were past the (test's) retention");
        redis.close();
        assertEquals("cursor_expired", expect(a.get("/v1/events?after=" + URLEncoder.encode(old,
            StandardCharsets.UTF_8)), 410).code());
        a.receive(sku, "main", 1);
        assertEquals(List.of("movement.applied", "availability.changed"), types(readAll(a, null, null).events()),
            "without a cursor the feed starts at the oldest event kept");
      } finally {
        alone.stop();
        vertx.close();
      }
    }
  }
}
