package dev.allot.http;

import dev.allot.stock.AllotException;
import dev.allot.stock.Json;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The streamed read of a reserve body finds what the tree finds, and leaves every other body to the tree. */
class ReserveBodyTest {
  static ReserveBody tree(String json) {
    return ReserveBody.fromTree(Json.read(json));
  }

  static ReserveBody streamed(String json) {
    return ReserveBody.stream(json.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  @DisplayName("the usual shapes: streamed, the same fields as from the tree")
  void usualShapes() {
    for (String json : List.of(
        "{\"id\":\"c-1\",\"channel\":\"web\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}",
        "{\"lines\":[{\"qty\":2,\"sku\":\"a-1\"},{\"sku\":\"B\",\"qty\":9223372036854775807}],\"channel\":\"web\",\"id\":\"x\","
            + "\"ttlSeconds\":60,\"customer\":\"c@x\"}",
        "{\"id\":\"c\\u002d1\",\"channel\":\"web\",\"ttlSeconds\":null,\"customer\":null,\"lines\":[]}",
        "{\"id\":\"c\",\"channel\":\"web\",\"lines\":[{}]}",
        " {\"id\":\"c\",\"channel\":\"web\",\"ttlSeconds\":-5,\"lines\":[{\"sku\":\"A\"}]} \n",
        "{}")) {
      ReserveBody s = streamed(json);
      assertNotNull(s, json);
      assertEquals(tree(json), s, json);
    }
    assertEquals("c-1", streamed("{\"id\":\"c\\u002d1\"}").id(), "escapes decoded");
  }

  @Test
  @DisplayName("anything else is the tree's: other fields, other types, the same field twice, bad or trailing JSON")
  void othersGoToTheTree() {
    for (String json : List.of(
        "{\"id\":\"c\",\"channel\":\"web\",\"lines\":[{\"sku\":\"A\",\"qty\":1}],\"note\":1}",
        "{\"id\":1,\"channel\":\"web\"}",
        "{\"id\":\"c\",\"ttlSeconds\":60.5}",
        "{\"id\":\"c\",\"ttlSeconds\":\"60\"}",
        "{\"id\":\"c\",\"ttlSeconds\":99999999999999999999999}",
        "{\"id\":\"c\",\"customer\":7}",
        "{\"lines\":{\"sku\":\"A\"}}",
        "{\"lines\":[{\"sku\":\"A\",\"qty\":1,\"alias\":\"B\"}]}",
        "{\"lines\":[{\"sku\":\"A\",\"sku\":\"B\",\"qty\":1}]}",
        "{\"lines\":[\"A\"]}",
        "{\"lines\":[{\"sku\":\"A\",\"qty\":1.0}]}",
        "{\"id\":\"a\",\"id\":\"b\"}",
        "{\"ttlSeconds\":null,\"ttlSeconds\":60}",
        "{\"customer\":null,\"customer\":\"c\"}",
        "{\"lines\":[{\"qty\":1,\"qty\":2,\"sku\":\"A\"}]}",
        "{\"id\":\"a\"} {}",
        "{\"id\":\"a\"",
        "[1]",
        "\"x\"")) {
      assertNull(streamed(json), json);
    }
    // What the tree makes of some of them: the field's own rule refuses them.
    assertEquals(ReserveBody.NOT_A_NUMBER, tree("{\"ttlSeconds\":60.5}").ttl());
    assertEquals(ReserveBody.NOT_A_NUMBER, tree("{\"ttlSeconds\":99999999999999999999999}").ttl());
    assertNull(tree("{\"id\":1}").id());
    assertEquals(false, tree("{\"customer\":7}").customerText());
    assertEquals(List.of(new ReserveBody.Line(false, null, null)), tree("{\"lines\":[\"A\"]}").lines());
    assertEquals(List.of(new ReserveBody.Line(true, "A", null)), tree("{\"lines\":[{\"sku\":\"A\",\"qty\":1.0}]}").lines());
    // Through read(): duplicates and bad JSON are 400 malformed_json, as the tree always answered.
    for (String bad : List.of("{\"id\":\"a\",\"id\":\"b\"}", "{\"id\":\"a\"} {}", "{\"id\":", "[1]")) {
      AllotException e = assertThrows(AllotException.class, () -> ReserveBody.read(Buffer.buffer(bad)), bad);
      assertEquals("malformed_json", e.code(), bad);
    }
  }
}
