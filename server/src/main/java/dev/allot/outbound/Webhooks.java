package dev.allot.outbound;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.stock.AllotException;
import dev.allot.stock.Json;
import dev.allot.stock.Validate;
import dev.allot.store.EventLog.StreamId;
import dev.allot.store.WebhookStore;
import io.vertx.core.Future;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Webhook endpoints (API.md, "Push: webhooks"): their configuration, the delivery log and redelivery.
 * The deliveries themselves are {@link Deliveries}.
 */
public final class Webhooks {
  public static final int MAX_URL = 2048;

  /** One endpoint as stored. {@code channels} null: every channel. {@code state}: active or disabled. */
  public record Endpoint(String id, String url, List<String> types, List<String> channels, String state,
                         String createdAt, String secret, String disabledReason) {
    public boolean active() {
      return state.equals("active");
    }

    /** Whether this endpoint wants the event: its type, and its channel when it names one. */
    public boolean wants(ObjectNode event) {
      if (!types.contains(event.path("type").asText())) {
        return false;
      }
      return channels == null || !event.has("channel") || channels.contains(event.path("channel").asText());
    }

    ObjectNode toJson(boolean withSecret) {
      ObjectNode o = Json.object();
      o.put("id", id);
      o.put("url", url);
      ArrayNode t = o.putArray("types");
      types.forEach(t::add);
      if (channels == null) {
        o.putNull("channels");
      } else {
        ArrayNode c = o.putArray("channels");
        channels.forEach(c::add);
      }
      o.put("state", state);
      o.put("createdAt", createdAt);
      if (disabledReason != null) {
        o.put("disabledReason", disabledReason);
      }
      if (withSecret) {
        o.put("secret", secret);
      }
      return o;
    }

    String stored() {
      return Json.write(toJson(true));
    }

    Endpoint withState(String newState, String reason) {
      return new Endpoint(id, url, types, channels, newState, createdAt, secret, reason);
    }

    static Endpoint parse(String json) {
      JsonNode n = Json.read(json);
      List<String> types = new ArrayList<>();
      n.path("types").forEach(t -> types.add(t.asText()));
      List<String> channels = null;
      if (n.path("channels").isArray()) {
        channels = new ArrayList<>();
        for (JsonNode c : n.path("channels")) {
          channels.add(c.asText());
        }
      }
      return new Endpoint(n.path("id").asText(), n.path("url").asText(), List.copyOf(types),
          channels == null ? null : List.copyOf(channels), n.path("state").asText("active"),
          n.path("createdAt").asText(), n.path("secret").asText(),
          n.hasNonNull("disabledReason") ? n.path("disabledReason").asText() : null);
    }
  }

  /** What PUT answered: the endpoint's document (with its secret when it was created). */
  public record Put(boolean created, ObjectNode body) {
  }

  private final WebhookStore store;
  private final Feed feed;
  private final LongSupplier clock;

  public Webhooks(WebhookStore store, Feed feed, LongSupplier clock) {
    this.store = store;
    this.feed = feed;
    this.clock = clock;
  }

  /** Creates the endpoint, or states it anew (same secret and createdAt); a disabled one is active again. */
  public Future<Put> put(String rawId, JsonNode body) {
    String id = Validate.webhook(rawId, "id");
    String url = url(body.get("url"));
    List<String> types = types(body.get("types"));
    List<String> channels = channels(body.get("channels"));
    return store.endpoint(id).compose(existing -> {
      if (existing != null) {
        Endpoint old = Endpoint.parse(existing);
        Endpoint e = new Endpoint(id, url, types, channels, "active", old.createdAt(), old.secret(), null);
        return store.putEndpoint(id, e.stored()).map(v -> new Put(false, e.toJson(false)));
      }
      Endpoint e = new Endpoint(id, url, types, channels, "active", Instant.ofEpochMilli(clock.getAsLong()).toString(),
          Signer.newSecret(), null);
      return store.createEndpoint(id, e.stored()).compose(created -> created
          ? startNew(id).map(v -> new Put(true, e.toJson(true)))
          // Another PUT created it meanwhile: state it again over that one (its secret stays).
          : put(id, body));
    });
  }

  public Future<List<Endpoint>> all() {
    return store.endpoints().map(m -> {
      List<Endpoint> out = new ArrayList<>(m.size());
      m.values().forEach(json -> out.add(Endpoint.parse(json)));
      out.sort((a, b) -> a.id().compareTo(b.id()));
      return out;
    });
  }

