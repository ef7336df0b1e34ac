package dev.allot.store;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The event payload "version|loc=available,..." read and written without Redis. */
class EventPayloadTest {

  @Test
  @DisplayName("a payload as the scripts write it: the version and each location's units, in the payload's order")
  void decodesInOrder() {
    EventPayload p = EventPayload.decode("2|shop=5,main=8,back-room.2=0");
    assertEquals(2, p.version());
    assertEquals(List.of("shop", "main", "back-room.2"), List.copyOf(p.available().keySet()));
    assertEquals(List.of(5L, 8L, 0L), List.copyOf(p.available().values()));
  }

  @Test
  @DisplayName("a SKU with no location counts publishes just its version")
  void noLocations() {
    EventPayload p = EventPayload.decode("7|");
    assertEquals(7, p.version());
    assertEquals(Map.of(), p.available());
    assertEquals("7|", p.encode());
  }

  @Test
  @DisplayName("encode writes what decode reads, byte for byte")
  void roundTrip() {
    Map<String, Long> m = new LinkedHashMap<>();
    m.put("main", 8L);
    m.put("shop", 5L);
    EventPayload p = new EventPayload(2, m);
    assertEquals("2|main=8,shop=5", p.encode());
    assertEquals(p, EventPayload.decode(p.encode()));
    assertEquals("9223372036854775807|a=1", EventPayload.decode("9223372036854775807|a=1").encode());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "12", "|main=1", "x|main=1", "-1|main=1", "+1|main=1", "1 |main=1",
      "1|main", "1|main=", "1|=3", "1|main=-2", "1|main=x", "1|main=1,", "1|,main=1", "1|main=1,,shop=2",
      "1|main=1,main=2", "99999999999999999999|main=1", "1|main=99999999999999999999", "1|main=1|shop=2",
      "1|a|b=1", "1|a=b=1"})
  @DisplayName("a malformed payload is refused with IllegalArgumentException, never another exception")
  void malformedIsRefused(String payload) {
    assertThrows(IllegalArgumentException.class, () -> EventPayload.decode(payload));
  }

  @Test
  @DisplayName("no payload at all is refused the same way")
  void nullIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> EventPayload.decode(null));
  }

  @Test
  @DisplayName("a payload built in Java obeys the same rules: no negative version or count, no empty location")
  void constructorChecks() {
    assertThrows(IllegalArgumentException.class, () -> new EventPayload(-1, Map.of()));
    assertThrows(IllegalArgumentException.class, () -> new EventPayload(1, Map.of("main", -1L)));
    assertThrows(IllegalArgumentException.class, () -> new EventPayload(1, Map.of("", 1L)));
    assertThrows(IllegalArgumentException.class, () -> new EventPayload(1, Map.of("a=b", 1L)));
  }
}
