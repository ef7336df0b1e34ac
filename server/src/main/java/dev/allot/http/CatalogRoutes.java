package dev.allot.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.stock.AllotException;
import dev.allot.stock.Bundle;
import dev.allot.stock.Catalog;
import dev.allot.stock.Channel;
import dev.allot.stock.Inventory;
import dev.allot.stock.Json;
import dev.allot.stock.Location;
import dev.allot.stock.Validate;
import io.vertx.core.Future;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static dev.allot.http.Auth.caller;
import static dev.allot.http.Bodies.requiredLong;
import static dev.allot.http.Bodies.respond;
import static dev.allot.http.Bodies.text;

/** The catalogue (API.md, "Configuration resources"): locations, channels, aliases, bundles, SKU policy. */
final class CatalogRoutes {
  private final Catalog catalog;
  private final Inventory inventory;

  CatalogRoutes(Catalog catalog, Inventory inventory) {
    this.catalog = catalog;
    this.inventory = inventory;
  }

  void mount(Router router) {
    router.put("/v1/locations/:location").handler(this::putLocation);
    router.get("/v1/locations").handler(this::listLocations);
    router.put("/v1/channels/:channel").handler(this::putChannel);
    router.get("/v1/channels").handler(this::listChannels);
    router.get("/v1/channels/:channel").handler(this::getChannel);
    router.put("/v1/channels/:channel/aliases/:code").handler(this::putAlias);
    router.get("/v1/channels/:channel/aliases").handler(this::listAliases);
    router.put("/v1/bundles/:sku").handler(this::putBundle);
    router.get("/v1/bundles/:sku").handler(this::getBundle);
    router.put("/v1/skus/:sku/policy").handler(this::putPolicy);
  }

  private void putLocation(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    String id = Validate.location(ctx.pathParam("location"), "location");
    JsonNode body = Bodies.object(ctx, true);
    String name = Bodies.optionalText(body, "name", 200, "invalid_name", "name must be a string of at most 200 characters");
    String n = name == null || name.isBlank() ? id : name.trim();
    respond(ctx, 200, catalog.putLocation(new Location(id, n)).map(Catalog::toJson));
  }

  private void listLocations(RoutingContext ctx) {
    respond(ctx, 200, catalog.refresh().map(v -> {
      ObjectNode o = Json.object();
      ArrayNode arr = o.putArray("locations");
      catalog.locations().forEach(l -> arr.add(Catalog.toJson(l)));
      return o;
    }));
  }

