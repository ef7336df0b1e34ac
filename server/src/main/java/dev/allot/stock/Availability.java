package dev.allot.stock;

import dev.allot.store.Store.ChannelAllocation;
import dev.allot.store.Store.LocationCounts;
import dev.allot.store.Store.StockView;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one availability rule on the Java side (PRODUCT.md, "Concepts"; API.md, "Allocations"); the
 * scripts carry the same rule once, in {@code lua/include/stock_prelude.lua} and {@code hold.lua}.
 * <ul>
 *   <li>at a location, for any channel (the shared pool):
 *   {@code max(0, onHand - reserved - committed - unused allocations)};</li>
 *   <li>for a channel: its own unused allocation (at one of its locations) plus
 *   {@code max(0, shared units over its locations - buffer)};</li>
 *   <li>for a bundle: the fewest whole bundles its components' availability makes.</li>
 * </ul>
 * The per-location form the stream and the feed carry is a map: each location's shared units, and
 * {@code "<channel>@<location>"} for a channel's own unused allocation ({@link #perLocation}).
 */
public final class Availability {
  private Availability() {
  }

  public static long atLocation(long onHand, long reserved, long committed) {
    return Math.max(0, onHand - reserved - committed);
  }

  /** What the location can still give any channel (allocations' unused units left out). */
  public static long atLocation(LocationCounts c) {
    return Math.max(0, c.onHand() - c.reserved() - c.committed() - c.allocatedUnused());
  }

  /** Every location's free units (the allocations' unused ones included): what the SKU has in total. */
  public static long total(StockView view) {
    long sum = 0;
    for (LocationCounts c : view.locations().values()) {
      sum += atLocation(c.onHand(), c.reserved(), c.committed());
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
    ChannelAllocation own = view.allocations().get(channel.id());
    long mine = own != null && channel.locations().contains(own.location()) ? own(view, own) : 0;
    return mine + pool(sum, channel.buffer());
  }

  /** A channel's availability from the per-location form (as the stream and the feed keep it). */
  public static long channel(Map<String, Long> perLocation, Channel channel) {
    long sum = 0;
    long mine = 0;
    for (String loc : channel.locations()) {
      Long a = perLocation.get(loc);
      if (a != null) {
        sum += a;
      }
      Long own = perLocation.get(channel.id() + "@" + loc);
      if (own != null) {
        mine += own;
      }
    }
    return mine + pool(sum, channel.buffer());
  }

  /** The per-location form of a SKU's counts: what the scripts publish ("loc=n,...,channel@loc=n"). */
  public static Map<String, Long> perLocation(StockView view) {
    Map<String, Long> out = new LinkedHashMap<>();
    view.locations().forEach((loc, c) -> out.put(loc, atLocation(c)));
    view.allocations().forEach((ch, a) -> {
      long own = own(view, a);
      if (own > 0) {
        out.put(ch + "@" + a.location(), own);
      }
    });
    return out;
  }

  /**
   * What a channel may still take of its unused allocation: never more than the location's units that
   * are neither promised nor set aside for other channels (a count can take onHand below what is
   * allocated; the allocation then shrinks in effect and never oversells). The scripts' own_available.
   */
  static long own(StockView view, ChannelAllocation a) {
    long unused = Math.max(0, a.allocated() - a.used());
    LocationCounts c = view.locations().get(a.location());
    if (c == null) {
      return 0;
    }
    long room = c.onHand() - c.reserved() - c.committed() - (c.allocatedUnused() - unused);
    return Math.max(0, Math.min(unused, room));
  }

  private static long pool(long sumOfLocations, long buffer) {
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
