package dev.allot.stock;

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
    String byHand = docs.createdTemplate(req, stock, web, deadline);
    assertEquals(Json.write(docs.created(req, stock, web, deadline, null)), byHand);
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
    assertEquals(true, doc.contains("q\\\"\\\\\\u0001é"), doc);
  }
}
