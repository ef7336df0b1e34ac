package dev.allot.stock;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * A SKU made of other SKUs (a kit). It has no stock of its own: its availability is the minimum
 * over its components of floor(available / quantity per bundle), and reserving it holds its
 * components, all or nothing, through the same multi-SKU protocol as a multi-line cart.
 */
public record Bundle(String sku, List<Component> components) {
  public record Component(String sku, long qty) {
  }

  public long quantityOf(String component) {
    for (Component c : components) {
      if (c.sku().equals(component)) {
        return c.qty();
      }
    }
    return 0;
  }

  public ObjectNode toJson() {
    ObjectNode o = Json.object();
    o.put("sku", sku);
    ArrayNode arr = o.putArray("components");
    components.forEach(c -> arr.addObject().put("sku", c.sku()).put("qty", c.qty()));
    return o;
  }

  static Bundle fromJson(String sku, String json) {
    JsonNode n = Json.read(json);
    List<Component> comps = new ArrayList<>();
    n.path("components").forEach(c -> comps.add(new Component(c.path("sku").asText(), c.path("qty").asLong())));
    return new Bundle(sku, List.copyOf(comps));
  }
}