  private void putChannel(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    String id = Validate.channel(ctx.pathParam("channel"), "channel");
    JsonNode body = Bodies.object(ctx, false);
    JsonNode locs = body.get("locations");
    if (locs == null || !locs.isArray() || locs.isEmpty() || locs.size() > 64) {
      throw AllotException.badField("invalid_locations", "locations", "locations must be a list of 1 to 64 location ids");
    }
    List<String> locations = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < locs.size(); i++) {
      String field = "locations[" + i + "]";
      String l = Validate.location(locs.get(i).isTextual() ? locs.get(i).asText() : null, field);
      if (!seen.add(l)) {
        throw AllotException.badField("invalid_locations", field, "location '" + l + "' is listed twice");
      }
      locations.add(l);
    }
    long buffer = Bodies.optionalLong(body, "buffer", 0, 0, 1_000_000_000L, "invalid_buffer");
    JsonNode bo = body.get("backorder");
    if (bo != null && !bo.isNull() && !bo.isBoolean()) {
      throw AllotException.badField("invalid_backorder", "backorder", "backorder must be true or false");
    }
    boolean backorder = bo != null && bo.asBoolean(false);
    respond(ctx, 200, catalog.putChannel(new Channel(id, List.copyOf(locations), buffer, backorder))
        .map(Catalog::toJson));
  }

  private void listChannels(RoutingContext ctx) {
    respond(ctx, 200, catalog.refresh().map(v -> {
      ObjectNode o = Json.object();
      ArrayNode arr = o.putArray("channels");
      catalog.channels().forEach(c -> arr.add(Catalog.toJson(c)));
      return o;
    }));
  }

  private void getChannel(RoutingContext ctx) {
    String id = Validate.channel(ctx.pathParam("channel"), "channel");
    respond(ctx, 200, catalog.channel(id).map(c -> Catalog.toJson(c.orElseThrow(() ->
        AllotException.notFound("unknown_channel", "channel '" + id + "' does not exist")))));
  }

  private void putAlias(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    String channelId = Validate.channel(ctx.pathParam("channel"), "channel");
    String code = Validate.sku(ctx.pathParam("code"), "code");
    JsonNode body = Bodies.object(ctx, false);
    String sku = Validate.sku(text(body, "sku"), "sku");
    if (sku.equals(code)) {
      throw AllotException.badField("invalid_alias", "sku", "an alias cannot point at itself");
    }
    respond(ctx, 200, catalog.channel(channelId).compose(found -> {
      if (found.isEmpty()) {
        throw AllotException.notFound("unknown_channel", "channel '" + channelId + "' does not exist");
      }
      return catalog.bundle(sku) != null ? Future.succeededFuture(true) : inventory.stockExists(sku);
    }).compose(known -> {
      if (!known) {
        throw AllotException.badField("unknown_sku", "sku", "SKU '" + sku + "' is unknown: receive stock for it"
            + " (or define it as a bundle) before aliasing it");
      }
      return catalog.putAlias(channelId, code, sku);
    }).map(v -> {
      ObjectNode o = Json.object();
      o.put("channel", channelId).put("code", code).put("sku", sku);
      return o;
    }));
  }

  private void listAliases(RoutingContext ctx) {
    String channelId = Validate.channel(ctx.pathParam("channel"), "channel");
    respond(ctx, 200, catalog.refresh().map(v -> {
      ObjectNode o = Json.object();
      o.put("channel", channelId);
      ObjectNode a = o.putObject("aliases");
      catalog.aliasesOf(channelId).forEach(a::put);
      return o;
    }));
  }

  private void putBundle(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    String sku = Validate.sku(ctx.pathParam("sku"), "sku");
    JsonNode body = Bodies.object(ctx, false);
    JsonNode comps = body.get("components");
    if (comps == null || !comps.isArray() || comps.isEmpty() || comps.size() > 50) {
      throw AllotException.badField("invalid_components", "components", "components must be a list of 1 to 50");
    }
    if (!catalog.bundlesUsing(sku).isEmpty()) {
      throw AllotException.badField("nested_bundle", "sku", "'" + sku + "' is a component of another bundle;"
          + " bundles cannot nest");
    }
    List<Bundle.Component> list = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < comps.size(); i++) {
      String p = "components[" + i + "].";
      JsonNode c = comps.get(i);
      if (!c.isObject()) {
        throw AllotException.badField("invalid_components", "components[" + i + "]", "each component is an object");
      }
      String comp = Validate.sku(text(c, "sku"), p + "sku");
      if (comp.equals(sku)) {
        throw AllotException.badField("bundle_contains_itself", p + "sku", "a bundle cannot contain itself");
      }
      if (catalog.bundle(comp) != null) {
        throw AllotException.badField("nested_bundle", p + "sku", "'" + comp + "' is a bundle; bundles cannot nest");
      }
      if (!seen.add(comp)) {
        throw AllotException.badField("duplicate_component", p + "sku", "'" + comp + "' is listed twice");
      }
      list.add(new Bundle.Component(comp, requiredLong(c, "qty", p + "qty", 1, 1000)));
    }
    Bundle bundle = new Bundle(sku, List.copyOf(list));
    respond(ctx, 200, inventory.stockExists(sku).compose(exists -> {
      if (exists) {
        throw new AllotException(AllotException.Kind.CONFLICT, "sku_has_stock",
            "'" + sku + "' has stock of its own; a bundle has none", "sku", null, null);
      }
      return catalog.putBundle(bundle);
    }).map(Bundle::toJson));
  }

  private void getBundle(RoutingContext ctx) {
    String sku = Validate.sku(ctx.pathParam("sku"), "sku");
    respond(ctx, 200, catalog.refresh().map(v -> {
      Bundle b = catalog.bundle(sku);
      if (b == null) {
        throw AllotException.notFound("unknown_bundle", "no bundle '" + sku + "'");
      }
      return b.toJson();
    }));
  }

  private void putPolicy(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    String sku = Validate.sku(ctx.pathParam("sku"), "sku");
    if (catalog.bundle(sku) != null) {
      throw AllotException.badField("bundle_has_no_stock", "sku", "'" + sku + "' is a bundle: set limits on its"
          + " components, which are what a bundle reservation holds");
    }
    JsonNode body = Bodies.object(ctx, false);
    JsonNode limit = body.get("limitPerCustomer");
    Long value = limit == null || limit.isNull() ? null
        : requiredLong(body, "limitPerCustomer", "limitPerCustomer", 1, 1_000_000, "invalid_limit");
    respond(ctx, 200, inventory.setCustomerLimit(sku, value).map(x -> {
      ObjectNode o = Json.object();
      o.put("sku", sku);
      if (value == null) {
        o.putNull("limitPerCustomer");
      } else {
        o.put("limitPerCustomer", value);
      }
      return o;
    }));
  }
}
