package dev.allot.http;

import dev.allot.outbound.Feed;
import dev.allot.stock.AllotException;
import dev.allot.stock.Json;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static dev.allot.http.Auth.caller;
import static dev.allot.http.Bodies.queryInt;
import static dev.allot.http.Bodies.respond;

/** Outbound, the pull side (API.md, "Pull: the change feed"): GET /v1/events, admin only. */
final class EventRoutes {
  private final Feed feed;

  EventRoutes(Feed feed) {
    this.feed = feed;
  }

  void mount(Router router) {
    router.get("/v1/events").handler(this::events);
  }

  private void events(RoutingContext ctx) {
    caller(ctx).requireAdmin();
    String after = ctx.request().getParam("after");
    int limit = queryInt(ctx, "limit", 100, 1, Feed.MAX_LIMIT);
    Set<String> types = types(ctx.queryParam("type"));
    respond(ctx, 200, feed.page(after == null || after.isBlank() ? null : after.trim(), limit, types).map(page -> {
      var doc = Json.object();
      var events = doc.putArray("events");
      page.events().forEach(events::add);
      doc.put("next", page.next());
      return doc;
    }));
  }

  /** {@code type=a,b} or {@code type=a&type=b}; every name must be an event type of the contract. */
  private static Set<String> types(List<String> params) {
    Set<String> out = new LinkedHashSet<>();
    for (String p : params) {
      for (String t : p.split(",")) {
        String type = t.trim();
        if (type.isEmpty()) {
          continue;
        }
        if (!Feed.TYPES.contains(type)) {
          throw AllotException.badField("invalid_type", "type", "unknown event type '" + type + "'; the types are "
              + String.join(", ", Feed.TYPES.stream().sorted().toList()));
        }
        out.add(type);
      }
    }
    return out;
  }
}