  public Future<ObjectNode> list() {
    return all().map(list -> {
      ObjectNode o = Json.object();
      ArrayNode arr = o.putArray("webhooks");
      list.forEach(e -> arr.add(e.toJson(false)));
      return o;
    });
  }

  public Future<Endpoint> get(String rawId) {
    String id = Validate.webhook(rawId, "id");
    return store.endpoint(id).map(json -> {
      if (json == null) {
        throw AllotException.notFound("unknown_webhook", "no webhook '" + id + "'");
      }
      return Endpoint.parse(json);
    });
  }

  public Future<ObjectNode> document(String rawId) {
    return get(rawId).map(e -> e.toJson(false));
  }

  public Future<Void> delete(String rawId) {
    String id = Validate.webhook(rawId, "id");
    return store.deleteEndpoint(id).map(existed -> {
      if (!existed) {
        throw AllotException.notFound("unknown_webhook", "no webhook '" + id + "'");
      }
      return null;
    });
  }

  /** A 410 from the receiver: the endpoint is disabled at once (a PUT makes it active again). */
  Future<Void> disable(Endpoint e, String reason) {
    return store.endpoint(e.id()).compose(json -> json == null ? Future.succeededFuture()
        : store.putEndpoint(e.id(), Endpoint.parse(json).withState("disabled", reason).stored()));
  }

  /** The delivery log, newest first: every attempt, or those with the given outcome (failed, delivered). */
  public Future<ObjectNode> deliveries(String rawId, String state, int limit) {
    if (state != null && !Set.of("failed", "delivered").contains(state)) {
      throw AllotException.badField("invalid_state", "state", "state must be failed or delivered");
    }
    return get(rawId).compose(e -> store.log(e.id(), WebhookStore.LOG_MAX)).map(entries -> {
      ObjectNode o = Json.object();
      ArrayNode arr = o.putArray("deliveries");
      for (String s : entries) {
        JsonNode d = Json.read(s);
        if (state == null || state.equals(d.path("outcome").asText())) {
          arr.add(d);
          if (arr.size() == limit) {
            break;
          }
        }
      }
      return o;
    });
  }

  private static String url(JsonNode n) {
    if (n == null || !n.isTextual() || n.asText().isBlank() || n.asText().length() > MAX_URL) {
      throw AllotException.badField("invalid_url", "url", "url must be an http or https URL of at most " + MAX_URL
          + " characters");
    }
    String raw = n.asText().trim();
    try {
      URI u = new URI(raw);
      String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
      if (!(scheme.equals("http") || scheme.equals("https")) || u.getHost() == null || u.getHost().isEmpty()) {
        throw AllotException.badField("invalid_url", "url", "url must be an http or https URL with a host");
      }
      if (u.getRawUserInfo() != null) {
        throw AllotException.badField("invalid_url", "url", "url must carry no credentials (user:password@)");
      }
      if (u.getRawFragment() != null) {
        throw AllotException.badField("invalid_url", "url", "url must have no #fragment");
      }
      return raw;
    } catch (URISyntaxException e) {
      throw AllotException.badField("invalid_url", "url", "url is not a valid URL: " + e.getReason());
    }
  }

  private static List<String> types(JsonNode n) {
    if (n == null || !n.isArray() || n.isEmpty()) {
      throw AllotException.badField("invalid_types", "types", "types must be a non-empty list of event types");
    }
    Set<String> out = new LinkedHashSet<>();
    for (JsonNode t : n) {
      if (!t.isTextual() || !Feed.TYPES.contains(t.asText())) {
        throw AllotException.badField("invalid_types", "types", "unknown event type " + t + "; the types are "
            + String.join(", ", Feed.TYPES.stream().sorted().toList()));
      }
      out.add(t.asText());
    }
    return List.copyOf(out);
  }

  private static List<String> channels(JsonNode n) {
    if (n == null || n.isNull()) {
      return null;
    }
    if (!n.isArray() || n.isEmpty()) {
      throw AllotException.badField("invalid_channels", "channels",
          "channels must be a non-empty list of channel ids, or left out for every channel");
    }
    Set<String> out = new LinkedHashSet<>();
    int i = 0;
    for (JsonNode c : n) {
      out.add(Validate.channel(c.isTextual() ? c.asText() : null, "channels[" + i++ + "]"));
    }
    return List.copyOf(out);
  }

