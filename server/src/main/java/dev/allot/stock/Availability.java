package dev.allot.stock;

import dev.allot.store.Store.LocationCounts;
import dev.allot.store.Store.StockView;

import java.util.List;
import java.util.Map;

/**
 * The one availability rule on the Java side (PRODUCT.md, "Concepts"); the scripts carry the same
 * rule once, in {@code lua/include/stock_prelude.lua}.
 * <ul>
 *   <li>at a location: {@code max(0, onHand - reserved - committed)};</li>
 *   <li>for a channel: {@code max(0, sum over its locations - buffer)};</li>
 *   <li>for a bundle: the fewest whole bundles its components' availability makes.</li>
 * </ul>
 */
public final class Availability {
  private Availability() {
  }

  public static long atLocation(long onHand, long reserved, long committed) {
    return Math.max(0, onHand - reserved - committed);
  }

  public static long atLocation(LocationCounts c) {
    return atLocation(c.onHand(), c.reserved(), c.committed());
  }

  /** Every location's availability, summed: what the SKU has in total, whichever channel sells it. */
  public static long total(StockView view) {
    long sum = 0;
    for (LocationCounts c : view.locations().values()) {
      sum += atLocation(c);
    }
    return sum;
  }

  /** A channel's availability of a SKU, from the SKU's counts. A SKU never seen has none. */
  public static long channel(StockView view, Channel channel) {
    long sum = 0;
    for (String loc : channel.locations()) {
      LocationCounts c = view.locations().get(loc);
      if (c != null) {
        sum += atLocation(c);
      }
    }
    return channel(sum, channel.buffer());
  }

  /** A channel's availability from each location's available units (as the stream keeps them). */
  public static long channel(Map<String, Long> perLocation, Channel channel) {
    long sum = 0;
    for (String loc : channel.locations()) {
      Long a = perLocation.get(loc);
      if (a != null) {
        sum += a;
      }
    }
    return channel(sum, channel.buffer());
  }

  private static long channel(long sumOfLocations, long buffer) {
    return Math.max(0, sumOfLocations - buffer);
  }

  /** How many bundles the components' available units make (a missing component has none). */
  public static long bundle(Bundle bundle, Map<String, Long> perComponent) {
    long min = Long.MAX_VALUE;
    for (Bundle.Component c : bundle.components()) {
      min = Math.min(min, perComponent.getOrDefault(c.sku(), 0L) / c.qty());
    }
    return min == Long.MAX_VALUE ? 0 : min;
  }

  /** The same, with the components' availability in the bundle's component order. */
  public static long bundle(Bundle bundle, long[] perComponent) {
    List<Bundle.Component> comps = bundle.components();
    long min = Long.MAX_VALUE;
    for (int i = 0; i < comps.size(); i++) {
      min = Math.min(min, perComponent[i] / comps.get(i).qty());
    }
    return min == Long.MAX_VALUE ? 0 : min;
  }
}
