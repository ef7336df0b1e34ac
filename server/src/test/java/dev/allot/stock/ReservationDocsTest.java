package dev.allot.stock;

import dev.allot.store.Creations;
import dev.allot.store.RecordStore.StockLine;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The 201 template written by hand is the very text Jackson writes for the same document. */
class ReservationDocsTest {
  final ReservationDocs docs = new ReservationDocs(new Catalog(null));
  final Channel web = new Channel("web", List.of("main", "shop"), 0, false);

  String both(Reservations.ReserveRequest req) {
    List<StockLine> stock = req.lines().stream().map(l -> new StockLine(l.sku(), l.qty())).toList();
    long deadline = 1_700_000_123_456L;
    String marked = docs.createdTemplate(req, stock, web, deadline);
    String byHand = marked.replace(String.valueOf(Creations.HEAD_END), "");
    assertEquals(Json.write(docs.created(req, stock, web, deadline, null)), byHand);
    // The head a compact feed entry leaves out: written again from the id, channel and deadline, it is
    // the very text before the mark; a template without a mark is whole (a rest that begins with '{').
    int mark = marked.indexOf(Creations.HEAD_END);
    String rest = mark < 0 ? byHand : marked.substring(mark + 1);
    assertEquals(byHand, ReservationDocs.heldBody(req.id(), web.id(), deadline, rest), marked);
    assertEquals(mark < 0, rest.startsWith("{"), marked);
    return byHand;
  }

  @Test
  @DisplayName("one line, several lines, a customer, an alias: byte for byte what Jackson writes")
  void sameAsJackson() {
    assertEquals("{\"id\":\"cart-1\",\"channel\":\"web\",\"state\":\"held\",\"expiresAt\":\"2023-11-14T22:15:23.456Z\","
        + "\"lines\":[{\"sku\":\"ABC-1\",\"qty\":2,\"allocations\":\u00010\u0001}]}",
        both(new Reservations.ReserveRequest("cart-1", "web", 60, List.of(new Reservations.Line("ABC-1", 2, null)), null)));
    both(new Reservations.ReserveRequest("a:b.c_d-1", "web", 60, List.of(new Reservations.Line("ABC-1", 2, null),
        new Reservations.Line("X.Y_Z-9", 1_000_000, "SHOP-CODE")), "c@x.y:1"));
    both(new Reservations.ReserveRequest("c", "web", 60, List.of(new Reservations.Line("A", 1, "B"),
        new Reservations.Line("C", 1, null), new Reservations.Line("D", 3, null)), null));
  }

  @Test
  @DisplayName("text that would need escaping goes through Jackson")
  void escapedFallsBack() {
    String doc = both(new Reservations.ReserveRequest("q\"\\\u0001é", "web", 60,
        List.of(new Reservations.Line("ABC-1", 1, null)), null));
    assertEquals(-1, docs.createdTemplate(new Reservations.ReserveRequest("q\"\\\u0001é", "web", 60,
        List.of(new Reservations.Line("ABC-1", 1, null)), null), List.of(new StockLine("ABC-1", 1)), web, 1L)
        .indexOf(Creations.HEAD_END), "no head mark where Jackson wrote the document");
    assertEquals(true, doc.contains("q\\\"\\\\\\u0001é"), doc);
  }

  @Test
  @DisplayName("a view spliced into the stored body is the very text the parsed view writes; anything else is parsed")
  void splicedView() {
    List<String> bodies = new java.util.ArrayList<>();
    for (String customer : new String[] {null, "c@x.y:1", "q\"\\\u0001é\u2028😀"}) {
      String doc = both(new Reservations.ReserveRequest("cart-1", "web", 60, List.of(new Reservations.Line("ABC-1", 2, null),
          new Reservations.Line("X.Y_Z-9", 3, "SHOP-CODE")), customer));
      // As stored: each line's allocations filled in (lua/create_batch.lua), one backordered.
      bodies.add(doc.replace("\u00010\u0001", "[{\"location\":\"main\",\"qty\":2}]")
          .replace("\u00011\u0001", "[{\"location\":\"main\",\"qty\":1},{\"location\":\"shop\",\"qty\":1}],\"backordered\":1"));
    }
    long deadline = 1_700_000_000_001L;
    for (String body : bodies) {
      for (String state : new String[] {"held", "committed", "released", "expired"}) {
        for (String orderId : new String[] {null, "", "o-1", "o,\"\n\\/\u0000é😀\u2028"}) {
          String spliced = ReservationDocs.spliced(body, state, deadline, orderId);
          assertEquals(ReservationDocs.parsedView(body, state, deadline, orderId), spliced, body + " " + state + " " + orderId);
        }
      }
    }
    // Not as created() writes it: parsed.
    assertEquals(null, ReservationDocs.spliced("{\"id\":\"q\\\"x\",\"channel\":\"web\",\"state\":\"held\","
        + "\"expiresAt\":\"x\",\"lines\":[]}", "committed", deadline, null), "an escaped id");
    assertEquals(null, ReservationDocs.spliced("{\"channel\":\"web\",\"id\":\"a\"}", "committed", deadline, null));
    String withOrder = ReservationDocs.view(bodies.get(0), "committed", deadline, "o-1");
    assertEquals(null, ReservationDocs.spliced(withOrder, "committed", deadline, "o-2"), "an order id already there");
    assertEquals(ReservationDocs.parsedView(withOrder, "shipped", deadline, "o-2"),
        ReservationDocs.view(withOrder, "shipped", deadline, "o-2"));
  }

  @Test
  @DisplayName("an instant written by hand is what Instant.toString writes: whole seconds, leap days, the ends of the range")
  void instantsByHand() {
    java.util.Random random = new java.util.Random(7);
    List<Long> cases = new java.util.ArrayList<>(List.of(0L, 1L, 999L, 1000L, 1_700_000_123_456L, 1_700_000_123_000L,
        951_782_400_000L /* 2000-02-29 */, 4_107_542_399_999L /* 2100-02-28T23:59:59.999 */, 4_107_542_400_000L,
        253_402_300_799_999L /* 9999-12-31T23:59:59.999 */, 253_402_300_800_000L, -1L, -86_400_000L));
    for (int i = 0; i < 200_000; i++) {
      cases.add(random.nextLong(0, 253_402_300_800_000L));
      cases.add(random.nextLong(0, 4_102_444_800_000L) / 1000 * 1000);
    }
    for (long ms : cases) {
      StringBuilder sb = new StringBuilder();
      ReservationDocs.appendInstant(sb, ms);
      assertEquals(java.time.Instant.ofEpochMilli(ms).toString(), sb.toString(), "ms " + ms);
    }
  }
}
