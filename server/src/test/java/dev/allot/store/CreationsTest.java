package dev.allot.store;

import dev.allot.Api;
import dev.allot.TestRedis;
import dev.allot.store.Creations.Creation;
import dev.allot.store.Creations.LineDecision;
import dev.allot.store.Creations.NewReservation;
import dev.allot.store.Creations.Result;
import dev.allot.store.RecordStore.StockLine;
import dev.allot.store.Store.HoldStatus;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The one-call scripts of a standalone Redis, driven directly: create_batch one batch at a time
 * ({@link Creations#send}; whatever a batch mixes, each reservation's outcome is the one it would
 * have had alone, in arrival order), and decide_at_once's commit and release ({@link Decisions}).
 */
class CreationsTest {
  static final long NOW = 1_700_000_000_000L;
  static final List<String> LOCS = List.of("main", "shop");
  static Vertx vertx;
  static RedisStore redis;
  static Store store;
  static RecordStore records;
  static Creations creations;
  static Decisions decisions;
  String sku;

  @BeforeAll
  static void setUp() {
    vertx = Vertx.vertx();
    redis = RedisStore.create(vertx, TestRedis.url(), List.of(), 4);
    await(redis.loadScripts());
    store = new Store(redis, 1000);
    records = new RecordStore(redis);
    creations = new Creations(redis, 1000, new InFlight(1));
    decisions = new Decisions(redis, 1000, new InFlight(1));
  }

  @AfterAll
  static void tearDown() {
    await(redis.close());
    await(vertx.close());
  }

  static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  @BeforeEach
  void stock() {
    sku = Api.sku("batch");
    receive(sku, "main", 2);
    receive(sku, "shop", 1);
  }

  void receive(String s, String loc, long qty) {
    assertEquals(Store.MovementStatus.APPLIED, await(store.movement(Api.id("m"), "fp", "receive", s, loc, qty, NOW,
        1000)).status());
  }

  NewReservation res(String id, String fp, String customer, StockLine... lines) {
    return new NewReservation(id, NOW, fp, "web", NOW + 60_000, 0, customer, false, LOCS, List.of(lines),
        "{\"id\":\"" + id + "\",\"lines\":[{\"allocations\":\u00010\u0001}]}", 600);
  }

  long reserved(String s) {
    Store.StockView v = await(store.readStock(s));
    return v.locations().values().stream().mapToLong(Store.LocationCounts::reserved).sum();
  }

  @Test
  @DisplayName("one batch: new ids, an earlier id again (the same request, another one), a refusal and its replay")
  void mixedBatch() {
    String a = Api.id("a");
    String b = Api.id("b");
    String c = Api.id("c");
    String d = Api.id("d");
    List<Creation> out = await(creations.send(List.of(
        res(a, "fa", null, new StockLine(sku, 2)),
        res(b, "fb", null, new StockLine(sku, 1)),
        res(a, "fa", null, new StockLine(sku, 2)),
        res(a, "other", null, new StockLine(sku, 1)),
        res(c, "fc", null, new StockLine(sku, 1)),
        res(d, "fd", null, new StockLine(sku, 1)),
        res(c, "fc", null, new StockLine(sku, 1)))));
    assertEquals(List.of(Result.CREATED, Result.CREATED, Result.SAME_REQUEST, Result.OTHER_REQUEST, Result.REFUSED,
        Result.REFUSED, Result.SAME_REQUEST), out.stream().map(Creation::result).toList());
    assertEquals("{\"id\":\"" + a + "\",\"lines\":[{\"allocations\":[{\"location\":\"main\",\"qty\":2}]}]}",
        out.get(0).body(), "the template filled with where the units are held");
    assertEquals("{\"id\":\"" + b + "\",\"lines\":[{\"allocations\":[{\"location\":\"shop\",\"qty\":1}]}]}",
        out.get(1).body(), "the first location is empty: the next one in the channel's order");
    assertEquals(out.get(0).body(), out.get(2).body(), "the replay answers the first outcome");
    assertEquals("held", out.get(2).state());
    assertEquals(201, out.get(2).status());
    assertEquals(List.of(new LineDecision(HoldStatus.INSUFFICIENT, 0)), out.get(4).refusal());
    // A refused id again later in the same batch answers its refusal, as a replay after it would.
    assertEquals(409, out.get(6).status());
    assertEquals("rejected", out.get(6).state());
    assertEquals(out.get(4).refusal(), out.get(6).refusal());
    assertEquals(3, reserved(sku), "a and b hold 3 units; the conflict and the refusals hold nothing");

    // The records agree: a and b held with their bodies, c refused (no body, its refusal kept for a replay).
    assertEquals("held", await(records.read(a)).state());
    assertEquals(out.get(1).body(), await(records.read(b)).body());
    assertEquals("rejected", await(records.read(c)).state());
    List<Creation> again = await(creations.send(List.of(res(c, "fc", null, new StockLine(sku, 1)))));
    assertEquals(Result.SAME_REQUEST, again.get(0).result());
    assertEquals(409, again.get(0).status());
    assertEquals(List.of(new LineDecision(HoldStatus.INSUFFICIENT, 0)), again.get(0).refusal());
  }

  @Test
  @DisplayName("a template goes cut at its one place when that place is the first line's, else whole")
  void templatesCut() {
    record Case(String template, List<String> args) {
    }
    for (Case c : List.of(
        new Case("{\"a\":\u00010\u0001}", List.of("", "{\"a\":", "}")),
        new Case("{\"a\":\u00010\u0001,\"b\":\u00011\u0001}",
            List.of("", "{\"a\":\u00010\u0001,\"b\":\u00011\u0001}", "")),
        new Case("{\"b\":\u00011\u0001}", List.of("", "{\"b\":\u00011\u0001}", "")),
        new Case("{\"a\":\u000110\u0001}", List.of("", "{\"a\":\u000110\u0001}", "")),
        new Case("{}", List.of("", "{}", "")),
        new Case("{\"a\":\u00010\u0001", List.of("", "{\"a\":\u00010\u0001", "")),
        // A head marked: apart, and the rest cut as before.
        new Case("{\"id\":\"x\"\u0002,\"a\":\u00010\u0001}", List.of("{\"id\":\"x\"", ",\"a\":", "}")),
        new Case("{\"id\":\"x\"\u0002}", List.of("{\"id\":\"x\"", "}", "")))) {
      assertEquals(c.args(), List.of(Creations.cutTemplate(c.template())), c.template());
    }
    // The cut template's slow path: one line held at two locations.
    String id = Api.id("two");
    List<Creation> out = await(creations.send(List.of(res(id, "f", null, new StockLine(sku, 3)))));
    assertEquals("{\"id\":\"" + id + "\",\"lines\":[{\"allocations\":[{\"location\":\"main\",\"qty\":2},"
        + "{\"location\":\"shop\",\"qty\":1}]}]}", out.get(0).body());
  }

  @Test
  @DisplayName("a reservation takes the shape of the one before it only when all past its head is the same")
  void shapesOfNeighbours() {
    receive(sku, "main", 20);
    String rest = ",\"x\":\u00010\u0001}";
    String alias = ",\"alias\":\"Y\",\"x\":\u00010\u0001}";
    String other = ",\"alias\":\"Z\",\"x\":\u00010\u0001}";
    record Cart(String id, String customer, long qty, String rest) {
    }
    List<Cart> carts = List.of(
        new Cart(Api.id("a"), null, 1, rest),
        new Cart(Api.id("b"), null, 1, rest), // the same cart: a's shape
        new Cart(Api.id("e"), null, 2, rest), // another quantity, the same text past the head
        new Cart(Api.id("f"), null, 2, rest), // e's shape
        new Cart(Api.id("c"), null, 2, alias), // the same stock line, another document
        new Cart(Api.id("g"), null, 2, other), // as long as c's, not the same
        new Cart(Api.id("d"), "cu9", 2, alias)); // a customer
    List<NewReservation> batch = new ArrayList<>();
    for (Cart c : carts) {
      batch.add(new NewReservation(c.id(), NOW, "f" + c.id(), "web", NOW + 60_000, 0, c.customer(), false, LOCS,
          List.of(new StockLine(sku, c.qty())), "{\"id\":\"" + c.id() + "\"" + Creations.HEAD_END + c.rest(), 600));
    }
    List<Creation> out = await(creations.send(batch));
    for (int i = 0; i < carts.size(); i++) {
      Cart c = carts.get(i);
      String body = "{\"id\":\"" + c.id() + "\"" + c.rest().replace("\u00010\u0001",
          "[{\"location\":\"main\",\"qty\":" + c.qty() + "}]");
      assertEquals(Result.CREATED, out.get(i).result(), c.id());
      assertEquals(body, out.get(i).body(), "each its own head before its own shape's rest");
      RecordStore.Record record = await(records.read(c.id()));
      assertEquals(body, record.body());
      assertEquals(List.of(new StockLine(sku, c.qty())), record.lines());
    }
    assertEquals("2", String.valueOf(await(redis.send(Command.HGET, Keys.customers(sku), "cu9"))),
        "d's two units counted for its customer, though the cart before it had none");
    assertEquals(12, reserved(sku));
  }

  @Test
  @DisplayName("a template naming a line its reservation lacks fails the call: nothing held, nothing borrowed")
  void templateBeyondItsLines() {
    String good = Api.id("good");
    String bad = Api.id("bad");
    Future<List<Creation>> call = creations.send(List.of(
        res(good, "fg", null, new StockLine(sku, 1)),
        new NewReservation(bad, NOW, "fb", "web", NOW + 60_000, 0, null, false, LOCS, List.of(new StockLine(sku, 1)),
            "{\"a\":\u00010\u0001,\"b\":\u00011\u0001}", 600)));
    RuntimeException failed = assertThrows(RuntimeException.class, () -> await(call));
    assertTrue(String.valueOf(failed.getCause()).contains("names stock line 2 of 1"), String.valueOf(failed.getCause()));
    assertEquals(0, reserved(sku), "the script stopped before it wrote a hold");
    assertNull(await(records.read(good)), "nor a record");
  }

  @Test
  @DisplayName("a per-customer limit reached in the middle of a batch: exactly the limit is held for that customer")
  void customerLimitMidBatch() {
    receive(sku, "main", 10);
    await(store.setCustomerLimit(sku, 3L));
    List<NewReservation> batch = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      batch.add(res(Api.id("x"), "f" + i, "bot", new StockLine(sku, 1)));
      batch.add(res(Api.id("y"), "g" + i, "human-" + i, new StockLine(sku, 1)));
    }
    List<Creation> out = await(creations.send(batch));
    List<Result> bot = new ArrayList<>();
    for (int i = 0; i < out.size(); i += 2) {
      bot.add(out.get(i).result());
      assertEquals(Result.CREATED, out.get(i + 1).result(), "other customers are not limited by bot");
    }
    assertEquals(List.of(Result.CREATED, Result.CREATED, Result.CREATED, Result.REFUSED, Result.REFUSED), bot,
        "the first three of bot's, in arrival order");
    assertEquals(List.of(new LineDecision(HoldStatus.CUSTOMER_LIMIT, 0)), out.get(6).refusal());
    assertEquals("3", await(redis.send(Command.HGET, Keys.customers(sku), "bot")).toString());
    assertEquals(8, reserved(sku));
  }

  @Test
  @DisplayName("channels pass once a call: each reservation draws on its own channel's locations and buffer")
  void channelsOfABatch() {
    String a = Api.id("ca");
    String b = Api.id("cb");
    String c = Api.id("cc");
    String d = Api.id("cd");
    // main 2, shop 1. web draws main then shop; b2b shop only; the same web with a buffer of 2 (a
    // catalogue change between two requests) is another channel for the call.
    List<Creation> out = await(creations.send(List.of(
        new NewReservation(a, NOW, "fa", "b2b", NOW + 60_000, 0, null, false, List.of("shop"),
            List.of(new StockLine(sku, 1)), "{\"a\":\u00010\u0001}", 600),
        res(b, "fb", null, new StockLine(sku, 1)),
        new NewReservation(c, NOW, "fc", "web", NOW + 60_000, 2, null, false, LOCS,
            List.of(new StockLine(sku, 1)), "{}", 600),
        new NewReservation(d, NOW, "fd", "b2b", NOW + 60_000, 0, null, false, List.of("shop"),
            List.of(new StockLine(sku, 1)), "{}", 600))));
    assertEquals(List.of(Result.CREATED, Result.CREATED, Result.REFUSED, Result.REFUSED),
        out.stream().map(Creation::result).toList());
    assertEquals("{\"a\":[{\"location\":\"shop\"" + ",\"qty\":1}]}", out.get(0).body(), "b2b's one location");
    assertEquals(List.of(new LineDecision(HoldStatus.INSUFFICIENT, 0)), out.get(2).refusal(),
        "one unit left at main, and web-with-a-buffer-of-2 keeps 2 back");
    assertEquals(List.of(new LineDecision(HoldStatus.INSUFFICIENT, 0)), out.get(3).refusal(), "shop is empty for b2b");
    assertEquals("b2b", await(records.read(a)).channel());
    assertEquals("web", await(records.read(b)).channel());
  }

  @Test
  @DisplayName("a batch's holds at one location are one stored ledger entry that reads as one entry per hold; its held events one feed entry")
  void batchLedgerAndEvents() {
    receive(sku, "main", 3);
    String a = Api.id("la");
    String b = Api.id("lb");
    String c = Api.id("lc");
    String d = Api.id("ld");
    long seqBefore = await(redis.send(Command.HGET, Keys.stock(sku), "lseq")).toLong();
    List<Creation> out = await(creations.send(List.of(
        res(a, "fa", null, new StockLine(sku, 2)),
        res(b, "fb", null, new StockLine(sku, 2)),
        res(c, "fc", null, new StockLine(sku, 2)),
        res(d, "fd", null, new StockLine(sku, 1)))));
    assertEquals(List.of(Result.CREATED, Result.CREATED, Result.CREATED, Result.REFUSED),
        out.stream().map(Creation::result).toList());

    // Stored: main's three holds in one entry (numbers after the last), shop's one hold plain.
    List<String> stored = await(store.ledger(sku, 10));
    assertTrue(stored.get(0).contains("\"location\":\"shop\"") && !stored.get(0).contains("holds"), stored.get(0));
    assertTrue(stored.get(1).contains("\"holds\":\"" + a + "=2," + b + "=2," + c + "=1\"")
        && stored.get(1).contains("\"reserved\":5") && stored.get(1).contains("\"ref\":\"" + c + "\""), stored.get(1));

    // Read: one entry per hold, newest first, consecutive seqs, each with the numbers after it.
    List<com.fasterxml.jackson.databind.node.ObjectNode> read = new ArrayList<>();
    for (String e : stored.subList(0, 2)) {
      read.addAll(dev.allot.stock.Inventory.expand((com.fasterxml.jackson.databind.node.ObjectNode)
          dev.allot.stock.Json.read(e)));
    }
    assertEquals(List.of(c, c, b, a), read.stream().map(e -> e.path("ref").asText()).toList());
    assertEquals(List.of("shop", "main", "main", "main"), read.stream().map(e -> e.path("location").asText()).toList());
    assertEquals(List.of(seqBefore + 4, seqBefore + 3, seqBefore + 2, seqBefore + 1),
        read.stream().map(e -> e.path("seq").asLong()).toList());
    assertEquals(List.of(1L, 5L, 4L, 2L), read.stream().map(e -> e.path("reserved").asLong()).toList());
    assertTrue(read.stream().noneMatch(e -> e.has("holds")));
    assertEquals(seqBefore + 4, await(redis.send(Command.HGET, Keys.stock(sku), "lseq")).toLong());

    // The feed: the three held reservations in one entry, in order; templates without a head, so each
    // document is kept whole, as answered.
    Map<String, String> entry = heldEntry(a);
    assertEquals(a + "," + b + "," + c, entry.get("r"));
    assertEquals(out.get(0).body() + "\n" + out.get(1).body() + "\n" + out.get(2).body(), entry.get("x"));
    assertEquals("1,2,3", entry.get("i"));
  }

  /** The fields of the one feed entry holding reservation id's held event (none: fails). */
  Map<String, String> heldEntry(String id) {
    Map<String, String> found = null;
    for (Response entry : await(redis.send(Command.XREVRANGE, Keys.FEED, "+", "-", "COUNT", "50"))) {
      Map<String, String> f = new java.util.LinkedHashMap<>();
      for (int k = 0; k + 1 < entry.get(1).size(); k += 2) {
        f.put(entry.get(1).get(k).toString(), entry.get(1).get(k + 1).toString());
      }
      if ("resc".equals(f.get("t")) && List.of(f.get("r").split(",")).contains(id)) {
        assertNull(found, "one entry holds " + id);
        found = f;
      }
    }
    assertTrue(found != null, "a resc entry holds " + id);
    return found;
  }

  @Test
  @DisplayName("a call's held events are one compact entry: each distinct rest of their documents once, read back whole")
  void compactHeldEntry() {
    receive(sku, "main", 10);
    long deadline = NOW + 60_000;
    String a = Api.id("ca");
    String b = Api.id("cb");
    String c = Api.id("cc");
    String d = Api.id("cd");
    String e = Api.id("ce");
    // a, b and d carts alike (one rest), c another quantity, e a template without a head (kept whole).
    List<Creation> out = await(creations.send(List.of(
        marked(a, deadline, 1), marked(b, deadline, 1), marked(c, deadline + 7, 2), marked(d, deadline + 1, 1),
        new NewReservation(e, NOW, "fe", "web", deadline, 0, null, false, LOCS, List.of(new StockLine(sku, 1)),
            "{\"id\":\"" + e + "\",\"lines\":[{\"allocations\":\u00010\u0001}]}", 600))));
    assertEquals(List.of(Result.CREATED, Result.CREATED, Result.CREATED, Result.CREATED, Result.CREATED),
        out.stream().map(Creation::result).toList());
    String rest1 = ",\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":1,\"allocations\":[{\"location\":\"main\",\"qty\":1}]}]}";
    String rest2 = ",\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":2,\"allocations\":[{\"location\":\"main\",\"qty\":2}]}]}";
    assertEquals(head(a, deadline) + rest1, out.get(0).body(), "the 201 is the head and the rest");
    assertEquals(head(c, deadline + 7) + rest2, out.get(2).body());
    assertEquals(out.get(3).body(), await(records.read(d)).body(), "the record keeps the whole document");

    Map<String, String> entry = heldEntry(a);
    assertEquals(String.join(",", a, b, c, d, e), entry.get("r"));
    assertEquals("web,web,web,web,web", entry.get("c"));
    assertEquals(deadline + "," + deadline + "," + (deadline + 7) + "," + (deadline + 1) + "," + deadline, entry.get("d"));
    assertEquals(rest1 + "\n" + rest2 + "\n" + out.get(4).body(), entry.get("x"), "each distinct rest once");
    assertEquals("1,1,2,1,3", entry.get("i"));
    assertEquals("held", entry.get("st"));
    assertFalse(entry.containsKey("b"), "no documents repeated");
    // Read back: each reservation's document, as answered.
    String[] rests = entry.get("x").split("\n");
    String[] ids = entry.get("r").split(",");
    String[] deadlines = entry.get("d").split(",");
    String[] index = entry.get("i").split(",");
    for (int k = 0; k < ids.length; k++) {
      assertEquals(out.get(k).body(), dev.allot.stock.ReservationDocs.heldBody(ids[k], "web", Long.parseLong(deadlines[k]),
          rests[Integer.parseInt(index[k]) - 1]), ids[k]);
    }

    // Their decisions at once: the same compact entry, states and order ids one each; the documents read
    // back in their new state are those the records' bodies make.
    List<Response> decided = await(decisions.send(List.of(
        new Decisions.Operation("commit", a, "", "o,\"a\"\n", "5000", NOW + 100),
        new Decisions.Operation("commit", c, "", "", "5000", NOW + 100),
        new Decisions.Operation("release", b, "", "5000", "3600", NOW + 100),
        new Decisions.Operation("release", e, "", "5000", "3600", NOW + 100),
        new Decisions.Operation("commit", d, "", "o-d", "5000", NOW + 100))));
    decided.forEach(r -> assertEquals(1, r.get(0).toInteger(), r.toString()));
    Map<String, String> moved = heldEntryOf(a, "committed,committed,released,released,committed");
    assertEquals(String.join(",", a, c, b, e, d), moved.get("r"));
    assertEquals(rest1 + "\n" + rest2 + "\n" + out.get(4).body(), moved.get("x"), "each distinct rest once");
    assertEquals("1,2,1,3,1", moved.get("i"));
    String[] movedIds = moved.get("r").split(",");
    String[] movedStates = moved.get("st").split(",");
    String[] movedRests = moved.get("x").split("\n");
    String[] movedIndex = moved.get("i").split(",");
    String[] movedDeadlines = moved.get("d").split(",");
    com.fasterxml.jackson.databind.JsonNode orders = dev.allot.stock.Json.read(moved.get("o"));
    for (int k = 0; k < movedIds.length; k++) {
      RecordStore.Record rec = await(records.read(movedIds[k]));
      long dl = Long.parseLong(movedDeadlines[k]);
      assertEquals(dev.allot.stock.ReservationDocs.view(rec.body(), movedStates[k], dl, rec.orderId()),
          dev.allot.stock.ReservationDocs.view(dev.allot.stock.ReservationDocs.heldBody(movedIds[k], "web", dl,
              movedRests[Integer.parseInt(movedIndex[k]) - 1]), movedStates[k], dl, orders.get(k).asText()), movedIds[k]);
    }
  }

  /** The fields of the one compact feed entry holding reservation id with these states. */
  Map<String, String> heldEntryOf(String id, String states) {
    for (Response entry : await(redis.send(Command.XREVRANGE, Keys.FEED, "+", "-", "COUNT", "50"))) {
      Map<String, String> f = new java.util.LinkedHashMap<>();
      for (int k = 0; k + 1 < entry.get(1).size(); k += 2) {
        f.put(entry.get(1).get(k).toString(), entry.get(1).get(k + 1).toString());
      }
      if ("resc".equals(f.get("t")) && states.equals(f.get("st")) && List.of(f.get("r").split(",")).contains(id)) {
        return f;
      }
    }
    throw new AssertionError("no resc entry of " + states + " holds " + id);
  }

  /** The head ReservationDocs writes before a template's mark. */
  static String head(String id, long deadline) {
    return "{\"id\":\"" + id + "\",\"channel\":\"web\",\"state\":\"held\",\"expiresAt\":\""
        + java.time.Instant.ofEpochMilli(deadline) + "\"";
  }

  /** A one-line cart of qty units with the template the server writes: a head, its mark, then the lines. */
  NewReservation marked(String id, long deadline, long qty) {
    return new NewReservation(id, NOW, "f" + id, "web", deadline, 0, null, false, List.of("main"),
        List.of(new StockLine(sku, qty)), head(id, deadline) + Creations.HEAD_END + ",\"lines\":[{\"sku\":\"" + sku
            + "\",\"qty\":" + qty + ",\"allocations\":\u00010\u0001}]}", 600);
  }

  @Test
  @DisplayName("a cart over two SKUs is all or nothing inside a batch; each SKU's ledger explains its numbers")
  void cartsAllOrNothing() {
    String other = Api.sku("other");
    receive(other, "main", 1);
    String first = Api.id("cart");
    String second = Api.id("cart");
    List<Creation> out = await(creations.send(List.of(
        new NewReservation(first, NOW, "f1", "web", NOW + 60_000, 0, null, false, LOCS,
            List.of(new StockLine(sku, 1), new StockLine(other, 1)),
            "{\"a\":\u00010\u0001,\"b\":\u00011\u0001}", 600),
        new NewReservation(second, NOW, "f2", "web", NOW + 60_000, 0, null, false, LOCS,
            List.of(new StockLine(sku, 1), new StockLine(other, 1)), "{}", 600))));
    assertEquals(Result.CREATED, out.get(0).result());
    assertEquals("{\"a\":[{\"location\":\"main\",\"qty\":1}],\"b\":[{\"location\":\"main\",\"qty\":1}]}",
        out.get(0).body());
    assertEquals(Result.REFUSED, out.get(1).result());
    assertEquals(List.of(new LineDecision(HoldStatus.HELD, 2), new LineDecision(HoldStatus.INSUFFICIENT, 0)),
        out.get(1).refusal(), "the first SKU could have been held (2 left); the second could not");
    assertEquals(1, reserved(sku), "the refused cart holds nothing of the SKU it could have had");
    assertEquals(1, reserved(other));
    List<String> ledger = await(store.ledger(sku, 10));
    assertTrue(ledger.get(0).contains("\"type\":\"hold\"") && ledger.get(0).contains("\"ref\":\"" + first + "\"")
        && ledger.get(0).contains("\"reserved\":1"), ledger.get(0));
    assertEquals("", await(records.read(second)).body(), "a refused record keeps its refusal, not a body");
  }

  @Test
  @DisplayName("a backorder taking no units from the shelf, in a batch with a hold that empties it")
  void wholeBackorderInBatch() {
    String a = Api.id("a");
    String b = Api.id("b");
    List<Creation> out = await(creations.send(List.of(
        res(a, "fa", null, new StockLine(sku, 3)),
        new NewReservation(b, NOW, "fb", "trade", NOW + 60_000, 0, null, true, LOCS, List.of(new StockLine(sku, 2)),
            "{\"allocations\":\u00010\u0001}", 600))));
    assertEquals(Result.CREATED, out.get(1).result());
    assertEquals("{\"allocations\":[],\"backordered\":2}", out.get(1).body());
    assertEquals(3, reserved(sku));
    assertEquals(2, await(store.readStock(sku)).backordered());
  }

  /** A reservation of 1 unit of sku and of other, created by create_batch. */
  private List<StockLine> cart(String id, String other) {
    List<StockLine> lines = List.of(new StockLine(sku, 1), new StockLine(other, 1));
    assertEquals(Result.CREATED, await(creations.send(List.of(new NewReservation(id, NOW, "f", "web", NOW + 60_000, 0,
        null, false, LOCS, lines, "{}", 600)))).get(0).result());
    return lines;
  }

  long committed(String s) {
    return await(store.readStock(s)).locations().values().stream().mapToLong(Store.LocationCounts::committed).sum();
  }

  @Test
  @DisplayName("decide_at_once commit: the record and every line in one call; a replay answers the order id")
  void commitAtOnce() {
    String other = Api.sku("other");
    receive(other, "main", 2);
    String id = Api.id("r");
    cart(id, other);
    Decisions.Decided c = await(decisions.commit(id, "web", "order-1", NOW + 1000, 5000));
    assertEquals(Decisions.Outcome.DONE, c.outcome());
    assertEquals("order-1", c.orderId());
    assertEquals("{}", c.body());
    assertEquals(NOW + 60_000, c.deadline());
    assertEquals(0, reserved(sku) + reserved(other));
    assertEquals(1, committed(sku));
    assertEquals(1, committed(other));
    assertEquals("committed", await(records.read(id)).state());
    assertTrue(await(store.ledger(other, 1)).get(0).contains("\"type\":\"commit\""));
    Decisions.Decided again = await(decisions.commit(id, null, "order-2", NOW + 2000, 5000));
    assertEquals(Decisions.Outcome.ALREADY, again.outcome());
    assertEquals("order-1", again.orderId(), "the stored order id");
    assertEquals(1, committed(sku), "a replay changes nothing");
    assertEquals(Decisions.Outcome.MISSING, await(decisions.commit(Api.id("none"), null, null, NOW, 5000)).outcome());
  }

  @Test
  @DisplayName("decide_at_once reads the record: another channel's reservation and a refused one are not decided")
  void recordChecks() {
    String id = Api.id("r");
    assertEquals(Result.CREATED, await(creations.send(List.of(res(id, "f", null, new StockLine(sku, 1))))).get(0).result());
    assertEquals(Decisions.Outcome.FORBIDDEN, await(decisions.commit(id, "shop", null, NOW + 100, 5000)).outcome());
    assertEquals(Decisions.Outcome.FORBIDDEN, await(decisions.release(id, "shop", NOW + 100, 5000, 3600)).outcome());
    assertEquals(1, reserved(sku), "still held");
    String refused = Api.id("r");
    assertEquals(Result.REFUSED, await(creations.send(List.of(res(refused, "f", null, new StockLine(sku, 9))))).get(0)
        .result());
    assertEquals(Decisions.Outcome.MISSING, await(decisions.commit(refused, null, null, NOW + 100, 5000)).outcome(),
        "a refused reservation was never created");
    assertEquals(Decisions.Outcome.DONE, await(decisions.release(id, "web", NOW + 100, 5000, 3600)).outcome());
    assertEquals(0, reserved(sku));
  }

  @Test
  @DisplayName("decide_at_once commit with one line's hold gone: the reservation expires, nothing is committed")
  void commitWithALineGone() {
    String other = Api.sku("other");
    receive(other, "main", 2);
    String id = Api.id("r");
    cart(id, other);
    await(store.releaseLine(other, id, NOW + 10)); // the hold vanished on one SKU
    Decisions.Decided c = await(decisions.commit(id, null, null, NOW + 1000, 5000));
    assertEquals(Decisions.Outcome.REFUSED, c.outcome());
    assertEquals("expired", c.state());
    assertTrue(c.expiredNow());
    assertEquals("expired", await(records.read(id)).state(), "the record decided: expired, the caller settles");
    assertEquals(0, committed(sku) + committed(other), "nothing committed");
    assertEquals(1, reserved(sku), "the line still held waits for the settle (or the sweeper)");
  }

  @Test
  @DisplayName("decide_at_once release: every line given back and the record cleaned in one call; a replay changes nothing")
  void releaseAtOnce() {
    String other = Api.sku("other");
    receive(other, "main", 2);
    String id = Api.id("r");
    cart(id, other);
    Decisions.Decided t = await(decisions.release(id, null, NOW + 1000, 5000, 3600));
    assertEquals(Decisions.Outcome.DONE, t.outcome());
    assertEquals(0, reserved(sku) + reserved(other));
    RecordStore.Record rec = await(records.read(id));
    assertEquals("released", rec.state());
    assertEquals("1", await(redis.send(Command.HGET, Keys.reservation(id), "cl")).toString(), "cleaned");
    assertTrue(await(redis.send(Command.TTL, Keys.reservation(id))).toLong() > 0, "kept for the retention");
    assertEquals(Decisions.Outcome.ALREADY, await(decisions.release(id, null, NOW + 2000, 5000, 3600)).outcome());
    Decisions.Decided commit = await(decisions.commit(id, null, null, NOW + 2000, 5000));
    assertEquals(Decisions.Outcome.REFUSED, commit.outcome(), "a released reservation cannot be committed");
    assertEquals("released", commit.state());
    assertEquals(0, committed(sku) + committed(other));
  }

  @Test
  @DisplayName("decide_at_once, one batch: a commit, a release, the same commit again, a release of the committed one, an unknown id")
  void decisionsBatch() {
    String other = Api.sku("other");
    receive(other, "main", 2);
    String a = Api.id("a");
    String b = Api.id("b");
    cart(a, other);
    cart(b, other);
    List<Response> out = await(decisions.send(List.of(
        new Decisions.Operation("commit", a, "", "o-a", "5000", NOW + 100),
        new Decisions.Operation("release", b, "web", "5000", "3600", NOW + 100),
        new Decisions.Operation("commit", a, "", "o-a", "5000", NOW + 100),
        new Decisions.Operation("release", a, "", "5000", "3600", NOW + 100),
        new Decisions.Operation("commit", Api.id("none"), "", "", "5000", NOW + 100))));
    long deadline = NOW + 60_000;
    assertEquals("[1, committed, o-a, {}, " + deadline + "]", out.get(0).toString());
    assertEquals("[1, released, , {}, " + deadline + "]", out.get(1).toString());
    assertEquals("[2, committed, o-a, {}, " + deadline + "]", out.get(2).toString(),
        "the second commit of a in the batch is a replay");
    assertEquals("[0, committed, 0]", out.get(3).toString(), "a committed reservation is not released");
    assertEquals("[-1]", out.get(4).toString());
    assertEquals(1, committed(sku));
    assertEquals(1, committed(other));
    assertEquals(0, reserved(sku) + reserved(other), "b's units are back, a's are committed");
    assertEquals("released", await(records.read(b)).state());
  }

  @Test
  @DisplayName("decide_at_once, one batch: a location's commits, and its releases, are each one stored ledger entry that reads as one entry per change")
  void decisionsLedger() {
    receive(sku, "main", 8);
    String a = Api.id("a");
    String b = Api.id("b");
    String c = Api.id("c");
    String e = Api.id("e");
    String d = Api.id("d");
    List<Creation> held = await(creations.send(List.of(res(a, "fa", "cu1", new StockLine(sku, 1)),
        res(b, "fb", null, new StockLine(sku, 2)), res(c, "fc", "cu2", new StockLine(sku, 1)),
        res(e, "fe", null, new StockLine(sku, 1)), res(d, "fd", null, new StockLine(sku, 1)))));
    assertTrue(held.stream().allMatch(x -> x.result() == Result.CREATED));
    long seqBefore = await(redis.send(Command.HGET, Keys.stock(sku), "lseq")).toLong();
    List<Response> out = await(decisions.send(List.of(
        new Decisions.Operation("commit", a, "web", "o-a", "5000", NOW + 100),
        new Decisions.Operation("commit", b, "web", "o-b", "5000", NOW + 100),
        new Decisions.Operation("release", c, "web", "5000", "3600", NOW + 100),
        new Decisions.Operation("release", e, "web", "5000", "3600", NOW + 100),
        new Decisions.Operation("commit", d, "web", "o-d", "5000", NOW + 100))));
    assertEquals(List.of("1", "1", "1", "1", "1"), out.stream().map(x -> x.get(0).toString()).toList());

    // Stored: d's commit plain, c and e's releases in one entry, a and b's commits in one, the holds in one.
    List<String> stored = await(store.ledger(sku, 4));
    assertTrue(stored.get(0).contains("\"type\":\"commit\"") && !stored.get(0).contains("holds"), stored.get(0));
    assertTrue(stored.get(1).contains("\"holds\":\"" + c + "=1," + e + "=1\""), stored.get(1));
    assertTrue(stored.get(2).contains("\"holds\":\"" + a + "=1," + b + "=2\""), stored.get(2));
    // Read: one entry per change, newest first, consecutive seqs, each with the numbers after it.
    List<com.fasterxml.jackson.databind.node.ObjectNode> read = new ArrayList<>();
    for (String entry : stored) {
      read.addAll(dev.allot.stock.Inventory.expand((com.fasterxml.jackson.databind.node.ObjectNode)
          dev.allot.stock.Json.read(entry)));
    }
    List<String> shown = read.subList(0, 10).stream().map(x -> x.path("type").asText() + " " + x.path("ref").asText()
        + " res " + x.path("reserved").asLong() + " com " + x.path("committed").asLong()).toList();
    assertEquals(List.of("commit " + d + " res 0 com 4", "release " + e + " res 1 com 3", "release " + c + " res 2 com 3",
        "commit " + b + " res 3 com 3", "commit " + a + " res 5 com 1", "hold " + d + " res 6 com 0",
        "hold " + e + " res 5 com 0", "hold " + c + " res 4 com 0", "hold " + b + " res 3 com 0",
        "hold " + a + " res 1 com 0"), shown);
    for (int i = 0; i < 5; i++) {
      assertEquals(seqBefore + 5 - i, read.get(i).path("seq").asLong());
    }
    assertEquals(seqBefore + 5, await(redis.send(Command.HGET, Keys.stock(sku), "lseq")).toLong());
    assertEquals(0, reserved(sku));
    assertEquals(4, committed(sku));

    // The entries, the expiry index and the customers' counts, written once for the batch.
    assertEquals("c|0|web|main=1|cu1|0", await(redis.send(Command.HGET, Keys.holds(sku), a)).toString());
    assertNull(await(redis.send(Command.HGET, Keys.holds(sku), c)));
    for (String id : List.of(a, b, c, e, d)) {
      assertNull(await(redis.send(Command.ZSCORE, Keys.expiry(sku), id)), id + " left the expiry index");
    }
    assertEquals("1", await(redis.send(Command.HGET, Keys.customers(sku), "cu1")).toString());
    assertEquals(0, await(redis.send(Command.HEXISTS, Keys.customers(sku), "cu2")).toInteger(),
        "a customer with nothing left is dropped");

    // The feed: the records' events in one entry, in order (states one each, the order ids a JSON
    // array), then the SKU's.
    Response last = await(redis.send(Command.XREVRANGE, Keys.FEED, "+", "-", "COUNT", "2"));
    List<String> f = new ArrayList<>();
    last.get(1).get(1).forEach(x -> f.add(x.toString()));
    assertEquals("resc", f.get(f.indexOf("t") + 1));
    assertEquals("committed,committed,released,released,committed", f.get(f.indexOf("st") + 1));
    assertEquals(String.join(",", a, b, c, e, d), f.get(f.indexOf("r") + 1));
    assertEquals("[\"o-a\",\"o-b\",\"\",\"\",\"o-d\"]", f.get(f.indexOf("o") + 1));
    // These templates have no head: each document whole, once.
    assertEquals("1,2,3,4,5", f.get(f.indexOf("i") + 1));
    assertEquals(String.join("\n", held.get(0).body(), held.get(1).body(), held.get(2).body(), held.get(3).body(),
        held.get(4).body()), f.get(f.indexOf("x") + 1));
    assertTrue(last.get(0).get(1).toString().contains("stock"), "the SKU's entry after the records'");
  }

  Long dueScore(String key, String id) {
    Response r = await(redis.send(Command.ZSCORE, key, id));
    return r == null ? null : Math.round(r.toDouble());
  }

  /** sweep_claim on one due index: the ids it claims, each leased for 1,000 ms. */
  List<String> sweep(String key, long now, int limit) {
    Response r = await(redis.eval(Script.SWEEP_CLAIM, List.of(key),
        List.of(Long.toString(now), "1000", Integer.toString(limit))));
    List<String> ids = new ArrayList<>();
    r.forEach(x -> ids.add(x.toString()));
    return ids;
  }

  /** Moves a due entry from the shared allot:due into an index of this test's own (other tests' entries stay out). */
  String isolate(String member) {
    String lane = "test:due:" + Api.id("lane");
    Long score = dueScore(Keys.DUE_ALL, member);
    assertNotNull(score, member + " in allot:due");
    await(redis.send(Command.ZREM, Keys.DUE_ALL, member));
    await(redis.send(Command.ZADD, lane, Long.toString(score), member));
    return lane;
  }

  @Test
  @DisplayName("the due index of a standalone Redis is one key: a batch adds one entry for its held ones, opened when it comes due")
  void oneDueIndex() {
    receive(sku, "main", 10);
    String a = Api.id("a");
    String b = Api.id("b");
    String c = Api.id("c");
    String d = Api.id("d");
    String refused = Api.id("x");
    List<Creation> out = await(creations.send(List.of(res(a, "fa", null, new StockLine(sku, 1)),
        res(b, "fb", null, new StockLine(sku, 1)), res(c, "fc", null, new StockLine(sku, 1)),
        res(d, "fd", null, new StockLine(sku, 1)), res(refused, "fx", null, new StockLine(sku, 99)))));
    assertEquals(List.of(Result.CREATED, Result.CREATED, Result.CREATED, Result.CREATED, Result.REFUSED),
        out.stream().map(Creation::result).toList());
    // One entry for the four held ones: '*' and their record keys, at the earliest deadline.
    String group = "*" + String.join(",", Keys.reservation(a), Keys.reservation(b), Keys.reservation(c),
        Keys.reservation(d));
    assertEquals(NOW + 60_000, dueScore(Keys.DUE_ALL, group));
    for (String id : List.of(a, b, c, d, refused)) {
      assertNull(dueScore(Keys.DUE_ALL, id), id + " has no entry of its own");
      assertNull(dueScore(Keys.due(Keys.bucket(id)), id), "nothing in the bucket's index");
    }
    assertEquals(Decisions.Outcome.DONE, await(decisions.commit(a, null, null, NOW + 100, 5000)).outcome());
    assertEquals(Decisions.Outcome.DONE, await(decisions.release(b, null, NOW + 100, 5000, 3600)).outcome());
    assertNull(dueScore(Keys.DUE_ALL, b), "released and cleaned: no entry of its own");
    assertEquals(RecordStore.Result.DONE, await(records.extend(c, NOW + 200, NOW + 90_000)).result());
    assertEquals(NOW + 90_000, dueScore(Keys.DUE_ALL, c), "an extended record gets an entry of its own");
    await(redis.send(Command.ZREM, Keys.DUE_ALL, c));
    String lane = isolate(group);
    assertEquals(List.of(), sweep(lane, NOW + 59_999, 1000), "nothing due yet");
    assertEquals(NOW + 60_000, dueScore(lane, group), "the group waits for its deadline");
    // Due: the group is opened. a (committed) and b (released) need nothing; c is held until
    // NOW + 90,000 (an entry of its own); d's deadline has come: claimed in the same call, leased.
    assertEquals(List.of(d), sweep(lane, NOW + 60_000, 1000));
    assertNull(dueScore(lane, group), "opened");
    assertNull(dueScore(lane, a), "committed: not due");
    assertNull(dueScore(lane, b), "released: not due");
    assertEquals(NOW + 90_000, dueScore(lane, c), "held: due at its own deadline");
    assertEquals(NOW + 61_000, dueScore(lane, d), "leased to the caller");
    assertEquals(List.of(d, c), sweep(lane, NOW + 90_000, 1000), "c due, and d again: its lease ran out");
  }

  @Test
  @DisplayName("a due group whose records are due beyond the claim's limit leaves the rest as entries of their own")
  void dueGroupOverLimit() {
    receive(sku, "main", 10);
    List<String> ids = heldBatch(sku, "g", 5);
    String lane = isolate("*" + String.join(",", ids.stream().map(Keys::reservation).toList()));
    List<String> first = sweep(lane, NOW + 60_000, 2);
    assertEquals(2, first.size(), "two, the limit: " + first);
    assertTrue(ids.containsAll(first));
    List<String> rest = new ArrayList<>(ids);
    rest.removeAll(first);
    for (String id : rest) {
      assertEquals(NOW + 60_000, dueScore(lane, id), id + " due, left for the next claim");
    }
    assertEquals(new java.util.HashSet<>(rest), new java.util.HashSet<>(sweep(lane, NOW + 60_000, 10)));
  }

  @Test
  @DisplayName("a batch's holds share one expiry entry: each goes back at its own deadline, settled ones need nothing")
  void expiryGroup() {
    receive(sku, "main", 10);
    List<String> ids = heldBatch(sku, "e", 5);
    String expiry = Keys.expiry(sku);
    String group = "*" + String.join(",", ids);
    assertEquals(1, await(redis.send(Command.ZCARD, expiry)).toInteger(), "one entry for the call's holds");
    assertEquals(NOW + 60_000, dueScore(expiry, group));
    String a = ids.get(0);
    String b = ids.get(1);
    String c = ids.get(2);
    assertEquals(Decisions.Outcome.DONE, await(decisions.commit(a, null, null, NOW + 100, 5000)).outcome());
    assertEquals(Decisions.Outcome.DONE, await(decisions.release(b, null, NOW + 100, 5000, 3600)).outcome());
    await(store.extendLine(sku, c, NOW + 200, NOW + 90_000));
    assertEquals(3, reserved(sku), "c, d and e held");
    assertEquals(NOW + 90_000, dueScore(expiry, c), "an extended hold gets an entry of its own");
    // A change a moment before the group's deadline leaves it; at the deadline it is opened.
    receiveAt(sku, NOW + 59_999);
    assertEquals(3, reserved(sku));
    assertEquals(NOW + 60_000, dueScore(expiry, group));
    receiveAt(sku, NOW + 60_000);
    assertEquals(1, reserved(sku), "d and e went back; c is held until its own deadline");
    assertNull(dueScore(expiry, group), "opened");
    assertEquals(List.of(c), list(Command.ZRANGE, expiry, "0", "-1"), "c, at its own deadline, and nothing else");
    assertTrue(await(store.ledger(sku, 20)).stream().filter(e -> e.contains("\"type\":\"expire\"")).count() == 2,
        "a ledger line each for d and e");
    receiveAt(sku, NOW + 90_000);
    assertEquals(0, reserved(sku));
    assertEquals(0, await(redis.send(Command.EXISTS, expiry)).toInteger());
  }

  @Test
  @DisplayName("expired holds never refuse a sale: a batch whose holds all expired gives its units to the next buyer")
  void expiredGroupNeverRefuses() {
    String flash = Api.sku("flash");
    receive(flash, "main", 3);
    heldBatch(flash, "cart", 3);
    String late = Api.id("late");
    NewReservation after = new NewReservation(late, NOW + 60_000, "fl", "web", NOW + 120_000, 0, null, false, LOCS,
        List.of(new StockLine(flash, 2)), "{\"id\":\"" + late + "\",\"lines\":[{\"allocations\":\u00010\u0001}]}", 600);
    assertEquals(Result.CREATED, await(creations.send(List.of(after))).get(0).result(),
        "the group's holds expired at NOW + 60,000: their units are there");
    assertEquals(2, reserved(flash));
  }

  @Test
  @DisplayName("deploy/open_groups.lua opens every group into entries of their own, for a rollback")
  void openGroups() throws Exception {
    receive(sku, "main", 10);
    List<String> ids = heldBatch(sku, "o", 5);
    assertEquals(Decisions.Outcome.DONE, await(decisions.commit(ids.get(0), null, null, NOW + 100, 5000)).outcome());
    String script = java.nio.file.Files.readString(java.nio.file.Path.of("..", "deploy", "open_groups.lua"));
    String lane = isolate("*" + String.join(",", ids.stream().map(Keys::reservation).toList()));
    for (List<String> keys : List.of(List.of(Keys.expiry(sku), Keys.holds(sku)), List.of(lane))) {
      String cursor = "0";
      int opened = 0;
      do {
        List<Object> args = new ArrayList<>(List.of(script, keys.size()));
        args.addAll(keys);
        args.add(cursor);
        Response r = await(redis.send(Command.EVAL, args.toArray()));
        cursor = r.get(0).toString();
        opened += r.get(1).toInteger();
      } while (!cursor.equals("0"));
      assertEquals(1, opened, keys.get(0));
      assertEquals(ids.subList(1, 5).stream().sorted().toList(), list(Command.ZRANGE, keys.get(0), "0", "-1"),
          keys.get(0) + ": the held ones, each on its own, the committed one not at all");
      for (String id : ids.subList(1, 5)) {
        assertEquals(NOW + 60_000, dueScore(keys.get(0), id));
      }
    }
  }

  @Test
  @DisplayName("create_batch refuses a reservation naming a shape the call lacks, or arguments that do not add up: nothing held")
  void shapesChecked() {
    String id = Api.id("shape");
    List<String> keys = new ArrayList<>(Keys.skuKeys(sku));
    keys.addAll(List.of(Keys.reservation(id), Keys.DUE_ALL, Keys.stats(Keys.bucket(id)), Keys.FEED));
    List<String> head = List.of(Long.toString(NOW), "1000", Keys.events(sku), "1", "1", "600", "1", "1",
        Keys.events(sku), "web", "0", "0", "2", "main", "shop",
        "1", "", sku + "=1", "{\"a\":", "}", "1", "1", "1");
    long before = reserved(sku);
    for (List<String> reservation : List.of(
        List.of(id, "fp", Long.toString(NOW + 60_000), "", "2"),
        List.of(id, "fp", Long.toString(NOW + 60_000), ""))) {
      List<String> args = new ArrayList<>(head);
      args.addAll(reservation);
      RuntimeException e = assertThrows(RuntimeException.class, () -> await(redis.eval(Script.CREATE_BATCH, keys, args)));
      assertTrue(e.getMessage().contains("ERR create_batch: bad arguments"), e.getMessage());
    }
    assertEquals(before, reserved(sku), "nothing held");
    assertEquals(0, await(redis.send(Command.EXISTS, Keys.reservation(id))).toInteger(), "no record");
    // The same call with its shape named: held.
    List<String> args = new ArrayList<>(head);
    args.addAll(List.of(id, "fp", Long.toString(NOW + 60_000), "", "1"));
    Response r = await(redis.eval(Script.CREATE_BATCH, keys, args));
    assertEquals(ResponseType.BULK, r.get(0).type(), "held: its body alone");
    assertEquals("{\"a\":[{\"location\":\"main\",\"qty\":1}]}", r.get(0).toString());
  }

  /** One call of n fresh reservations of 1 unit of s, every one held: their ids, in order. */
  List<String> heldBatch(String s, String prefix, int n) {
    List<String> ids = new ArrayList<>();
    List<NewReservation> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add(Api.id(prefix + i));
      batch.add(res(ids.get(i), "f" + i, null, new StockLine(s, 1)));
    }
    assertTrue(await(creations.send(batch)).stream().allMatch(c -> c.result() == Result.CREATED));
    return ids;
  }

  void receiveAt(String s, long now) {
    assertEquals(Store.MovementStatus.APPLIED, await(store.movement(Api.id("m"), "fp", "receive", s, "shop", 1, now,
        1000)).status());
  }

  @Test
  @DisplayName("due entries an older version left in the buckets' indexes move into the one index, the earlier score kept")
  void bucketDuesAdopted() {
    String old = Api.id("old");
    String both = Api.id("both");
    // Each alone in its call: an entry of its own each.
    assertEquals(Result.CREATED, await(creations.send(List.of(res(old, "fo", null, new StockLine(sku, 1))))).get(0)
        .result());
    assertEquals(Result.CREATED, await(creations.send(List.of(res(both, "fb", null, new StockLine(sku, 1))))).get(0)
        .result());
    // As an older version wrote them: old's entry in its bucket's index only, both's in both indexes.
    await(redis.send(Command.ZREM, Keys.DUE_ALL, old));
    await(redis.send(Command.ZADD, Keys.due(Keys.bucket(old)), Long.toString(NOW + 10), old));
    await(redis.send(Command.ZADD, Keys.due(Keys.bucket(both)), Long.toString(NOW + 99_000), both));
    assertEquals(2L, await(records.adoptBucketDues(1600)));
    assertEquals(NOW + 10, dueScore(Keys.DUE_ALL, old), "moved with its score");
    assertEquals(NOW + 60_000, dueScore(Keys.DUE_ALL, both), "in both: the earlier score");
    for (String key : Keys.bucketDues()) {
      assertEquals(0, await(redis.send(Command.EXISTS, key)).toInteger(), key + " emptied");
    }
    assertEquals(0L, await(records.adoptBucketDues(1600)), "nothing left to move");
    // The sweeper now finds old's entry in the one index, whatever lane claims it.
    assertTrue(await(records.claimDue(5, NOW + 10, 1000, 1000)).contains(old));
  }

  @Test
  @DisplayName("a backlog in the buckets' due indexes moves a bounded share a call, each bucket's earliest first")
  void bucketDuesAdoptedInShares() {
    String bucket = Keys.due(3);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      ids.add(Api.id("backlog"));
      await(redis.send(Command.ZADD, bucket, Long.toString(NOW + 1000 - i), ids.get(i)));
    }
    // 16 a call is one a bucket: bucket 3's earliest, the last one added.
    assertEquals(1L, await(records.adoptBucketDues(16)));
    assertEquals(NOW + 961, dueScore(Keys.DUE_ALL, ids.get(39)));
    assertNull(dueScore(Keys.DUE_ALL, ids.get(38)), "the rest waits for the next calls");
    assertEquals(39, await(redis.send(Command.ZCARD, bucket)).toInteger());
    long moved = 1;
    for (int call = 0; call < 100 && moved < 40; call++) {
      moved += await(records.adoptBucketDues(16));
    }
    assertEquals(40, moved);
    assertEquals(0, await(redis.send(Command.EXISTS, bucket)).toInteger());
    for (int i = 0; i < 40; i++) {
      assertEquals(NOW + 1000 - i, dueScore(Keys.DUE_ALL, ids.get(i)));
    }
    await(redis.send(Command.ZREM, Keys.DUE_ALL, ids.toArray()));
  }

  @Test
  @DisplayName("deploy/due_rollback.lua puts allot:due's entries back into the buckets Java computes, for a rollback")
  void dueRollback() throws Exception {
    String script = java.nio.file.Files.readString(java.nio.file.Path.of("..", "deploy", "due_rollback.lua"));
    List<String> keys = new ArrayList<>();
    keys.add(Keys.DUE_ALL);
    keys.addAll(Keys.bucketDues());
    // Ids whose Java hash is negative, zero-ish, long, and of every character a client id may hold.
    List<String> ids = new ArrayList<>(List.of("a", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "cart-1", "cart-8812",
        "A.b_c:d-e", "ZZZZZZZZZZZZ", "0"));
    for (int i = 0; i < 40; i++) {
      ids.add(Api.id("rb"));
    }
    for (int i = 0; i < ids.size(); i++) {
      await(redis.send(Command.ZADD, Keys.DUE_ALL, Long.toString(NOW - 1_000_000 + i), ids.get(i)));
    }
    // A group entry of create_batch: each of its reservations goes to its own bucket at the group's score.
    List<String> grouped = List.of(Api.id("g"), Api.id("g"), "cart-8813", "0.0");
    await(redis.send(Command.ZADD, Keys.DUE_ALL, Long.toString(NOW - 2_000_000),
        "*" + String.join(",", grouped.stream().map(Keys::reservation).toList())));
    long moved = 0;
    for (int call = 0; call < 1000; call++) {
      List<Object> args = new ArrayList<>(List.of(script, keys.size()));
      args.addAll(keys);
      args.add("10");
      long n = await(redis.send(Command.EVAL, args.toArray())).toLong();
      if (n == 0) {
        break;
      }
      moved += n;
    }
    assertTrue(moved >= ids.size(), "moved " + moved);
    for (int i = 0; i < ids.size(); i++) {
      String id = ids.get(i);
      assertEquals(NOW - 1_000_000 + i, dueScore(Keys.due(Keys.bucket(id)), id), id + " in bucket " + Keys.bucket(id));
      assertNull(dueScore(Keys.DUE_ALL, id));
    }
    for (String id : grouped) {
      assertEquals(NOW - 2_000_000, dueScore(Keys.due(Keys.bucket(id)), id), id + " out of its group, in its bucket");
    }
    assertTrue(ids.stream().anyMatch(id -> id.hashCode() < 0), "a negative hash among them");
    // And forward again, as a newer instance's sweeper would: every entry back in allot:due.
    while (await(records.adoptBucketDues(1600)) > 0) {
      // until the buckets are empty
    }
    for (int i = 0; i < ids.size(); i++) {
      assertEquals(NOW - 1_000_000 + i, dueScore(Keys.DUE_ALL, ids.get(i)));
    }
    await(redis.send(Command.ZREM, Keys.DUE_ALL, ids.toArray()));
    await(redis.send(Command.ZREM, Keys.DUE_ALL, grouped.toArray()));
  }

  @Test
  @DisplayName("the common cart's short way (one line, one location, no customer) leaves what the general way leaves")
  void plainHoldAsGeneral() {
    // Two SKUs with the same stock, one location; the same five one-unit reservations on each. On the
    // first the template comes cut (the short way); on the second it names its place twice, so it comes
    // whole, which only the general way fills. Three are held, then the units are gone: both ways
    // refuse the last two.
    String plain = Api.sku("plain");
    String general = Api.sku("general");
    Map<String, String> names = new HashMap<>();
    List<NewReservation> p = new ArrayList<>();
    List<NewReservation> g = new ArrayList<>();
    for (String s : List.of(plain, general)) {
      receive(s, "main", 3);
      names.put(s, "SKU");
    }
    for (int i = 0; i < 5; i++) {
      String pid = Api.id("p");
      String gid = Api.id("g");
      names.put(pid, "r" + i);
      names.put(gid, "r" + i);
      p.add(new NewReservation(pid, NOW, "f" + i, "web", NOW + 60_000 + i, 0, null, false, List.of("main"),
          List.of(new StockLine(plain, 1)), "{\"id\":\"" + pid + "\",\"allocations\":\u00010\u0001}", 600));
      g.add(new NewReservation(gid, NOW, "f" + i, "web", NOW + 60_000 + i, 0, null, false, List.of("main"),
          List.of(new StockLine(general, 1)), "{\"id\":\"" + gid + "\",\"allocations\":\u00010\u0001,\"again\":\u00010\u0001}", 600));
    }
    List<Creation> outP = await(creations.send(p));
    List<Creation> outG = await(creations.send(g));
    assertEquals(List.of(Result.CREATED, Result.CREATED, Result.CREATED, Result.REFUSED, Result.REFUSED),
        outP.stream().map(Creation::result).toList());
    assertEquals(outP.stream().map(Creation::result).toList(), outG.stream().map(Creation::result).toList());
    assertEquals(outP.get(4).refusal(), outG.get(4).refusal());
    assertEquals(List.of(new LineDecision(HoldStatus.INSUFFICIENT, 0)), outP.get(4).refusal());
    assertEquals("{\"id\":\"" + p.get(0).id() + "\",\"allocations\":[{\"location\":\"main\",\"qty\":1}]}",
        outP.get(0).body());
    assertEquals("{\"id\":\"" + g.get(0).id() + "\",\"allocations\":[{\"location\":\"main\",\"qty\":1}],"
        + "\"again\":[{\"location\":\"main\",\"qty\":1}]}", outG.get(0).body());
    for (String part : List.of("stock", "holds", "customers")) {
      assertEquals(hash(names, Keys.skuKeys(plain).get(skuPart(part))),
          hash(names, Keys.skuKeys(general).get(skuPart(part))), part);
    }
    assertEquals(named(names, list(Command.ZRANGE, Keys.skuKeys(plain).get(2), "0", "-1", "WITHSCORES")),
        named(names, list(Command.ZRANGE, Keys.skuKeys(general).get(2), "0", "-1", "WITHSCORES")), "expiry");
    // The ledger's newest entry: the run of the three holds (the movement's entry before it has its own id).
    assertEquals(named(names, list(Command.LRANGE, Keys.skuKeys(plain).get(3), "0", "0")),
        named(names, list(Command.LRANGE, Keys.skuKeys(general).get(3), "0", "0")), "ledger");
    for (int i = 0; i < 5; i++) {
      Map<String, String> rp = hash(names, Keys.reservation(p.get(i).id()));
      Map<String, String> rg = hash(names, Keys.reservation(g.get(i).id()));
      rp.remove("body");
      rg.remove("body");
      assertEquals(rp, rg, "record " + i);
      assertEquals(dueScore(Keys.DUE_ALL, p.get(i).id()), dueScore(Keys.DUE_ALL, g.get(i).id()), "due " + i);
    }
  }

  @Test
  @DisplayName("a batch's stock event: the availability its stock hash gives after it, and the one of the entry before")
  void batchEvent() {
    // web takes main and shop with two units of its own at shop; app takes main alone (the short way).
    receive(sku, "shop", 2);
    assertEquals(Store.AllocationStatus.SET, await(store.allocate(sku, "web", "shop", 2, NOW)).status());
    String pubBefore = await(redis.send(Command.HGET, Keys.stock(sku), "pub")).toString();
    List<Creation> out = await(creations.send(List.of(
        res(Api.id("a"), "fa", null, new StockLine(sku, 1)),
        new NewReservation(Api.id("b"), NOW, "fb", "app", NOW + 60_000, 0, null, false, List.of("main"),
            List.of(new StockLine(sku, 1)), "{\"allocations\":\u00010\u0001}", 600))));
    assertEquals(List.of(Result.CREATED, Result.CREATED), out.stream().map(Creation::result).toList());
    Response stock = await(redis.send(Command.HGETALL, Keys.stock(sku)));
    String expected = availabilityText(stock);
    assertEquals(List.of("main=1", "shop=1", "web@shop=1"), sorted(expected),
        "web's unit from its own at shop, app's at main");
    // The client's map does not keep Redis's field order: the parts compare as a set.
    String pub = stock.get("pub").toString();
    assertEquals(sorted(expected), sorted(pub), "pub: the availability now");
    Response entry = null;
    for (Response e : await(redis.send(Command.XREVRANGE, Keys.FEED, "+", "-", "COUNT", "50"))) {
      Response fields = e.get(1);
      Map<String, String> f = new HashMap<>();
      for (int i = 0; i < fields.size(); i += 2) {
        f.put(fields.get(i).toString(), fields.get(i + 1).toString());
      }
      if ("stock".equals(f.get("t")) && sku.equals(f.get("s"))) {
        assertEquals(pub, f.get("p"), "the event's availability is pub's, in the same order");
        assertEquals(pubBefore, f.get("pp"), "pp: the availability at the SKU's entry before");
        assertEquals(stock.get("ver").toString(), f.get("v"));
        entry = e;
        break;
      }
    }
    assertTrue(entry != null, "the batch's stock entry is in the feed");
  }

  static List<String> sorted(String availability) {
    return Arrays.stream(availability.split(",")).sorted().toList();
  }

  /** publish's rule (stock_prelude.lua), from an HGETALL: each location's units, then channels' own. */
  static String availabilityText(Response hash) {
    Map<String, Map<String, Long>> counts = new java.util.LinkedHashMap<>();
    List<String> own = new ArrayList<>();
    for (String name : hash.getKeys()) {
      String v = hash.get(name).toString();
      if (name.startsWith("alloc:")) {
        String[] a = v.split("\\|");
        long free = Long.parseLong(a[1]) - Long.parseLong(a[2]);
        if (free > 0) {
          own.add(name.substring(6) + "@" + a[0] + "=" + free);
        }
      } else if (name.contains("|") && !name.endsWith("|q")) {
        String loc = name.substring(0, name.lastIndexOf('|'));
        counts.computeIfAbsent(loc, k -> new HashMap<>()).put(name.substring(name.lastIndexOf('|') + 1), Long.parseLong(v));
      }
    }
    List<String> parts = new ArrayList<>();
    counts.forEach((loc, c) -> parts.add(loc + "=" + Math.max(0, c.getOrDefault("on", 0L) - c.getOrDefault("res", 0L)
        - c.getOrDefault("com", 0L) - c.getOrDefault("ar", 0L))));
    parts.addAll(own);
    return String.join(",", parts);
  }

  @Test
  @DisplayName("decide_at_once takes stock lines up to its budget a call; the rest of the batch goes in the next call, in order")
  void decisionsWithinBudget() {
    String other = Api.sku("batch2");
    receive(other, "main", 10);
    receive(sku, "main", 10);
    List<String> ids = new ArrayList<>();
    List<NewReservation> carts = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ids.add(Api.id("two"));
      carts.add(res(ids.get(i), "f" + i, null, new StockLine(sku, 1), new StockLine(other, 1)));
    }
    assertEquals(List.of(Result.CREATED, Result.CREATED, Result.CREATED),
        await(creations.send(carts)).stream().map(Creation::result).toList());
    // A budget of 3 lines: the first cart (2) fits, the second would make 4.
    Decisions small = new Decisions(redis, 1000, new InFlight(1), 3);
    List<Decisions.Operation> ops = new ArrayList<>();
    for (String id : ids) {
      ops.add(new Decisions.Operation("commit", id, "", "o-" + id, "5000", NOW + 100));
    }
    List<Response> once = await(small.sendOnce(ops));
    assertEquals(List.of(1, -9, -9), once.stream().map(r -> r.get(0).toInteger()).toList());
    assertEquals("held", await(records.read(ids.get(1))).state(), "a deferred one is untouched");
    // The whole batch: the two left take one call each, in order; the first is a replay now.
    List<Decisions.Decided> all = await(small.send(ops)).stream().map(Decisions::decided).toList();
    assertEquals(List.of(Decisions.Outcome.ALREADY, Decisions.Outcome.DONE, Decisions.Outcome.DONE),
        all.stream().map(Decisions.Decided::outcome).toList());
    for (int i = 0; i < 3; i++) {
      assertEquals("o-" + ids.get(i), all.get(i).orderId());
      assertEquals("committed", await(records.read(ids.get(i))).state());
    }
    Store.StockView v = await(store.readStock(other));
    assertEquals(3, v.locations().get("main").committed());
    assertEquals(0, v.locations().get("main").reserved());
  }

  static int skuPart(String part) {
    return List.of("stock", "holds", "expiry", "ledger", "customers").indexOf(part);
  }

  /** A hash's fields and values, each SKU and reservation id in them replaced by its name. */
  Map<String, String> hash(Map<String, String> names, String key) {
    Map<String, String> out = new TreeMap<>();
    Response r = await(redis.send(Command.HGETALL, key));
    for (String field : r.getKeys()) {
      out.put(named(names, field), named(names, r.get(field).toString()));
    }
    return out;
  }

  List<String> list(Command cmd, String... args) {
    List<String> out = new ArrayList<>();
    for (Response r : await(redis.send(cmd, args))) {
      out.add(r.toString());
    }
    return out;
  }

  /** Each SKU and reservation id replaced by its name, so the two SKUs' keys compare. */
  static String named(Map<String, String> names, Object value) {
    String text = value.toString();
    for (Map.Entry<String, String> e : names.entrySet()) {
      text = text.replace(e.getKey(), e.getValue());
    }
    return text;
  }

  @Test
  @DisplayName("a flash sale's call (plain carts only, enough units) writes exactly what the general path writes: one cart, five")
  void plainCallWritesWhatTheGeneralPathWrites() {
    plainCallAsGeneral(1);
    plainCallAsGeneral(5);
  }

  void plainCallAsGeneral(int n) {
    String f = Api.sku("plainf");
    String g = Api.sku("plaing");
    Map<String, String> names = new HashMap<>(Map.of(f, "SKU", g, "SKU"));
    receive(f, "main", 10);
    receive(g, "main", 10);
    // G's expiry index names a hold that is gone: a SKU with anything due takes the general path,
    // whose lazy expiry only drops that name.
    await(redis.send(Command.ZADD, Keys.expiry(g), "0", "gone"));
    List<NewReservation> fs = new ArrayList<>();
    List<NewReservation> gs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      fs.add(plain(Api.id("f"), f));
      gs.add(plain(Api.id("g"), g));
      names.put(fs.get(i).id(), "r" + i);
      names.put(gs.get(i).id(), "r" + i);
    }
    String feedBefore = feedTop();
    long hgetBefore = calls("hget");
    List<Creation> fromF = await(creations.send(fs));
    long hgetBetween = calls("hget");
    List<Creation> fromG = await(creations.send(gs));
    assertEquals(0, hgetBetween - hgetBefore, "F's call took the plain path (the general one reads the channel's allocation)");
    assertTrue(calls("hget") > hgetBetween, "G's call took the general path");
    assertEquals(n, fromF.stream().filter(c -> c.result() == Result.CREATED).count());
    for (int i = 0; i < n; i++) {
      assertEquals(named(names, fromG.get(i).body()), named(names, fromF.get(i).body()));
    }
    assertEquals(Integer.toString(n), hash(names, Keys.stock(f)).get("main|res"));
    // The expiry index: one entry for the call (a group for several); the ledger: one entry (compact
    // for several); the feed: each call's reservation.held entry and its SKU's change.
    sameWrites(names, f, g, fs, gs, feedBefore, 1);
  }

  /**
   * What two calls wrote, F's and then G's, each on its own SKU with the same history, compared with
   * SKUs and ids named alike: the SKUs' counts, holds, expiry index and top {@code ledgerEntries} ledger
   * entries, the reservations' records, and the two entries each call added to the feed after
   * {@code feedBefore}.
   */
  void sameWrites(Map<String, String> names, String f, String g, List<NewReservation> fs, List<NewReservation> gs,
                  String feedBefore, int ledgerEntries) {
    assertEquals(hash(names, Keys.stock(g)), hash(names, Keys.stock(f)), "counts, version, ledger seq, published availability");
    assertEquals(hash(names, Keys.holds(g)), hash(names, Keys.holds(f)), "the holds entries");
    assertEquals(named(names, list(Command.ZRANGE, Keys.expiry(g), "0", "-1", "WITHSCORES")),
        named(names, list(Command.ZRANGE, Keys.expiry(f), "0", "-1", "WITHSCORES")), "the expiry index");
    String last = Integer.toString(ledgerEntries - 1);
    assertEquals(named(names, list(Command.LRANGE, Keys.ledger(g), "0", last)),
        named(names, list(Command.LRANGE, Keys.ledger(f), "0", last)), "the ledger's newest entries");
    for (int i = 0; i < fs.size(); i++) {
      assertEquals(hash(names, Keys.reservation(gs.get(i).id())), hash(names, Keys.reservation(fs.get(i).id())),
          "the records");
    }
    List<String> feed = new ArrayList<>();
    for (Response e : await(redis.send(Command.XRANGE, Keys.FEED, "(" + feedBefore, "+"))) {
      feed.add(named(names, e.get(1)));
    }
    assertEquals(4, feed.size(), "two entries a call: " + feed);
    assertEquals(feed.subList(2, 4), feed.subList(0, 2));
  }

  /** The id of the feed's newest entry ("0" when it is empty): what a test's calls add comes after it. */
  String feedTop() {
    Response last = await(redis.send(Command.XREVRANGE, Keys.FEED, "+", "-", "COUNT", "1"));
    return last.size() == 0 ? "0" : last.get(0).get(0).toString();
  }

  @Test
  @DisplayName("a checkout's commits (one line each, one SKU and location) write exactly what the general path writes: one, five")
  void plainCommitsWriteWhatTheGeneralPathWrites() {
    plainCommitsAsGeneral(1);
    plainCommitsAsGeneral(5);
  }

  void plainCommitsAsGeneral(int n) {
    String f = Api.sku("cplainf");
    String g = Api.sku("cplaing");
    Map<String, String> names = new HashMap<>(Map.of(f, "SKU", g, "SKU"));
    receive(f, "main", 10);
    receive(g, "main", 10);
    List<NewReservation> fs = new ArrayList<>();
    List<NewReservation> gs = new ArrayList<>();
    List<Decisions.Operation> commitF = new ArrayList<>();
    List<Decisions.Operation> commitG = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      fs.add(plain(Api.id("f"), f));
      gs.add(plain(Api.id("g"), g));
      names.put(fs.get(i).id(), "r" + i);
      names.put(gs.get(i).id(), "r" + i);
      // An admin's commit and the channel's own, with and without an order id.
      String caller = i % 2 == 0 ? "" : "web";
      String order = i % 3 == 0 ? "" : "o-" + i;
      commitF.add(new Decisions.Operation("commit", fs.get(i).id(), caller, order, "5000", NOW + 100));
      commitG.add(new Decisions.Operation("commit", gs.get(i).id(), caller, order, "5000", NOW + 100));
    }
    assertEquals(n, await(creations.send(fs)).stream().filter(c -> c.result() == Result.CREATED).count());
    assertEquals(n, await(creations.send(gs)).stream().filter(c -> c.result() == Result.CREATED).count());
    // G's expiry index names a hold that is gone: a SKU with anything due takes the general path,
    // whose lazy expiry only drops that name.
    await(redis.send(Command.ZADD, Keys.expiry(g), "0", "gone"));
    String feedBefore = feedTop();
    long hmgetBefore = calls("hmget");
    List<Response> fromF = await(decisions.send(commitF));
    long hmgetBetween = calls("hmget");
    List<Response> fromG = await(decisions.send(commitG));
    assertEquals(n + 2, hmgetBetween - hmgetBefore,
        "F's commits took the plain path: each record, the holds entries and the counts read once");
    assertTrue(calls("hmget") - hmgetBetween > n + 2, "G's took the general path");
    for (int i = 0; i < n; i++) {
      assertEquals(1, fromF.get(i).get(0).toInteger(), fromF.get(i).toString());
      assertEquals(named(names, fromG.get(i)), named(names, fromF.get(i)));
    }
    Map<String, String> stockF = hash(names, Keys.stock(f));
    assertEquals(Integer.toString(n), stockF.get("main|com"));
    assertEquals("0", stockF.get("main|res"));
    // The ledger: the commits' entry (compact for several) and the holds' before it; the feed: each
    // call's moved records entry and its SKU's change.
    sameWrites(names, f, g, fs, gs, feedBefore, 2);
  }

  NewReservation plain(String id, String s) {
    return new NewReservation(id, NOW, "fp", "web", NOW + 60_000, 0, null, false, List.of("main"),
        List.of(new StockLine(s, 1)), "{\"id\":\"" + id + "\"" + Creations.HEAD_END + ",\"lines\":[{\"allocations\":\u00010\u0001}]}", 600);
  }

  long calls(String command) {
    for (String line : await(redis.send(Command.INFO, "commandstats")).toString().split("\r?\n")) {
      if (line.startsWith("cmdstat_" + command + ":calls=")) {
        return Long.parseLong(line.substring(line.indexOf('=') + 1, line.indexOf(',')));
      }
    }
    return 0;
  }
}