  /**
   * GET /v1/sync: each endpoint's state (active, failing: the last attempt failed, disabled), its lag
   * (age of the oldest event it has not had), and per channel the SKUs whose availability it has not
   * confirmed for longer than {@code staleSeconds}, as the instance delivering for it last saved them.
   */
  public Future<ObjectNode> sync(long staleSeconds) {
    return all().compose(endpoints -> store.states(endpoints.stream().map(Endpoint::id).toList()).map(states -> {
      long now = clock.getAsLong();
      ObjectNode o = Json.object();
      ArrayNode arr = o.putArray("endpoints");
      for (int i = 0; i < endpoints.size(); i++) {
        Endpoint e = endpoints.get(i);
        Map<String, String> st = states.get(i);
        long failures = Long.parseLong(st.getOrDefault(Deliveries.FAILURES, "0"));
        long oldest = Long.parseLong(st.getOrDefault(Deliveries.OLDEST_PENDING, "0"));
        ObjectNode x = arr.addObject();
        x.put("id", e.id());
        x.put("url", e.url());
        x.put("state", !e.active() ? "disabled" : failures > 0 ? "failing" : "active");
        x.put("lagSeconds", oldest == 0 ? 0 : Math.max(0, (now - oldest) / 1000));
        x.put("failuresInARow", failures);
        putOrNull(x, "lastSuccessAt", st.get(Deliveries.LAST_SUCCESS));
        putOrNull(x, "lastError", st.get(Deliveries.LAST_ERROR));
        ObjectNode channels = x.putObject("channels");
        for (String ch : e.channels() != null ? e.channels() : feed.channelIds()) {
          channels.putObject(ch).putArray("staleSkus");
        }
        String unconfirmed = st.getOrDefault(Deliveries.UNCONFIRMED, "");
        if (e.types().contains("availability.changed") && !unconfirmed.isEmpty()) {
          for (String item : unconfirmed.split(";")) {
            String[] p = item.split("\\|");
            if (p.length == 3 && now - Long.parseLong(p[2]) > staleSeconds * 1000) {
              ObjectNode ch = channels.has(p[0]) ? (ObjectNode) channels.get(p[0]) : channels.putObject(p[0]);
              (ch.has("staleSkus") ? (ArrayNode) ch.get("staleSkus") : ch.putArray("staleSkus")).add(p[1]);
            }
          }
        }
      }
      return o;
    }));
  }

  private static void putOrNull(ObjectNode o, String field, String value) {
    if (value == null || value.isEmpty()) {
      o.putNull(field);
    } else {
      o.put(field, value);
    }
  }

  /** A created endpoint starts after the newest event, whatever an earlier endpoint of the same id left. */
  private Future<Void> startNew(String id) {
    return feed.tail().compose(c -> {
      Map<String, String> fields = Deliveries.position(c);
      fields.put(Deliveries.FAILURES, "0");
      fields.put(Deliveries.OLDEST_PENDING, "0");
      fields.put(Deliveries.UNCONFIRMED, "");
      return store.saveState(id, fields);
    });
  }

  /** Where a new endpoint starts: after the newest event now (it gets what comes next). */
  Future<Void> startAtTail(String id) {
    // Only where no position is saved yet (a redelivery may already have set one).
    return feed.tail().compose(c -> store.advance(id, null, Deliveries.position(c))).mapEmpty();
  }

  /**
   * Sends every event from {@code since} on again: the endpoint's position moves back there (or to the
   * oldest event kept, if that is later). Answers where it starts.
   */
  public Future<ObjectNode> redeliver(String rawId, JsonNode body) {
    JsonNode since = body.get("since");
    Instant from;
    try {
      from = Instant.parse(since == null || !since.isTextual() ? "" : since.asText());
    } catch (java.time.format.DateTimeParseException ex) {
      throw AllotException.badField("invalid_since", "since", "since must be a time such as 2025-01-01T10:00:00Z");
    }
    return get(rawId).compose(e -> feed.trimmedBefore().compose(trimmed -> {
      long ms = Math.max(from.toEpochMilli(), trimmed.millis());
      Feed.Cursor c = new Feed.Cursor(new StreamId(ms, 0), 0);
      return store.saveState(e.id(), Deliveries.position(c))
          .map(v -> {
            ObjectNode o = Json.object();
            o.put("id", e.id());
            o.put("from", Instant.ofEpochMilli(ms).toString());
            return o;
          });
    }));
  }
}
