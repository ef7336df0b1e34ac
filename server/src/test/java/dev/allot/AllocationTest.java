package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static dev.allot.Api.expect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ring-fenced allocations (API.md, "Allocations"): a channel draws its allocation first, then the shared
 * pool; every other channel's availability leaves the unused allocation out; no oversell, on two
 * instances and (in the suite's cluster run) a 3-master cluster.
 */
class AllocationTest {
  static AllotServer server;
  static AllotServer second;
  static Api admin;
  static Api shop;
  static Api trade;
  static Api trade2;
  static Api shop2;

  @BeforeAll
  static void start() throws Exception {
    Map<String, String> cfg = Map.of("ALLOT_API_KEYS", TestServer.keys("alshop", "altrade", "albuf", "alback"));
    server = TestServer.start(TestRedis.url(), cfg);
    second = TestServer.start(TestRedis.url(), cfg);
    admin = new Api(server.port(), TestServer.ADMIN);
    shop = admin.as("t-alshop");
    trade = admin.as("t-altrade");
    shop2 = new Api(second.port(), "t-alshop");
    trade2 = new Api(second.port(), "t-altrade");
    admin.location("main");
    admin.location("shop");
    admin.channel("alshop", "[\"main\"]", 0);
    admin.channel("altrade", "[\"main\",\"shop\"]", 0);
    admin.channel("albuf", "[\"main\"]", 2);
    expect(admin.put("/v1/channels/alback", "{\"locations\":[\"main\"],\"buffer\":0,\"backorder\":true}"), 200);
  }

  @AfterAll
  static void stop() {
    server.stop();
    second.stop();
  }

  static JsonNode allocate(String sku, String channel, String location, long units, int status) {
    return expect(admin.put("/v1/skus/" + sku + "/allocations/" + channel, "{\"location\":\"" + location
        + "\",\"units\":" + units + "}"), status).json();
  }

  static String cart(String id, String channel, String sku, int qty) {
    return "{\"id\":\"" + id + "\",\"channel\":\"" + channel + "\",\"ttlSeconds\":600,\"lines\":[{\"sku\":\"" + sku
        + "\",\"qty\":" + qty + "}]}";
  }

  static long available(String channel, String sku) {
    return expect(admin.get("/v1/skus/" + sku), 200).json().path("channels").path(channel).asLong();
  }

  @Test
  @DisplayName("the allocated channel draws its allocation first; the others never see it; raise, lower (never below use), delete")
  void drawsAndHides() {
    String sku = Api.sku("alc");
    admin.receive(sku, "main", 10);
    JsonNode a = allocate(sku, "altrade", "main", 4, 200);
    assertEquals(4, a.path("allocated").asLong());
    assertEquals(0, a.path("allocationUsed").asLong());
    JsonNode view = expect(admin.get("/v1/skus/" + sku), 200).json();
    assertEquals(6, view.path("channels").path("alshop").asLong(), "others lose the allocated units");
    assertEquals(10, view.path("channels").path("altrade").asLong(), "its own 4 and the pool's 6");
    assertEquals(6, view.path("locations").path("main").path("available").asLong());
    assertEquals(4, view.path("locations").path("main").path("allocatedUnused").asLong());
    assertEquals("main", view.path("allocations").path("altrade").path("location").asText());

    JsonNode refused = expect(admin.put("/v1/skus/" + sku + "/allocations/altrade",
        "{\"location\":\"main\",\"units\":11}"), 409).json();
    assertEquals("insufficient_stock", refused.path("code").asText());
    assertEquals(6, refused.path("available").asLong());
    assertEquals(4, expect(admin.get("/v1/skus/" + sku), 200).json().path("allocations").path("altrade")
        .path("allocated").asLong(), "nothing changed");

    String t1 = Api.id("t");
    expect(trade.post("/v1/reservations", cart(t1, "altrade", sku, 3)), 201);
    assertEquals(6, available("alshop", sku), "the trade holds came out of its allocation");
    assertEquals(7, available("altrade", sku));
    assertEquals(3, expect(admin.get("/v1/skus/" + sku), 200).json().path("allocations").path("altrade")
        .path("allocationUsed").asLong());
    String s1 = Api.id("s");
    expect(shop.post("/v1/reservations", cart(s1, "alshop", sku, 6)), 201);
    assertEquals(0, available("alshop", sku));
    assertEquals(1, available("altrade", sku), "its last allocated unit stays its own");
    assertEquals("insufficient_stock", expect(shop.post("/v1/reservations", cart(Api.id("s"), "alshop", sku, 1)), 409)
        .code());
    String t2 = Api.id("t");
    expect(trade.post("/v1/reservations", cart(t2, "altrade", sku, 1)), 201);
    assertEquals(0, available("altrade", sku));

    // A release gives the units back to the allocation, a commit keeps them counted against it.
    expect(trade.post("/v1/reservations/" + t1 + "/release", null), 200);
    assertEquals(0, available("alshop", sku), "released trade units return to the trade allocation");
    assertEquals(3, available("altrade", sku));
    // Raised while holds exist: the new units must be free (there are none).
    assertEquals(0, allocate(sku, "altrade", "main", 5, 409).path("available").asLong());
    // Lowering below what it uses (1 held) is refused, DELETE too; once the hold ends, both work.
    assertEquals("allocation_in_use", allocate(sku, "altrade", "main", 0, 409).path("code").asText());
    assertEquals("allocation_in_use", expect(admin.call("DELETE", "/v1/skus/" + sku + "/allocations/altrade", null),
        409).code());
    expect(trade.post("/v1/reservations/" + t2 + "/release", null), 200);
    assertEquals(0, available("alshop", sku));
    assertEquals(4, available("altrade", sku));
    JsonNode lowered = allocate(sku, "altrade", "main", 0, 200);
    assertEquals(0, lowered.path("allocated").asLong());
    assertEquals(4, available("alshop", sku), "the unused 4 went back to the pool");
    assertEquals(4, available("altrade", sku));
    assertFalse(expect(admin.get("/v1/skus/" + sku), 200).json().has("allocations"));
    expect(admin.call("DELETE", "/v1/skus/" + sku + "/allocations/altrade", null), 204);

    JsonNode ledger = expect(admin.get("/v1/skus/" + sku + "/ledger?limit=50"), 200).json().path("entries");
    List<String> allocs = new ArrayList<>();
    ledger.forEach(e -> {
      if (e.path("type").asText().equals("allocate")) {
        allocs.add(e.path("channel").asText() + ":" + e.path("allocated").asLong());
      }
    });
    assertEquals(List.of("altrade:0", "altrade:4"), allocs, "the ledger records each allocation change");
    assertTrue(ledger.toString().contains("\"fromAllocation\":3"), "a hold says what it drew from the allocation");
  }

  @Test
  @DisplayName("two channels race for the last units on two instances: the allocated one always gets its allocation, the other never")
  void race() {
    String sku = Api.sku("alr");
    admin.receive(sku, "main", 50);
    allocate(sku, "altrade", "main", 20, 200);
    List<CompletableFuture<Api.Res>> trades = new ArrayList<>();
    List<CompletableFuture<Api.Res>> shops = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      shops.add((i % 2 == 0 ? shop : shop2).async("POST", "/v1/reservations", cart(Api.id("rs"), "alshop", sku, 1)));
      if (i < 30) {
        trades.add((i % 2 == 0 ? trade2 : trade).async("POST", "/v1/reservations", cart(Api.id("rt"), "altrade", sku,
            1)));
      }
    }
    long tradeHeld = trades.stream().map(CompletableFuture::join).filter(r -> r.status() == 201).count();
    long shopHeld = shops.stream().map(CompletableFuture::join).filter(r -> r.status() == 201).count();
    trades.forEach(f -> assertTrue(f.join().status() == 201 || f.join().status() == 409, f.join().toString()));
    shops.forEach(f -> assertTrue(f.join().status() == 201 || f.join().status() == 409, f.join().toString()));
    assertTrue(tradeHeld >= 20, "the allocated channel got at least its allocation: " + tradeHeld);
    assertTrue(shopHeld <= 30, "the other never took allocated units: " + shopHeld);
    assertEquals(50, tradeHeld + shopHeld, "every unit sold, none twice");
    JsonNode main = expect(admin.get("/v1/skus/" + sku), 200).json().path("locations").path("main");
    assertEquals(50, main.path("reserved").asLong(), "held + committed never exceed onHand");
    assertEquals(0, main.path("available").asLong());
  }

  @Test
  @DisplayName("with a buffer, a bundle and a backorder channel: the allocation first, the buffer only on the pool")
  void bufferBundleBackorder() {
    String sku = Api.sku("alb");
    String other = Api.sku("alo");
    admin.receive(sku, "main", 10);
    admin.receive(other, "main", 10);
    allocate(sku, "albuf", "main", 3, 200);
    assertEquals(3 + (7 - 2), available("albuf", sku), "own 3, then the pool of 7 less the buffer of 2");
    assertEquals(7, available("alshop", sku));

    String kit = Api.sku("alk");
    expect(admin.put("/v1/bundles/" + kit, "{\"components\":[{\"sku\":\"" + sku + "\",\"qty\":2},{\"sku\":\"" + other
        + "\",\"qty\":1}]}"), 200);
    assertEquals("sku_is_bundle", allocate(kit, "albuf", "main", 1, 409).path("code").asText());
    Api buf = admin.as("t-albuf");
    expect(buf.post("/v1/reservations", cart(Api.id("k"), "albuf", kit, 2)), 201);
    assertEquals(3, expect(admin.get("/v1/skus/" + sku), 200).json().path("allocations").path("albuf")
        .path("allocationUsed").asLong(), "the kit's 4 units drew the allocation's 3 first");
    assertEquals(6, available("alshop", sku), "the pool gave the kit's 4th unit");

    allocate(sku, "alback", "main", 2, 200);
    Api back = admin.as("t-alback");
    JsonNode held = expect(back.post("/v1/reservations", cart(Api.id("b"), "alback", sku, 12)), 201).json();
    JsonNode line = held.path("lines").path(0);
    assertEquals(6, line.path("allocations").path(0).path("qty").asLong(), "its 2 and the pool's 4");
    assertEquals(6, line.path("backordered").asLong());
    assertEquals(0, available("alshop", sku));
    assertEquals("location_not_in_channel", allocate(sku, "alshop", "shop", 1, 400).path("code").asText());
    assertEquals("unknown_channel", allocate(sku, "nochannel", "main", 1, 404).path("code").asText());
    assertEquals(403, shop.put("/v1/skus/" + sku + "/allocations/alshop", "{\"location\":\"main\",\"units\":1}")
        .status());
  }

  @Test
  @DisplayName("commit keeps units counted against the allocation, ship consumes them, cancel gives them back; the stream agrees")
  void lifecycleAndStream() {
    String sku = Api.sku("all");
    admin.receive(sku, "main", 10);
    try (WsClient ws = WsClient.connect(server.port(), TestServer.ADMIN)) {
      ws.subscribe("alshop", sku);
      ws.subscribe("altrade", sku);
      ws.awaitAvailable("alshop", sku, 10, 10_000);
      allocate(sku, "altrade", "main", 6, 200);
      ws.awaitAvailable("alshop", sku, 4, 10_000);
      String shipped = Api.id("sh");
      String cancelled = Api.id("ca");
      expect(trade2.post("/v1/reservations", cart(shipped, "altrade", sku, 2)), 201);
      expect(trade.post("/v1/reservations", cart(cancelled, "altrade", sku, 3)), 201);
      expect(trade.post("/v1/reservations/" + shipped + "/commit", null), 200);
      expect(trade2.post("/v1/reservations/" + cancelled + "/commit", null), 200);
      JsonNode a = expect(admin.get("/v1/skus/" + sku), 200).json().path("allocations").path("altrade");
      assertEquals(5, a.path("allocationUsed").asLong(), "committed units still count against it");
      ws.awaitAvailable("altrade", sku, 5, 10_000);
      expect(trade.post("/v1/reservations/" + shipped + "/ship", null), 200);
      a = expect(admin.get("/v1/skus/" + sku), 200).json().path("allocations").path("altrade");
      assertEquals(4, a.path("allocated").asLong(), "shipped allocated units left with the allocation");
      assertEquals(3, a.path("allocationUsed").asLong());
      expect(trade.post("/v1/reservations/" + cancelled + "/cancel", null), 200);
      a = expect(admin.get("/v1/skus/" + sku), 200).json().path("allocations").path("altrade");
      assertEquals(0, a.path("allocationUsed").asLong(), "cancelled units are its unused allocation again");
      assertEquals(4, available("alshop", sku), "8 on hand, 4 set aside");
      assertEquals(8, available("altrade", sku));
      ws.awaitAvailable("altrade", sku, 8, 10_000);
      ws.awaitAvailable("alshop", sku, 4, 10_000);
    }
  }

  @Test
  @DisplayName("an expired hold drawn from the allocation goes back to it, not to the pool")
  void expiryReturnsToTheAllocation() {
    String sku = Api.sku("ale");
    admin.receive(sku, "main", 5);
    allocate(sku, "altrade", "main", 2, 200);
    expect(trade.post("/v1/reservations", "{\"id\":\"" + Api.id("e") + "\",\"channel\":\"altrade\",\"ttlSeconds\":1,"
        + "\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":2}]}"), 201);
    assertEquals(3, available("altrade", sku));
    ExpiryTest.await("the hold's expiry", 15_000, () -> available("altrade", sku) == 5);
    JsonNode a = expect(admin.get("/v1/skus/" + sku), 200).json().path("allocations").path("altrade");
    assertEquals(2, a.path("allocated").asLong());
    assertEquals(0, a.path("allocationUsed").asLong());
    assertEquals(3, available("alshop", sku), "the 2 went back to the allocation, not to the shop");
  }

  @Test
  @DisplayName("a count that takes onHand below what is allocated plus promised reports the shortfall")
  void shortfall() {
    String sku = Api.sku("als");
    admin.receive(sku, "main", 10);
    allocate(sku, "altrade", "main", 5, 200);
    expect(shop.post("/v1/reservations", cart(Api.id("s"), "alshop", sku, 3)), 201);
    JsonNode counted = expect(admin.post("/v1/movements", "{\"movements\":[{\"id\":\"" + Api.id("cnt") + "\",\"sku\":\""
        + sku + "\",\"location\":\"main\",\"type\":\"count\",\"qty\":6}]}"), 200).json().path("results").path(0);
    assertEquals(2, counted.path("shortfall").asLong(), "3 held + 5 set aside against 6 counted");
    assertEquals(0, counted.path("available").asLong());
    assertEquals(3, available("altrade", sku), "the allocation stands, but only what is there can be taken");
    assertEquals(0, available("alshop", sku));
    assertEquals("insufficient_stock", expect(trade.post("/v1/reservations", cart(Api.id("t"), "altrade", sku, 4)), 409)
        .code());
    expect(trade2.post("/v1/reservations", cart(Api.id("t"), "altrade", sku, 3)), 201);
    JsonNode main = expect(admin.get("/v1/skus/" + sku), 200).json().path("locations").path("main");
    assertEquals(6, main.path("reserved").asLong(), "held never exceeds onHand");
    assertEquals(0, available("altrade", sku));
  }

  @Test
  @DisplayName("the change feed says which channels' availability an allocation changed")
  void feedEvents() {
    String from = OutboundTest.tail(admin);
    String sku = Api.sku("alf");
    admin.receive(sku, "main", 8);
    allocate(sku, "altrade", "main", 3, 200);
    List<JsonNode> events = OutboundTest.awaitEvents(admin, from, e -> sku.equals(e.path("sku").asText())
            && e.path("type").asText().equals("availability.changed")
            && List.of("alshop", "altrade").contains(e.path("channel").asText()),
        got -> got.size() >= 3, "the availability events");
    List<String> seen = events.stream().map(e -> e.path("channel").asText() + "=" + e.path("data").path("available")
        .asLong()).toList();
    assertEquals(List.of("alshop=8", "altrade=8", "alshop=5"), seen,
        "the allocation took 3 from the shop and none from trade (its own 3 plus the pool's 5)");
  }
}
