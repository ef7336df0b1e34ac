package dev.allot.stock;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.store.Store;
import dev.allot.store.Store.AllocationStatus;
import dev.allot.store.Store.ChannelAllocation;
import io.vertx.core.Future;

import java.util.function.LongSupplier;

/**
 * Ring-fenced allocations (API.md, "Allocations"): units of one location's stock set aside for one
 * channel. The rules live in the scripts (lua/allocate.lua sets them; include/hold.lua draws on them;
 * the prelude gives them back); this validates and answers.
 */
public final class Allocations {
  public static final long MAX_UNITS = 1_000_000_000L;

  private final Store store;
  private final Catalog catalog;
  private final LongSupplier clock;

  public Allocations(Store store, Catalog catalog, LongSupplier clock) {
    this.store = store;
    this.catalog = catalog;
    this.clock = clock;
  }

  /**
   * Sets the channel's allocation of the SKU at the location to {@code units}: 200 with the allocation;
   * 409 insufficient_stock when raising needs more free units than the location has (nothing changed);
   * 409 allocation_elsewhere when the channel's allocation of this SKU is at another location; 409
   * allocation_in_use when lowering below what the channel uses of it.
   */
  public Future<ObjectNode> put(String rawSku, String rawChannel, String rawLocation, long units) {
    String sku = Validate.sku(rawSku, "sku");
    String location = Validate.location(rawLocation, "location");
    if (catalog.bundle(sku) != null) {
      throw AllotException.conflict("sku_is_bundle", "'" + sku + "' is a bundle: allocate its components");
    }
    return channel(rawChannel).compose(ch -> {
      if (!ch.locations().contains(location)) {
        throw AllotException.badField("location_not_in_channel", "location", "channel '" + ch.id()
            + "' does not draw from location '" + location + "' (its locations: " + ch.locations() + ")");
      }
      return store.allocate(sku, ch.id(), location, units, clock.getAsLong()).map(r -> switch (r.status()) {
        case SET -> document(sku, ch.id(), location, r.allocated(), r.used());
        case ELSEWHERE -> throw new AllotException(AllotException.Kind.CONFLICT, "allocation_elsewhere",
            "channel '" + ch.id() + "' already has an allocation of '" + sku + "' at '" + r.location()
                + "': DELETE it first", "location", null, null);
        case IN_USE -> throw inUse(ch.id(), sku, r.used());
        case INSUFFICIENT -> {
          ObjectNode extra = Json.object().put("available", r.free());
          throw new AllotException(AllotException.Kind.CONFLICT, "insufficient_stock", "raising the allocation needs "
              + "more free units at '" + location + "' than the " + r.free() + " there; nothing changed", "units",
              extra, null);
        }
      });
    });
  }

  /**
   * Removes the channel's allocation of the SKU (its unused units go back to the pool); no allocation is
   * fine; 409 allocation_in_use while the channel holds or has committed units against it.
   */
  public Future<Void> delete(String rawSku, String rawChannel) {
    String sku = Validate.sku(rawSku, "sku");
    return channel(rawChannel).compose(ch -> store.readStock(sku).compose(view -> {
      ChannelAllocation a = view.allocations().get(ch.id());
      if (a == null) {
        return Future.succeededFuture();
      }
      if (a.used() > 0) {
        throw inUse(ch.id(), sku, a.used());
      }
      return store.allocate(sku, ch.id(), a.location(), 0, clock.getAsLong()).map(r -> {
        if (r.status() == AllocationStatus.IN_USE) {
          throw inUse(ch.id(), sku, r.used());
        }
        if (r.status() != AllocationStatus.SET) {
          throw new IllegalStateException("removing an allocation answered " + r);
        }
        return null;
      });
    }));
  }

  /** Lowering below what the channel holds or has committed against the allocation is refused. */
  private static AllotException inUse(String channel, String sku, long used) {
    return new AllotException(AllotException.Kind.CONFLICT, "allocation_in_use", "channel '" + channel + "' holds or has"
        + " committed " + used + " unit(s) of '" + sku + "' against its allocation: it cannot go below that until they"
        + " are released, shipped or cancelled; nothing changed", "units", null, null);
  }

  private Future<Channel> channel(String raw) {
    String id = Validate.channel(raw, "channel");
    return catalog.channel(id).map(found -> found.orElseThrow(() -> new AllotException(AllotException.Kind.NOT_FOUND,
        "unknown_channel", "channel '" + id + "' does not exist", "channel", null, null)));
  }

  static ObjectNode document(String sku, String channel, String location, long allocated, long used) {
    return Json.object().put("sku", sku).put("channel", channel).put("location", location).put("allocated", allocated)
        .put("allocationUsed", used);
  }
}
