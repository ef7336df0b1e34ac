package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Map;

import static dev.allot.Api.expect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The HTTP contract end to end against a real server and a real Redis: every status and code in scope. */
class ApiTest {
  static AllotServer server;
  static Api admin;
  static Api web;
  static Api reader;
  static Api b2b;
  String sku;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start(TestRedis.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web", "b2b")));
    admin = new Api(server.port(), TestServer.ADMIN);
    web = admin.as("t-web");
    b2b = admin.as("t-b2b");
    reader = admin.as(TestServer.READER);
    admin.location("main");
    admin.location("shop");
    admin.channel("web", "[\"main\",\"shop\"]", 0);
    admin.channel("b2b", "[\"main\"]", 3);
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  @BeforeEach
  void stock() {
    sku = Api.sku("api");
    admin.receive(sku, "main", 10);
    admin.receive(sku, "shop", 5);
  }

  private String reserveBody(String id, String channel, String sku, int qty, int ttl) {
    return "{\"id\":\"" + id + "\",\"channel\":\"" + channel + "\",\"ttlSeconds\":" + ttl
        + ",\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":" + qty + "}]}";
  }

  @Test
  @DisplayName("a reservation draws the channel's locations in order, then commits, ships, and the numbers follow")
  void lifecycle() {
    String id = Api.id("cart");
    Api.Res r = expect(web.post("/v1/reservations", reserveBody(id, "web", " " + sku.toLowerCase() + " ", 12, 60)), 201);
    JsonNode line = r.json().path("lines").path(0);
    assertEquals(sku, line.path("sku").asText(), "SKU codes are normalised");
    assertEquals("held", r.json().path("state").asText());
    assertEquals("main", line.path("allocations").path(0).path("location").asText());
    assertEquals(10, line.path("allocations").path(0).path("qty").asLong());
    assertEquals("shop", line.path("allocations").path(1).path("location").asText());
    assertEquals(2, line.path("allocations").path(1).path("qty").asLong());
    assertNotNull(r.json().path("expiresAt").asText(null));
    assertEquals(3, web.channelAvailable("web", sku));
    assertEquals(2, admin.sku(sku, "shop").path("reserved").asLong());

    expect(reader.get("/v1/reservations/" + id), 200);
    Api.Res c = expect(web.post("/v1/reservations/" + id + "/commit", "{\"orderId\":\"o-1\"}"), 200);
    assertEquals("committed", c.json().path("state").asText());
    assertEquals("o-1", c.json().path("orderId").asText());
    assertEquals(10, admin.sku(sku, "main").path("committed").asLong());
    assertEquals(0, admin.sku(sku, "main").path("reserved").asLong());
    assertEquals(3, web.channelAvailable("web", sku));

    // Transitions are idempotent; a different orderId on a committed one conflicts.
    expect(web.post("/v1/reservations/" + id + "/commit", "{\"orderId\":\"o-1\"}"), 200);
    expect(web.post("/v1/reservations/" + id + "/commit", null), 200);
    assertEquals("idempotency_conflict", expect(web.post("/v1/reservations/" + id + "/commit", "{\"orderId\":\"o-2\"}"), 409).code());
    assertEquals("reservation_committed", expect(web.post("/v1/reservations/" + id + "/release", null), 409).code());
    assertEquals("reservation_committed", expect(web.post("/v1/reservations/" + id + "/extend", "{\"ttlSeconds\":30}"), 409).code());

    Api.Res s = expect(web.post("/v1/reservations/" + id + "/ship", null), 200);
    assertEquals("shipped", s.json().path("state").asText());
    expect(web.post("/v1/reservations/" + id + "/ship", null), 200);
    JsonNode main = admin.sku(sku, "main");
    assertEquals(0, main.path("onHand").asLong());
    assertEquals(0, main.path("committed").asLong());
    assertEquals(3, admin.sku(sku, "shop").path("onHand").asLong());
    assertEquals("reservation_shipped", expect(web.post("/v1/reservations/" + id + "/cancel", null), 409).code());
  }

  @Test
  @DisplayName("release returns held units at once; cancel returns committed units")
  void releaseAndCancel() {
    String a = Api.id("cart");
    expect(web.post("/v1/reservations", reserveBody(a, "web", sku, 4, 60)), 201);
    assertEquals(11, web.channelAvailable("web", sku));
    assertEquals("released", expect(web.post("/v1/reservations/" + a + "/release", null), 200).json().path("state").asText());
    assertEquals(15, web.channelAvailable("web", sku));
    expect(web.post("/v1/reservations/" + a + "/release", null), 200);
    assertEquals("reservation_released", expect(web.post("/v1/reservations/" + a + "/commit", null), 409).code());
    assertEquals("reservation_released", expect(web.post("/v1/reservations/" + a + "/extend", "{\"ttlSeconds\":5}"), 409).code());

    String b = Api.id("cart");
    expect(web.post("/v1/reservations", reserveBody(b, "web", sku, 6, 60)), 201);
    assertEquals("reservation_held", expect(web.post("/v1/reservations/" + b + "/cancel", null), 409).code());
    expect(web.post("/v1/reservations/" + b + "/commit", null), 200);
    assertEquals(9, web.channelAvailable("web", sku));
    assertEquals("cancelled", expect(web.post("/v1/reservations/" + b + "/cancel", null), 200).json().path("state").asText());
    expect(web.post("/v1/reservations/" + b + "/cancel", null), 200);
    assertEquals(15, web.channelAvailable("web", sku));
    assertEquals(0, admin.sku(sku, "main").path("committed").asLong());
  }

  @Test
  @DisplayName("not enough stock: 409 insufficient_stock names every short line, and nothing is held")
  void insufficient() {
    String other = Api.sku("api");
    admin.receive(other, "main", 1);
    String id = Api.id("cart");
    String body = "{\"id\":\"" + id + "\",\"channel\":\"web\",\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":3},"
        + "{\"sku\":\"" + other + "\",\"qty\":2}]}";
    Api.Res r = expect(web.post("/v1/reservations", body), 409);
    assertEquals("insufficient_stock", r.code());
    assertEquals("application/problem+json", r.raw().headers().firstValue("content-type").orElse(""));
    assertEquals(1, r.json().path("lines").size());
    assertEquals(other, r.json().path("lines").path(0).path("sku").asText());
    assertEquals(2, r.json().path("lines").path(0).path("requested").asLong());
    assertEquals(1, r.json().path("lines").path(0).path("available").asLong());
    assertEquals(15, web.channelAvailable("web", sku), "the line that could be met is not held");
    assertEquals(0, admin.sku(sku, "main").path("reserved").asLong());
    // The same id and body replays the refusal; it is not a reservation.
    assertEquals(r.text(), expect(web.post("/v1/reservations", body), 409).text());
    assertEquals("unknown_reservation", expect(web.get("/v1/reservations/" + id), 404).code());
  }

  @Test
  @DisplayName("a channel's buffer is never sold and is subtracted from its availability")
  void buffer() {
    assertEquals(7, b2b.channelAvailable("b2b", sku));
    Api.Res r = expect(b2b.post("/v1/reservations", reserveBody(Api.id("b"), "b2b", sku, 8, 60)), 409);
    assertEquals(7, r.json().path("lines").path(0).path("available").asLong());
    expect(b2b.post("/v1/reservations", reserveBody(Api.id("b"), "b2b", sku, 7, 60)), 201);
    assertEquals(0, b2b.channelAvailable("b2b", sku));
    assertEquals(8, web.channelAvailable("web", sku));
    JsonNode read = expect(reader.get("/v1/skus/" + sku), 200).json();
    assertEquals(0, read.path("channels").path("b2b").asLong());
    assertEquals(8, read.path("channels").path("web").asLong());
    assertEquals(8, read.path("available").asLong());
    assertTrue(read.path("version").asLong() >= 3);
  }

  @Test
  @DisplayName("replaying a reservation with the same id and body returns the first answer and changes nothing")
  void idempotentCreate() {
    String id = Api.id("cart");
    String body = reserveBody(id, "web", sku, 5, 60);
    Api.Res first = expect(web.post("/v1/reservations", body), 201);
    long version = expect(reader.get("/v1/skus/" + sku), 200).json().path("version").asLong();
    Api.Res again = expect(web.post("/v1/reservations", body), 201);
    assertEquals(first.text(), again.text());
    assertEquals(10, web.channelAvailable("web", sku));
    assertEquals(version, expect(reader.get("/v1/skus/" + sku), 200).json().path("version").asLong());
    Api.Res other = expect(web.post("/v1/reservations", reserveBody(id, "web", sku, 6, 60)), 409);
    assertEquals("idempotency_conflict", other.code());
    assertEquals(10, web.channelAvailable("web", sku));
    // After commit the create replay still answers the first outcome.
    expect(web.post("/v1/reservations/" + id + "/commit", null), 200);
    assertEquals(first.text(), expect(web.post("/v1/reservations", body), 201).text());
  }

  @Test
  @DisplayName("movements: receive, adjust and count apply once by id; duplicates and conflicts change nothing")
  void movements() {
    String m1 = Api.id("mv");
    String rcv = "{\"movements\":[{\"id\":\"" + m1 + "\",\"sku\":\"" + sku + "\",\"location\":\"main\",\"type\":\"receive\",\"qty\":40,\"reason\":\"PO 1\"}]}";
    JsonNode r = expect(admin.post("/v1/movements", rcv), 200).json().path("results").path(0);
    assertEquals("applied", r.path("status").asText());
    assertEquals(50, r.path("onHand").asLong());
    assertEquals(50, r.path("available").asLong());
    JsonNode dup = expect(admin.post("/v1/movements", rcv), 200).json().path("results").path(0);
    assertEquals("duplicate", dup.path("status").asText());
    assertEquals(50, dup.path("onHand").asLong());
    assertEquals(50, admin.sku(sku, "main").path("onHand").asLong());
    // Same id, different movement (even on another SKU): rejected, nothing applied.
    String other = Api.sku("api");
    JsonNode conflict = expect(admin.post("/v1/movements", rcv.replace(sku, other)), 200).json().path("results").path(0);
    assertEquals("rejected", conflict.path("status").asText());
    assertEquals("idempotency_conflict", conflict.path("code").asText());
    expect(admin.get("/v1/skus/" + other), 404);

    String batch = "{\"movements\":["
        + "{\"id\":\"" + Api.id("mv") + "\",\"sku\":\"" + sku + "\",\"location\":\"main\",\"type\":\"adjust\",\"qty\":-2},"
        + "{\"id\":\"" + Api.id("mv") + "\",\"sku\":\"" + sku + "\",\"location\":\"nowhere\",\"type\":\"receive\",\"qty\":1},"
        + "{\"id\":\"" + Api.id("mv") + "\",\"sku\":\"" + sku + "\",\"location\":\"shop\",\"type\":\"adjust\",\"qty\":-99},"
        + "{\"id\":\"" + Api.id("mv") + "\",\"sku\":\"" + sku + "\",\"location\":\"shop\",\"type\":\"count\",\"qty\":7}]}";
    JsonNode res = expect(admin.post("/v1/movements", batch), 200).json().path("results");
    assertEquals("applied", res.path(0).path("status").asText());
    assertEquals(48, res.path(0).path("onHand").asLong());
    assertEquals("unknown_location", res.path(1).path("code").asText());
    assertEquals("negative_on_hand", res.path(2).path("code").asText());
    assertEquals("applied", res.path(3).path("status").asText());
    assertEquals(2, res.path(3).path("drift").asLong());
    assertEquals(7, admin.sku(sku, "shop").path("onHand").asLong());
  }

  @Test
  @DisplayName("a count below what is promised reports the shortfall instead of hiding it")
  void countShortfall() {
    expect(web.post("/v1/reservations", reserveBody(Api.id("cart"), "web", sku, 9, 60)), 201);
    JsonNode r = expect(admin.post("/v1/movements", "{\"movements\":[{\"id\":\"" + Api.id("mv") + "\",\"sku\":\"" + sku
        + "\",\"location\":\"main\",\"type\":\"count\",\"qty\":6}]}"), 200).json().path("results").path(0);
    assertEquals("applied", r.path("status").asText());
    assertEquals(3, r.path("shortfall").asLong());
    assertEquals(-4, r.path("drift").asLong());
    assertEquals(0, r.path("available").asLong());
  }

  @Test
  @DisplayName("parallel buyers: the ledger has one hold entry per 201, seqs without gaps, each with the numbers after it")
  void ledgerUnderParallelBuyers() {
    String hot = Api.sku("ledger");
    admin.receive(hot, "main", 40);
    java.util.Set<String> held = Api.parallelBuyers(60, "lp", id -> reserveBody(id, "web", hot, 1, 600), web).held();
    assertEquals(40, held.size());
    JsonNode entries = expect(admin.get("/v1/skus/" + hot + "/ledger?limit=1000"), 200).json().path("entries");
    assertEquals(41, entries.size(), "the receive and one entry per hold: " + entries);
    java.util.Set<String> refs = new java.util.HashSet<>();
    long seq = entries.path(0).path("seq").asLong();
    long reserved = 40;
    for (int i = 0; i < 40; i++) {
      JsonNode e = entries.path(i);
      assertEquals("hold", e.path("type").asText(), e.toString());
      assertTrue(refs.add(e.path("ref").asText()), "one entry per hold: " + e);
      assertEquals(seq - i, e.path("seq").asLong(), "no gaps, newest first");
      assertEquals(reserved - i, e.path("reserved").asLong(), "the numbers after this hold: " + e);
      assertEquals(40, e.path("onHand").asLong());
      assertFalse(e.has("holds"), "never the stored form: " + e);
    }
    assertEquals(held, refs, "exactly the 201s");
    assertEquals("receive", entries.path(40).path("type").asText());
    assertEquals(seq - 40, entries.path(40).path("seq").asLong());
    JsonNode two = expect(admin.get("/v1/skus/" + hot + "/ledger?limit=2"), 200).json().path("entries");
    assertEquals(2, two.size(), "limit counts entries as read, not as stored");
    assertEquals(entries.path(1), two.path(1));
  }

  @Test
  @DisplayName("shipping what a count found missing: onHand stops at 0, the shortfall is reported, a later receive counts in full")
  void shipAfterCountShortfall() {
    String id = Api.id("cart");
    expect(web.post("/v1/reservations", reserveBody(id, "web", sku, 12, 60)), 201); // main 10, shop 2
    expect(web.post("/v1/reservations/" + id + "/commit", null), 200);
    String count = Api.id("mv");
    JsonNode c = expect(admin.post("/v1/movements", "{\"movements\":[{\"id\":\"" + count + "\",\"sku\":\"" + sku
        + "\",\"location\":\"main\",\"type\":\"count\",\"qty\":7}]}"), 200).json().path("results").path(0);
    assertEquals(3, c.path("shortfall").asLong());
    assertEquals("shipped", expect(web.post("/v1/reservations/" + id + "/ship", null), 200).json().path("state").asText());
    JsonNode main = admin.sku(sku, "main");
    assertEquals(0, main.path("onHand").asLong(), "never below zero: " + main);
    assertEquals(0, main.path("committed").asLong());
    assertEquals(3, admin.sku(sku, "shop").path("onHand").asLong(), "shop had the units it shipped");
    JsonNode ship = expect(admin.get("/v1/skus/" + sku + "/ledger?limit=5"), 200).json().path("entries");
    JsonNode mainShip = null;
    for (JsonNode e : ship) {
      if (e.path("type").asText().equals("ship") && e.path("location").asText().equals("main")) {
        mainShip = e;
      }
      if (e.path("type").asText().equals("ship") && e.path("location").asText().equals("shop")) {
        assertTrue(e.path("shortfall").isMissingNode(), "shop had its units: " + e);
      }
    }
    assertNotNull(mainShip, ship.toString());
    assertEquals(3, mainShip.path("shortfall").asLong());
    assertEquals(0, mainShip.path("onHand").asLong());
    // The drift report names it beside the count that found the units missing.
    JsonNode report = null;
    for (JsonNode d : expect(admin.get("/v1/drift?limit=1000"), 200).json().path("counts")) {
      if (id.equals(d.path("reservationId").asText())) {
        assertEquals(null, report, "one entry per location short");
        report = d;
      }
    }
    assertNotNull(report);
    assertEquals("ship", report.path("type").asText());
    assertEquals("main", report.path("location").asText());
    assertEquals(10, report.path("shipped").asLong());
    assertEquals(7, report.path("previousOnHand").asLong());
    assertEquals(3, report.path("shortfall").asLong());
    // A replayed ship changes nothing and reports nothing again; a receive is never swallowed.
    expect(web.post("/v1/reservations/" + id + "/ship", null), 200);
    admin.receive(sku, "main", 5);
    assertEquals(5, admin.sku(sku, "main").path("onHand").asLong());
    assertEquals(8, web.channelAvailable("web", sku));
    long reports = 0;
    for (JsonNode d : expect(admin.get("/v1/drift?limit=1000"), 200).json().path("counts")) {
      reports += id.equals(d.path("reservationId").asText()) ? 1 : 0;
    }
    assertEquals(1, reports);
  }

  @Test
  @DisplayName("roles: no key 401, unknown key 401, wrong role or other channel 403, and nothing changes")
  void auth() {
    assertEquals("unauthorized", expect(new Api(server.port(), null).get("/v1/skus/" + sku), 401).code());
    assertEquals("unauthorized", expect(admin.as("nope").get("/v1/skus/" + sku), 401).code());
    assertEquals("unauthorized", expect(new Api(server.port(), null).get("/v1/skus/" + sku + "?access_token="
        + TestServer.READER), 401).code(), "a key in the URL is for the stream only (URLs end up in logs)");
    String body = reserveBody(Api.id("cart"), "b2b", sku, 1, 60);
    assertEquals("forbidden", expect(web.post("/v1/reservations", body), 403).code());
    assertEquals("forbidden", expect(reader.post("/v1/reservations", body), 403).code());
    assertEquals("forbidden", expect(web.post("/v1/movements", "{\"movements\":[]}"), 403).code());
    assertEquals("forbidden", expect(web.put("/v1/locations/x", "{}"), 403).code());
    assertEquals("forbidden", expect(reader.put("/v1/channels/x", "{\"locations\":[\"main\"]}"), 403).code());
    String id = Api.id("cart");
    expect(b2b.post("/v1/reservations", reserveBody(id, "b2b", sku, 1, 60)), 201);
    assertEquals("forbidden", expect(web.post("/v1/reservations/" + id + "/release", null), 403).code());
    assertEquals("forbidden", expect(web.get("/v1/reservations/" + id), 403).code());
    assertEquals("forbidden", expect(reader.post("/v1/reservations/" + id + "/commit", null), 403).code());
    expect(reader.get("/v1/reservations/" + id), 200);
    expect(admin.post("/v1/reservations/" + id + "/release", null), 200);
    assertEquals(15, web.channelAvailable("web", sku));
  }

  @ParameterizedTest(name = "{0} -> {1} {2} ({3})")
  @CsvSource(delimiter = '|', value = {
      "{\"channel\":\"web\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}|400|invalid_id|id",
      "{\"id\":\"a b\",\"channel\":\"web\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}|400|invalid_id|id",
      "{\"id\":\"x\",\"channel\":\"Web!\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}|400|invalid_channel|channel",
      "{\"id\":\"x\",\"channel\":\"web\",\"lines\":[]}|400|invalid_lines|lines",
      "{\"id\":\"x\",\"channel\":\"web\"}|400|invalid_lines|lines",
      "{\"id\":\"x\",\"channel\":\"web\",\"lines\":[{\"sku\":\"bad sku\",\"qty\":1}]}|400|invalid_sku|lines[0].sku",
      "{\"id\":\"x\",\"channel\":\"web\",\"lines\":[{\"sku\":\"-A\",\"qty\":1}]}|400|invalid_sku|lines[0].sku",
      "{\"id\":\"x\",\"channel\":\"web\",\"lines\":[{\"sku\":\"A\",\"qty\":0}]}|400|invalid_quantity|lines[0].qty",
      "{\"id\":\"x\",\"channel\":\"web\",\"lines\":[{\"sku\":\"A\",\"qty\":1000001}]}|400|invalid_quantity|lines[0].qty",
      "{\"id\":\"x\",\"channel\":\"web\",\"lines\":[{\"sku\":\"A\",\"qty\":1.5}]}|400|invalid_quantity|lines[0].qty",
      "{\"id\":\"x\",\"channel\":\"web\",\"lines\":[{\"sku\":\"A\",\"qty\":\"1\"}]}|400|invalid_quantity|lines[0].qty",
      "{\"id\":\"x\",\"channel\":\"web\",\"lines\":[{\"sku\":\"A\",\"qty\":1},{\"sku\":\" a \",\"qty\":1}]}|400|duplicate_line|lines[1].sku",
      "{\"id\":\"x\",\"channel\":\"web\",\"ttlSeconds\":0,\"lines\":[{\"sku\":\"A\",\"qty\":1}]}|400|invalid_ttl|ttlSeconds",
      "{\"id\":\"x\",\"channel\":\"web\",\"ttlSeconds\":86401,\"lines\":[{\"sku\":\"A\",\"qty\":1}]}|400|invalid_ttl|ttlSeconds",
      "{\"id\":\"x\",\"channel\":\"web\",|400|malformed_json|body",
      "[1,2]|400|malformed_json|body",
      "{\"id\":\"x\",\"channel\":\"nochannel\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}|404|unknown_channel|channel",
  })
  @DisplayName("bad reservation input gets a problem naming the field")
  void badReservations(String body, int status, String code, String field) {
    Api.Res r = expect(admin.post("/v1/reservations", body), status);
    assertEquals(code, r.code());
    assertEquals(field, r.json().path("field").asText());
    assertEquals(status, r.json().path("status").asInt());
    assertFalse(r.json().path("type").asText().isEmpty());
    assertFalse(r.json().path("title").asText().isEmpty());
  }

  @Test
  @DisplayName("bad input changes nothing: a refused cart leaves the stock and the id untouched")
  void badInputChangesNothing() {
    String id = Api.id("cart");
    String bad = "{\"id\":\"" + id + "\",\"channel\":\"web\",\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":1},{\"sku\":\"" + sku + "\",\"qty\":1}]}";
    assertEquals("duplicate_line", expect(web.post("/v1/reservations", bad), 400).code());
    assertEquals(15, web.channelAvailable("web", sku));
    expect(web.post("/v1/reservations", reserveBody(id, "web", sku, 1, 60)), 201);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "{}|invalid_movements|movements",
      "{\"movements\":[{\"id\":\"m\",\"sku\":\"A\",\"location\":\"main\",\"type\":\"teleport\",\"qty\":1}]}|invalid_type|movements[0].type",
      "{\"movements\":[{\"id\":\"m\",\"sku\":\"A\",\"location\":\"main\",\"type\":\"receive\",\"qty\":0}]}|invalid_quantity|movements[0].qty",
      "{\"movements\":[{\"id\":\"m\",\"sku\":\"A\",\"location\":\"main\",\"type\":\"count\",\"qty\":-1}]}|invalid_quantity|movements[0].qty",
      "{\"movements\":[{\"id\":\"m\",\"sku\":\"A\",\"location\":\"Main\",\"type\":\"receive\",\"qty\":1}]}|invalid_location|movements[0].location",
      "{\"movements\":[{\"id\":\"m\",\"sku\":\"A\",\"location\":\"main\",\"type\":\"receive\",\"qty\":1},{\"id\":\"\",\"sku\":\"A\",\"location\":\"main\",\"type\":\"receive\",\"qty\":1}]}|invalid_id|movements[1].id",
  })
  @DisplayName("bad movements are refused whole with the field named")
  void badMovements(String body, String code, String field) {
    Api.Res r = expect(admin.post("/v1/movements", body), 400);
    assertEquals(code, r.code());
    assertEquals(field, r.json().path("field").asText());
    expect(admin.get("/v1/skus/A"), 404);
  }

  @Test
  @DisplayName("a batch of more than 1000 movements is refused")
  void tooManyMovements() {
    StringBuilder sb = new StringBuilder("{\"movements\":[");
    for (int i = 0; i < 1001; i++) {
      sb.append(i == 0 ? "" : ",").append("{\"id\":\"m").append(i).append("\",\"sku\":\"").append(sku)
          .append("\",\"location\":\"main\",\"type\":\"receive\",\"qty\":1}");
    }
    assertEquals("too_many_movements", expect(admin.post("/v1/movements", sb.append("]}").toString()), 400).code());
    assertEquals(10, admin.sku(sku, "main").path("onHand").asLong());
  }

  @Test
  @DisplayName("a body over 1 MiB is 413 body_too_large")
  void bodyTooLarge() {
    String big = "{\"id\":\"x\",\"pad\":\"" + "x".repeat(1024 * 1024 + 10) + "\"}";
    assertEquals("body_too_large", expect(admin.post("/v1/reservations", big), 413).code());
  }

  @Test
  @DisplayName("reads: unknown SKUs read as 0 in availability and 404 on their own; bad SKUs 400")
  void reads() {
    String unknown = Api.sku("none");
    JsonNode a = expect(reader.get("/v1/availability?channel=web&sku=" + sku + "&sku=" + unknown), 200).json();
    assertEquals("web", a.path("channel").asText());
    assertEquals(15, a.path("items").path(0).path("available").asLong());
    assertEquals(0, a.path("items").path(1).path("available").asLong());
    assertEquals("unknown_sku", expect(reader.get("/v1/skus/" + unknown), 404).code());
    assertEquals("invalid_sku", expect(reader.get("/v1/skus/%20-x"), 400).code());
    assertEquals("unknown_channel", expect(reader.get("/v1/availability?channel=zz&sku=A"), 404).code());
    assertEquals("invalid_sku", expect(reader.get("/v1/availability?channel=web"), 400).code());
    StringBuilder many = new StringBuilder("/v1/availability?channel=web");
    for (int i = 0; i < 501; i++) {
      many.append("&sku=S").append(i);
    }
    assertEquals("too_many_skus", expect(reader.get(many.toString()), 400).code());
    assertEquals("unknown_reservation", expect(reader.get("/v1/reservations/" + Api.id("none")), 404).code());
    assertEquals("not_found", expect(reader.get("/v1/nothing-here"), 404).code());
  }

  @Test
  @DisplayName("configuration: locations and channels are stored, listed and validated")
  void configuration() {
    expect(admin.put("/v1/locations/depot-2", "{\"name\":\"Second depot\"}"), 200);
    JsonNode locs = expect(reader.get("/v1/locations"), 200).json().path("locations");
    assertTrue(locs.toString().contains("Second depot"));
    JsonNode ch = expect(admin.put("/v1/channels/pos", "{\"locations\":[\"shop\",\"main\"],\"buffer\":1,\"backorder\":true}"), 200).json();
    assertEquals("shop", ch.path("locations").path(0).asText());
    assertTrue(ch.path("backorder").asBoolean());
    assertEquals(1, expect(reader.get("/v1/channels/pos"), 200).json().path("buffer").asLong());
    assertTrue(expect(reader.get("/v1/channels"), 200).json().path("channels").toString().contains("\"pos\""));
    assertEquals("unknown_location", expect(admin.put("/v1/channels/bad", "{\"locations\":[\"mars\"]}"), 400).code());
    assertEquals("invalid_locations", expect(admin.put("/v1/channels/bad", "{\"locations\":[]}"), 400).code());
    assertEquals("invalid_buffer", expect(admin.put("/v1/channels/bad", "{\"locations\":[\"main\"],\"buffer\":-1}"), 400).code());
    assertEquals("invalid_channel", expect(admin.put("/v1/channels/BAD", "{\"locations\":[\"main\"]}"), 400).code());
    assertEquals("unknown_channel", expect(reader.get("/v1/channels/bad"), 404).code());
  }

  @Test
  @DisplayName("operations: live, ready, metrics with latency and outcome counters, and the OpenAPI document")
  void operations() {
    Api anon = new Api(server.port(), null);
    expect(anon.get("/health/live"), 200);
    assertEquals("UP", expect(anon.get("/health/ready"), 200).json().path("status").asText());
    long createdBefore = expect(reader.get("/v1/stats"), 200).json().path("reservationsCreated").asLong();
    expect(web.post("/v1/reservations", reserveBody(Api.id("cart"), "web", sku, 1, 60)), 201);
    JsonNode stats = expect(reader.get("/v1/stats"), 200).json();
    assertTrue(stats.path("reservationsCreated").asLong() > createdBefore, stats.toString());
    assertTrue(stats.path("holdsOutstanding").asLong() >= 1, stats.toString());
    String metrics = expect(anon.get("/metrics"), 200).text();
    assertTrue(metrics.contains("allot_reservations_total{outcome=\"held\"}"), metrics);
    assertTrue(metrics.contains("vertx_http_server_response_time_seconds"), "request latency histogram");
    String yaml = expect(anon.get("/openapi.yaml"), 200).text();
    assertTrue(yaml.startsWith("openapi: 3.1"), yaml.substring(0, Math.min(80, yaml.length())));
    assertTrue(yaml.contains("/v1/reservations/{id}/commit"));
  }
}
