package dev.allot;

import dev.allot.stock.Catalog;
import dev.allot.stock.Channel;
import dev.allot.stock.Location;
import dev.allot.stock.Movements;
import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The small catalogue loaded in demo mode (embedded Redis only): two locations, two channels, a dozen SKUs. */
public final class Demo {
  public static final Map<String, String> KEYS = Map.of(
      "demo-admin", "admin",
      "demo-web", "channel:web",
      "demo-marketplace", "channel:marketplace",
      "demo-reader", "reader");

  /** SKU, units at main, units at shop. */
  static final Object[][] SKUS = {
      {"TSHIRT-BLK-M", 40, 10}, {"TSHIRT-BLK-L", 35, 8}, {"TSHIRT-WHT-M", 25, 5},
      {"HOODIE-GRY-M", 20, 4}, {"HOODIE-GRY-L", 15, 0}, {"CAP-RED", 60, 12},
      {"MUG-LOGO", 80, 20}, {"SOCKS-3PK", 100, 30}, {"BACKPACK-20L", 12, 2},
      {"SNEAKER-42", 18, 3}, {"SNEAKER-43", 14, 0}, {"FLASH-DROP-1", 100, 0}};

  private Demo() {
  }

  public static Future<Void> load(Catalog catalog, Movements movements) {
    return catalog.putLocation(new Location("main", "Main warehouse"))
        .compose(v -> catalog.putLocation(new Location("shop", "City shop")))
        .compose(v -> catalog.putChannel(new Channel("web", List.of("main", "shop"), 0, false)))
        .compose(v -> catalog.putChannel(new Channel("marketplace", List.of("main"), 2, false)))
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
        .mapEmpty();
  }
}
