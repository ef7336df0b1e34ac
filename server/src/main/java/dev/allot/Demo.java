package dev.allot;

import dev.allot.stock.Allocations;
import dev.allot.stock.Catalog;
import dev.allot.stock.Channel;
import dev.allot.stock.Inventory;
import dev.allot.stock.Location;
import dev.allot.stock.Movements;
import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The small catalogue loaded in demo mode (embedded Redis only): two locations, three channels, a dozen
 * SKUs, a kit, an alias, a limited drop, and an allocation for the trade channel.
 */
public final class Demo {
  public static final Map<String, String> KEYS = Map.of(
      "demo-admin", "admin",
      "demo-web", "channel:web",
      "demo-marketplace", "channel:marketplace",
      "demo-b2b", "channel:b2b",
      "demo-reader", "reader");

  /** SKU, units at main, units at shop, then what the demo page shows: name, price, colour. */
  static final Object[][] SKUS = {
      {"TSHIRT-BLK-M", 40, 10, "Classic tee, black, M", 19.0, "#1f2937"},
      {"TSHIRT-BLK-L", 35, 8, "Classic tee, black, L", 19.0, "#111827"},
      {"TSHIRT-WHT-M", 25, 5, "Classic tee, white, M", 19.0, "#e5e7eb"},
      {"HOODIE-GRY-M", 20, 4, "Heavy hoodie, grey, M", 59.0, "#6b7280"},
      {"HOODIE-GRY-L", 15, 0, "Heavy hoodie, grey, L", 59.0, "#4b5563"},
      {"CAP-RED", 60, 12, "Six-panel cap, red", 24.0, "#dc2626"},
      {"MUG-LOGO", 80, 20, "Enamel mug", 14.0, "#2563eb"},
      {"SOCKS-3PK", 100, 30, "Merino socks, 3 pack", 22.0, "#059669"},
      {"BACKPACK-20L", 12, 2, "Day pack, 20 L", 89.0, "#92400e"},
      {"SNEAKER-42", 18, 3, "Court sneaker, 42", 120.0, "#f59e0b"},
      {"SNEAKER-43", 14, 0, "Court sneaker, 43", 120.0, "#d97706"},
      {"FLASH-DROP-1", 100, 0, "Limited drop: numbered print", 45.0, "#7c3aed"}};

  /** What the demo page needs: the channels with their demo keys, the reader key, the products. */
  public static com.fasterxml.jackson.databind.node.ObjectNode pageConfig() {
    var o = dev.allot.stock.Json.object();
    o.put("demo", true);
    var channels = o.putArray("channels");
    channels.addObject().put("id", "web").put("key", "demo-web");
    channels.addObject().put("id", "marketplace").put("key", "demo-marketplace");
    channels.addObject().put("id", "b2b").put("key", "demo-b2b");
    o.put("readerKey", "demo-reader");
    // The operator panel's sync health (GET /v1/sync) is admin only; the demo's keys are public anyway.
    o.put("adminKey", "demo-admin");
    var products = o.putArray("products");
    for (Object[] row : SKUS) {
      products.addObject().put("sku", (String) row[0]).put("name", (String) row[3]).put("price", (Double) row[4])
          .put("color", (String) row[5]);
    }
    products.addObject().put("sku", BUNDLE).put("name", "Starter kit: tee, cap and mug").put("price", 49.0)
        .put("color", "#0f766e");
    return o;
  }

  private Demo() {
  }

  /** A kit of three demo SKUs, a marketplace's own code for a tee, and a flash-sale SKU limited per customer. */
  public static final String BUNDLE = "STARTER-KIT";
  public static final String ALIAS = "MKT-TEE-BLK-M";
  public static final String LIMITED = "FLASH-DROP-1";

  /** Trade accounts (b2b) get units of one SKU set aside for them (API.md, "Allocations"). */
  public static final String ALLOCATED = "HOODIE-GRY-M";
  public static final int ALLOCATED_UNITS = 8;

  public static Future<Void> load(Catalog catalog, Movements movements, Inventory inventory, Allocations allocations) {
    return catalog.putLocation(new Location("main", "Main warehouse"))
        .compose(v -> catalog.putLocation(new Location("shop", "City shop")))
        .compose(v -> catalog.putChannel(new Channel("web", List.of("main", "shop"), 0, false)))
        .compose(v -> catalog.putChannel(new Channel("marketplace", List.of("main"), 2, false)))
        .compose(v -> catalog.putChannel(new Channel("b2b", List.of("main"), 0, true)))
        .compose(v -> {
          List<Movements.Movement> batch = new ArrayList<>();
          for (Object[] row : SKUS) {
            String sku = (String) row[0];
            batch.add(new Movements.Movement("demo-" + sku + "-main", sku, "main", "receive", (Integer) row[1], "demo"));
            if ((Integer) row[2] > 0) {
              batch.add(new Movements.Movement("demo-" + sku + "-shop", sku, "shop", "receive", (Integer) row[2], "demo"));
            }
          }
          return movements.apply(batch);
        })
        .compose(v -> catalog.putBundle(new dev.allot.stock.Bundle(BUNDLE, List.of(
            new dev.allot.stock.Bundle.Component("TSHIRT-BLK-M", 1), new dev.allot.stock.Bundle.Component("CAP-RED", 1),
            new dev.allot.stock.Bundle.Component("MUG-LOGO", 1)))))
        .compose(v -> catalog.putAlias("marketplace", ALIAS, "TSHIRT-BLK-M"))
        .compose(v -> inventory.setCustomerLimit(LIMITED, 2L))
        .compose(v -> allocations.put(ALLOCATED, "b2b", "main", ALLOCATED_UNITS))
        .mapEmpty();
  }
}
