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

/** Returns and inspection, the ledger, counts and drift, per-customer limits, backorder channels. */
class DomainTest {
  static AllotServer server;
  static Api admin;
  static Api web;
  static Api b2b;
  static Api reader;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start(TestRedis.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web", "trade")));
    admin = new Api(server.port(), TestServer.ADMIN);
    web = admin.as("t-web");
    b2b = admin.as("t-trade");
    reader = admin.as(TestServer.READER);
    admin.location("main");
    admin.channel("web", "[\"main\"]", 0);
    expect(admin.put("/v1/channels/trade", "{\"locations\":[\"main\"],\"buffer\":0,\"backorder\":true}"), 200);
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  static JsonNode move(String sku, String type, long qty) {
    return expect(admin.post("/v1/movements", "{\"movements\":[{\"id\":\"" + Api.id("m") + "\",\"sku\":\"" + sku
        + "\",\"location\":\"main\",\"type\":\"" + type + "\",\"qty\":" + qty + "}]}"), 200).json().path("results").path(0);
  }

  static String cart(String id, String channel, String sku, int qty, String customer) {
    return "{\"id\":\"" + id + "\",\"channel\":\"" + channel + "\"," + (customer == null ? "" : "\"customer\":\""
        + customer + "\",") + "\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":" + qty + "}]}";
  }

  @Test
  @DisplayName("returns wait in quarantine, never sellable, until inspection passes them or writes them off")
  void returnsAndInspection() {
    String sku = Api.sku("ret");
    move(sku, "receive", 5);
    JsonNode r = move(sku, "return", 3);
    assertEquals("applied", r.path("status").asText());
    assertEquals(3, r.path("quarantine").asLong());
    assertEquals(5, web.channelAvailable("web", sku), "quarantine is never sellable");
    assertEquals(3, admin.sku(sku, "main").path("quarantine").asLong());
    JsonNode pass = move(sku, "inspect_pass", 2);
    assertEquals(7, pass.path("onHand").asLong());
    assertEquals(1, pass.path("quarantine").asLong());
    assertEquals(7, web.channelAvailable("web", sku));
    JsonNode tooMany = move(sku, "inspect_fail", 2);
    assertEquals("rejected", tooMany.path("status").asText());
    assertEquals("insufficient_quarantine", tooMany.path("code").asText());
    assertEquals(1, admin.sku(sku, "main").path("quarantine").asLong(), "nothing changed");
    JsonNode fail = move(sku, "inspect_fail", 1);
    assertEquals(0, fail.path("quarantine").asLong());
    assertEquals(7, fail.path("onHand").asLong());
    assertEquals("invalid_quantity", expect(admin.post("/v1/movements", "{\"movements\":[{\"id\":\"x\",\"sku\":\"" + sku
        + "\",\"location\":\"main\",\"type\":\"return\",\"qty\":0}]}"), 400).code());
  }

  @Test
  @DisplayName("the ledger explains every number: cause, type and the location's counts after each change, newest first")
  void ledger() {
    String sku = Api.sku("led");
    move(sku, "receive", 10);
    String id = Api.id("c");
    expect(web.post("/v1/reservations", cart(id, "web", sku, 4, null)), 201);
    expect(web.post("/v1/reservations/" + id + "/commit", null), 200);
    expect(web.post("/v1/reservations/" + id + "/ship", null), 200);
    String other = Api.id("c");
    expect(web.post("/v1/reservations", cart(other, "web", sku, 1, null)), 201);
    expect(web.post("/v1/reservations/" + other + "/release", null), 200);
    JsonNode entries = expect(reader.get("/v1/skus/" + sku + "/ledger?limit=10"), 200).json().path("entries");
    List<String> types = new ArrayList<>();
    entries.forEach(e -> types.add(e.path("type").asText()));
    assertEquals(List.of("release", "hold", "ship", "commit", "hold", "receive"), types);
    JsonNode ship = entries.path(2);
    assertEquals(id, ship.path("ref").asText());
    assertEquals("main", ship.path("location").asText());
    assertEquals(6, ship.path("onHand").asLong());
    assertEquals(0, ship.path("committed").asLong());
    assertTrue(entries.path(0).path("seq").asLong() > entries.path(1).path("seq").asLong());
    assertTrue(entries.path(0).path("at").asText().endsWith("Z"));
    assertEquals(2, expect(reader.get("/v1/skus/" + sku + "/ledger?limit=2"), 200).json().path("entries").size());
    assertEquals("invalid_limit", expect(reader.get("/v1/skus/" + sku + "/ledger?limit=0"), 400).code());
  }

  @Test
  @DisplayName("a count records its drift; below what is promised it reports the shortfall, in the result and the drift report")
  void countsAndDrift() {
    String sku = Api.sku("cnt");
    move(sku, "receive", 10);
    expect(web.post("/v1/reservations", cart(Api.id("c"), "web", sku, 8, null)), 201);
    JsonNode same = move(sku, "count", 10);
    assertEquals(0, same.path("drift").asLong());
    JsonNode low = move(sku, "count", 5);
    assertEquals(-5, low.path("drift").asLong());
    assertEquals(3, low.path("shortfall").asLong());
    JsonNode counts = expect(reader.get("/v1/drift?limit=50"), 200).json().path("counts");
    JsonNode mine = null;
    for (JsonNode c : counts) {
      if (sku.equals(c.path("sku").asText())) {
        mine = c;
        break;
      }
    }
    assertTrue(mine != null, "the drifted count is in the report: " + counts);
    assertEquals(-5, mine.path("drift").asLong());
    assertEquals(3, mine.path("shortfall").asLong());
    assertEquals(10, mine.path("previousOnHand").asLong());
    int mentions = 0;
    for (JsonNode c : counts) {
      mentions += sku.equals(c.path("sku").asText()) ? 1 : 0;
    }
    assertEquals(1, mentions, "a count with no drift is not in the report");
    JsonNode countEntry = expect(reader.get("/v1/skus/" + sku + "/ledger?limit=1"), 200).json().path("entries").path(0);
    assertEquals("count", countEntry.path("type").asText());
    assertEquals(-5, countEntry.path("drift").asLong());
    assertTrue(new Api(server.port(), null).get("/metrics").text().contains("allot_count_shortfall_units_total"));
  }

  @Test
  @DisplayName("a per-customer limit holds exactly when one customer races itself across 20 parallel requests")
  void customerLimitRace() {
    String sku = Api.sku("lim");
    move(sku, "receive", 100);
    expect(admin.put("/v1/skus/" + sku + "/policy", "{\"limitPerCustomer\":2}"), 200);
    assertEquals(2, expect(reader.get("/v1/skus/" + sku), 200).json().path("policy").path("limitPerCustomer").asLong());
    List<CompletableFuture<Api.Res>> calls = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      calls.add(web.async("POST", "/v1/reservations", cart(Api.id("bot"), "web", sku, 1, "c-bot")));
    }
    int held = 0;
    for (CompletableFuture<Api.Res> f : calls) {
      Api.Res r = f.join();
      if (r.status() == 201) {
        held++;
      } else {
        assertEquals(409, r.status(), r.toString());
        assertEquals("customer_limit", r.code());
        assertEquals(0, r.json().path("lines").path(0).path("allowed").asLong());
      }
    }
    assertEquals(2, held, "exactly the limit");
    assertEquals(2, admin.sku(sku, "main").path("reserved").asLong());
    // Another customer is not affected; no customer means no limit.
    expect(web.post("/v1/reservations", cart(Api.id("c"), "web", sku, 2, "c-other")), 201);
    expect(web.post("/v1/reservations", cart(Api.id("c"), "web", sku, 5, null)), 201);
    Api.Res over = expect(web.post("/v1/reservations", cart(Api.id("c"), "web", sku, 3, "c-new")), 409);
    assertEquals("customer_limit", over.code());
    assertEquals(2, over.json().path("lines").path(0).path("allowed").asLong());
  }

  @Test
  @DisplayName("a released or expired hold gives the customer's allowance back; a committed one keeps counting")
  void customerLimitReleases() {
    String sku = Api.sku("lim");
    move(sku, "receive", 10);
    expect(admin.put("/v1/skus/" + sku + "/policy", "{\"limitPerCustomer\":2}"), 200);
    String a = Api.id("c");
    expect(web.post("/v1/reservations", cart(a, "web", sku, 2, "c-1")), 201);
    assertEquals("customer_limit", expect(web.post("/v1/reservations", cart(Api.id("c"), "web", sku, 1, "c-1")), 409).code());
    expect(web.post("/v1/reservations/" + a + "/release", null), 200);
    String b = Api.id("c");
    expect(web.post("/v1/reservations", cart(b, "web", sku, 2, "c-1")), 201);
    expect(web.post("/v1/reservations/" + b + "/commit", null), 200);
    assertEquals("customer_limit", expect(web.post("/v1/reservations", cart(Api.id("c"), "web", sku, 1, "c-1")), 409).code());
    expect(admin.put("/v1/skus/" + sku + "/policy", "{\"limitPerCustomer\":null}"), 200);
    expect(web.post("/v1/reservations", cart(Api.id("c"), "web", sku, 1, "c-1")), 201);
    assertFalse(expect(reader.get("/v1/skus/" + sku), 200).json().has("policy"));
    assertEquals("invalid_limit", expect(admin.put("/v1/skus/" + sku + "/policy", "{\"limitPerCustomer\":0}"), 400).code());
    assertEquals("invalid_limit", expect(admin.put("/v1/skus/" + sku + "/policy", "{\"limitPerCustomer\":-1}"), 400).code());
    assertEquals("forbidden", expect(web.put("/v1/skus/" + sku + "/policy", "{\"limitPerCustomer\":1}"), 403).code());
    assertEquals("invalid_customer", expect(web.post("/v1/reservations", cart(Api.id("c"), "web", sku, 1, "bad customer")),
        400).code());
  }

  @Test
  @DisplayName("a backorder channel is never refused: the uncovered part is recorded, never taken from others' availability")
  void backorder() {
    String sku = Api.sku("bo");
    move(sku, "receive", 3);
    String id = Api.id("po");
    JsonNode r = expect(b2b.post("/v1/reservations", cart(id, "trade", sku, 10, null)), 201).json();
    JsonNode line = r.path("lines").path(0);
    assertEquals(7, line.path("backordered").asLong());
    assertEquals(3, line.path("allocations").path(0).path("qty").asLong());
    assertEquals(0, web.channelAvailable("web", sku), "the shelf went to the trade order");
    assertEquals(7, expect(reader.get("/v1/skus/" + sku), 200).json().path("backordered").asLong());
    Api.Res refused = expect(web.post("/v1/reservations", cart(Api.id("c"), "web", sku, 1, null)), 409);
    assertEquals("insufficient_stock", refused.code(), "a normal channel is still refused");
    move(sku, "receive", 5);
    assertEquals(5, web.channelAvailable("web", sku), "backordered units never come off others' availability");
    expect(b2b.post("/v1/reservations/" + id + "/release", null), 200);
    assertFalse(expect(reader.get("/v1/skus/" + sku), 200).json().has("backordered"), "released: nothing backordered");
    String typo = Api.sku("never-stocked");
    assertEquals("insufficient_stock", expect(b2b.post("/v1/reservations", cart(Api.id("po"), "trade", typo, 5, null)),
        409).code(), "a SKU nobody ever stocked is not backordered");
  }

  @Test
  @DisplayName("backorder and normal channels racing on the same stock: the shelf is never oversold")
  void backorderRace() {
    String sku = Api.sku("bor");
    move(sku, "receive", 50);
    List<CompletableFuture<Api.Res>> trade = new ArrayList<>();
    List<CompletableFuture<Api.Res>> shop = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      trade.add(b2b.async("POST", "/v1/reservations", cart(Api.id("t"), "trade", sku, 2, null)));
      shop.add(web.async("POST", "/v1/reservations", cart(Api.id("w"), "web", sku, 1, null)));
    }
    long tradeHeld = 0;
    long tradeBackordered = 0;
    for (CompletableFuture<Api.Res> f : trade) {
      JsonNode line = expect(f.join(), 201).json().path("lines").path(0);
      tradeBackordered += line.path("backordered").asLong();
      for (JsonNode a : line.path("allocations")) {
        tradeHeld += a.path("qty").asLong();
      }
    }
    long shopHeld = 0;
    for (CompletableFuture<Api.Res> f : shop) {
      Api.Res r = f.join();
      assertTrue(r.status() == 201 || "insufficient_stock".equals(r.code()), r.toString());
      shopHeld += r.status() == 201 ? 1 : 0;
    }
    JsonNode main = admin.sku(sku, "main");
    assertEquals(tradeHeld + shopHeld, main.path("reserved").asLong());
    assertTrue(main.path("reserved").asLong() <= 50, "never oversold");
    assertEquals(80, tradeHeld + tradeBackordered, "every trade unit is held or backordered");
    assertEquals(tradeBackordered, expect(reader.get("/v1/skus/" + sku), 200).json().path("backordered").asLong());
  }

  @Test
  @DisplayName("aliases: a channel's own code works in reserve, reads and the stream, and the answer names the canonical SKU")
  void aliases() {
    String sku = Api.sku("can");
    move(sku, "receive", 6);
    String code = Api.sku("mkt");
    JsonNode a = expect(admin.put("/v1/channels/web/aliases/" + code.toLowerCase(), "{\"sku\":\"" + sku.toLowerCase() + "\"}"),
        200).json();
    assertEquals(sku, a.path("sku").asText());
    assertEquals(code, a.path("code").asText());
    JsonNode line = expect(web.post("/v1/reservations", cart(Api.id("c"), "web", code, 2, null)), 201).json()
        .path("lines").path(0);
    assertEquals(sku, line.path("sku").asText());
    assertEquals(code, line.path("alias").asText());
    assertEquals(2, admin.sku(sku, "main").path("reserved").asLong());
    JsonNode item = expect(web.get("/v1/availability?channel=web&sku=" + code), 200).json().path("items").path(0);
    assertEquals(sku, item.path("sku").asText());
    assertEquals(4, item.path("available").asLong());
    assertEquals(sku, expect(web.get("/v1/skus/" + code), 200).json().path("sku").asText(), "a channel key reads by its code");
    assertEquals("duplicate_line", expect(web.post("/v1/reservations", "{\"id\":\"x\",\"channel\":\"web\",\"lines\":["
        + "{\"sku\":\"" + code + "\",\"qty\":1},{\"sku\":\"" + sku + "\",\"qty\":1}]}"), 400).code());
    assertTrue(expect(reader.get("/v1/channels/web/aliases"), 200).json().path("aliases").has(code));
    try (WsClient ws = WsClient.connect(server.port(), TestServer.READER)) {
      ws.subscribe("web", code);
      JsonNode info = ws.until(5000, m -> "alias".equals(m.path("type").asText()));
      assertEquals(sku, info.path("sku").asText());
      ws.awaitAvailable("web", sku, 4, 5000);
    }
    assertEquals("unknown_sku", expect(admin.put("/v1/channels/web/aliases/ZZ-1", "{\"sku\":\"" + Api.sku("nope") + "\"}"),
        400).code());
    assertEquals("unknown_channel", expect(admin.put("/v1/channels/nochan/aliases/ZZ-1", "{\"sku\":\"" + sku + "\"}"),
        404).code());
    assertEquals("invalid_alias", expect(admin.put("/v1/channels/web/aliases/" + sku, "{\"sku\":\"" + sku + "\"}"),
        400).code());
    assertEquals("forbidden", expect(web.put("/v1/channels/web/aliases/ZZ-2", "{\"sku\":\"" + sku + "\"}"), 403).code());
  }

  @Test
  @DisplayName("bundles: availability from components, reserving holds components, a bundle and its component line count together")
  void bundles() {
    String a = Api.sku("ca");
    String b = Api.sku("cb");
    move(a, "receive", 7);
    move(b, "receive", 5);
    String kit = Api.sku("kit");
    expect(admin.put("/v1/bundles/" + kit, "{\"components\":[{\"sku\":\"" + a + "\",\"qty\":2},{\"sku\":\"" + b
        + "\",\"qty\":1}]}"), 200);
    assertEquals(3, web.channelAvailable("web", kit), "min(7/2, 5/1)");
    JsonNode read = expect(reader.get("/v1/skus/" + kit), 200).json();
    assertTrue(read.path("bundle").asBoolean());
    assertEquals(3, read.path("channels").path("web").asLong());
    try (WsClient ws = WsClient.connect(server.port(), TestServer.READER)) {
      ws.subscribe("web", kit);
      ws.awaitAvailable("web", kit, 3, 5000);
      String id = Api.id("k");
      JsonNode r = expect(web.post("/v1/reservations", "{\"id\":\"" + id + "\",\"channel\":\"web\",\"lines\":["
          + "{\"sku\":\"" + kit + "\",\"qty\":2},{\"sku\":\"" + a + "\",\"qty\":1}]}"), 201).json();
      assertEquals(kit, r.path("lines").path(0).path("sku").asText());
      assertEquals(2, r.path("lines").path(0).path("components").size());
      assertEquals(5, admin.sku(a, "main").path("reserved").asLong(), "2 kits x 2 + 1 loose, counted together");
      assertEquals(2, admin.sku(b, "main").path("reserved").asLong());
      ws.awaitAvailable("web", kit, 1, 5000); // min(2/2, 3/1): the stream follows the components
      Api.Res refused = expect(web.post("/v1/reservations", cart(Api.id("k"), "web", kit, 2, null)), 409);
      assertEquals(kit, refused.json().path("lines").path(0).path("sku").asText());
      assertEquals(1, refused.json().path("lines").path(0).path("available").asLong());
      expect(web.post("/v1/reservations/" + id + "/release", null), 200);
      ws.awaitAvailable("web", kit, 3, 5000);
    }
    JsonNode moved = move(kit, "receive", 1);
    assertEquals("bundle_has_no_stock", moved.path("code").asText());
    assertEquals("bundle_has_no_stock", expect(admin.put("/v1/skus/" + kit + "/policy", "{\"limitPerCustomer\":1}"),
        400).code());
  }

  @Test
  @DisplayName("a refused bundle reservation replays its first refusal, even after the bundle changed")
  void refusalReplayAfterBundleChange() {
    String a = Api.sku("fa");
    String b = Api.sku("fb");
    String c = Api.sku("fc");
    move(a, "receive", 1);
    move(b, "receive", 5);
    String kit = Api.sku("fkit");
    expect(admin.put("/v1/bundles/" + kit, "{\"components\":[{\"sku\":\"" + a + "\",\"qty\":2},{\"sku\":\"" + b
        + "\",\"qty\":1}]}"), 200);
    String id = Api.id("fk");
    String body = cart(id, "web", kit, 1, null);
    Api.Res first = expect(web.post("/v1/reservations", body), 409);
    assertEquals("insufficient_stock", first.code());
    // The kit now has three components: today's expansion of the same request differs from the record's.
    expect(admin.put("/v1/bundles/" + kit, "{\"components\":[{\"sku\":\"" + a + "\",\"qty\":2},{\"sku\":\"" + b
        + "\",\"qty\":1},{\"sku\":\"" + c + "\",\"qty\":1}]}"), 200);
    Api.Res again = expect(web.post("/v1/reservations", body), 409);
    assertEquals(first.json(), again.json(), "the replay answers the first refusal");
  }

  @Test
  @DisplayName("bundle buyers racing component buyers on the last units: no component is ever oversold")
  void bundleRace() {
    String a = Api.sku("ra");
    String b = Api.sku("rb");
    move(a, "receive", 20);
    move(b, "receive", 10);
    String kit = Api.sku("rkit");
    expect(admin.put("/v1/bundles/" + kit, "{\"components\":[{\"sku\":\"" + a + "\",\"qty\":2},{\"sku\":\"" + b
        + "\",\"qty\":1}]}"), 200);
    List<CompletableFuture<Api.Res>> kits = new ArrayList<>();
    List<CompletableFuture<Api.Res>> loose = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      kits.add(web.async("POST", "/v1/reservations", cart(Api.id("k"), "web", kit, 1, null)));
      loose.add(web.async("POST", "/v1/reservations", cart(Api.id("l"), "web", i % 2 == 0 ? a : b, 1, null)));
    }
    long kitsHeld = kits.stream().filter(f -> f.join().status() == 201).count();
    long looseA = 0;
    long looseB = 0;
    for (int i = 0; i < loose.size(); i++) {
      Api.Res r = loose.get(i).join();
      assertTrue(r.status() == 201 || "insufficient_stock".equals(r.code()), r.toString());
      if (r.status() == 201) {
        if (i % 2 == 0) {
          looseA++;
        } else {
          looseB++;
        }
      }
    }
    long resA = admin.sku(a, "main").path("reserved").asLong();
    long resB = admin.sku(b, "main").path("reserved").asLong();
    assertEquals(2 * kitsHeld + looseA, resA);
    assertEquals(kitsHeld + looseB, resB);
    assertTrue(resA <= 20 && resB <= 10, "never oversold: " + resA + ", " + resB);
  }

  @Test
  @DisplayName("bad bundles are refused with a clear code and change nothing")
  void badBundles() {
    String a = Api.sku("ba");
    move(a, "receive", 1);
    String kit = Api.sku("bk");
    String comps = "{\"components\":[{\"sku\":\"%s\",\"qty\":%d}]}";
    assertEquals("bundle_contains_itself", expect(admin.put("/v1/bundles/" + kit, String.format(comps, kit, 1)), 400).code());
    assertEquals("invalid_quantity", expect(admin.put("/v1/bundles/" + kit, String.format(comps, a, 0)), 400).code());
    assertEquals("invalid_quantity", expect(admin.put("/v1/bundles/" + kit, String.format(comps, a, -1)), 400).code());
    assertEquals("invalid_components", expect(admin.put("/v1/bundles/" + kit, "{\"components\":[]}"), 400).code());
    assertEquals("sku_has_stock", expect(admin.put("/v1/bundles/" + a, String.format(comps, Api.sku("x"), 1)), 409).code());
    expect(admin.put("/v1/bundles/" + kit, String.format(comps, a, 1)), 200);
    String outer = Api.sku("outer");
    assertEquals("nested_bundle", expect(admin.put("/v1/bundles/" + outer, String.format(comps, kit, 1)), 400).code());
    assertEquals("nested_bundle", expect(admin.put("/v1/bundles/" + a, String.format(comps, Api.sku("y"), 1)), 400).code());
    expect(reader.get("/v1/bundles/" + outer), 404);
    assertEquals("forbidden", expect(web.put("/v1/bundles/" + outer, String.format(comps, a, 1)), 403).code());
  }
}
