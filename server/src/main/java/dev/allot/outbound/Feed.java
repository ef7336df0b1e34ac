package dev.allot.outbound;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.stock.AllotException;
import dev.allot.stock.Availability;
import dev.allot.stock.Catalog;
import dev.allot.stock.Channel;
import dev.allot.stock.Json;
import dev.allot.stock.ReservationDocs;
import dev.allot.store.EventLog;
import dev.allot.store.EventLog.Entry;
import dev.allot.store.EventLog.StreamId;
import io.vertx.core.Future;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The change feed (API.md, "Pull: the change feed"): the outbox entries the scripts appended
 * ({@link EventLog}), each turned into the events of the contract. An entry may make several events
 * (a stock change: one availability.changed per channel whose availability it changed; a count: a
 * movement.applied and a count.drifted), so a cursor is a position inside an entry: the entry's id
 * and how many of its events were read. Reading from a cursor again gives the same events as long as
 * the channels are configured the same (an availability.changed is computed with today's channels).
 */
public final class Feed {
  public static final Set<String> TYPES = Set.of("reservation.held", "reservation.committed",
      "reservation.released", "reservation.expired", "reservation.shipped", "reservation.cancelled",
      "movement.applied", "availability.changed", "count.drifted");
  public static final int MAX_LIMIT = 1000;
  /** A page reads at most this many entries, so a filter that matches little still answers quickly. */
  static final int SCAN_ENTRIES = 2000;
  private static final int READ_BATCH = 200;

  /** One page: the events and the cursor to read on from (the same cursor when nothing new came). */
  public record Page(List<ObjectNode> events, String next) {
  }

  /** A position in the feed: every event before the {@code consumed}-th of entry {@code id} was read. */
  record Cursor(StreamId id, int consumed) {
    static final Cursor START = new Cursor(StreamId.ZERO, 0);
    /** As {@code consumed}: every event of the entry (no entry makes this many). */
    static final int WHOLE = 1_000_000;

    String encode() {
      return Base64.getUrlEncoder().withoutPadding()
          .encodeToString(("1:" + id + ":" + consumed).getBytes(StandardCharsets.US_ASCII));
    }

    static Cursor decode(String s) {
      try {
        String[] p = new String(Base64.getUrlDecoder().decode(s), StandardCharsets.US_ASCII).split(":");
        if (p.length == 3 && p[0].equals("1")) {
          int consumed = Integer.parseInt(p[2]);
          if (consumed >= 0) {
            return new Cursor(StreamId.parse(p[1]), consumed);
          }
        }
      } catch (IllegalArgumentException e) {
        // answered below
      }
      throw AllotException.badField("invalid_cursor", "after", "after must be a cursor this feed returned as next");
    }
  }

  private final EventLog log;
  private final Catalog catalog;

  public Feed(EventLog log, Catalog catalog) {
    this.log = log;
    this.catalog = catalog;
  }

  /**
   * Up to {@code limit} events after {@code after} (null: from the oldest kept), of the given types
   * (empty: all). A cursor from before the feed's trim point is 410 cursor_expired.
   */
  public Future<Page> page(String after, int limit, Set<String> types) {
    Cursor from = after == null ? null : Cursor.decode(after);
    return window(from, limit, types.isEmpty() ? e -> true : e -> types.contains(e.get("type").asText()));
  }

  /**
   * Up to {@code limit} events after {@code from} (null: from the oldest kept) that {@code wanted} picks,
   * and the cursor after the last event read. 410 cursor_expired from before the feed's trim point.
   */
  Future<Page> window(Cursor from, int limit, Predicate<ObjectNode> wanted) {
    return log.trimmedBefore().compose(trimmed -> {
      if (from != null && from.id().compareTo(trimmed) < 0) {
        return Future.failedFuture(new AllotException(AllotException.Kind.GONE, "cursor_expired",
            "the cursor points before the oldest event kept (events are kept ALLOT_EVENTS_RETENTION_SECONDS);"
                + " read again without after"));
      }
      return scan(from == null ? Cursor.START : from, limit, wanted, new ArrayList<>(), 0);
    });
  }

  /** Every channel's id, sorted. */
  List<String> channelIds() {
    return catalog.channels().stream().map(Channel::id).sorted().toList();
  }

  /** Entries before this id were trimmed away. */
  Future<StreamId> trimmedBefore() {
    return log.trimmedBefore();
  }

  /** The cursor after the newest entry: where a new reader starts to get only what comes next. */
  Future<Cursor> tail() {
    return log.newest().map(id -> id == null ? Cursor.START : new Cursor(id, Cursor.WHOLE));
  }

  private Future<Page> scan(Cursor at, int limit, Predicate<ObjectNode> wanted, List<ObjectNode> out, int scanned) {
    return log.range(at.id(), READ_BATCH).compose(entries -> {
      Cursor pos = at;
      for (Entry e : entries) {
        List<ObjectNode> events = events(e);
        StreamId id = StreamId.parse(e.id());
        int k = id.equals(at.id()) ? at.consumed() : 0;
        for (; k < events.size(); k++) {
          ObjectNode ev = events.get(k);
          pos = new Cursor(id, k + 1);
          if (wanted.test(ev)) {
            out.add(ev);
            if (out.size() == limit) {
              return Future.succeededFuture(new Page(out, pos.encode()));
            }
          }
        }
        // Every event of the entry read (a filtered one too): the next page starts after it.
        pos = new Cursor(id, k);
      }
      int seen = scanned + entries.size();
      if (entries.size() < READ_BATCH || seen >= SCAN_ENTRIES) {
        return Future.succeededFuture(new Page(out, pos.encode()));
      }
      return scan(pos, limit, wanted, out, seen);
    });
  }

  /** The events one outbox entry makes, in a fixed order (lua/README.md lists the entries' fields). */
  List<ObjectNode> events(Entry e) {
    String at = Instant.ofEpochMilli(e.millis()).toString();
    String base = "evt_" + e.id();
    return switch (e.get("t")) {
      case "res" -> List.of(reservation(e.get("st"), e.get("r"), e.get("c"), e.get("d"), e.get("o"), e.get("b"), base,
          at));
      case "resb" -> reservations(e, base, at);
      case "resc" -> compactReservations(e, base, at);
      case "stock" -> availability(e, base, at);
      case "move" -> movement(e, base, at);
      // An entry of a kind this version does not know (a newer server's): skipped, never an error.
      default -> List.of();
    };
  }

  private static ObjectNode reservation(String state, String rid, String channel, String deadline, String orderId,
                                        String body, String id, String at) {
    ObjectNode ev = head(id, "reservation." + state, at);
    ev.put("channel", channel);
    if (body.isEmpty()) {
      ev.putObject("data").put("id", rid).put("state", state);
    } else {
      ev.set("data", Json.read(ReservationDocs.view(body, state, parseLong(deadline), orderId)));
    }
    return ev;
  }

  /**
   * A batch's reservations in one entry (lua/create_batch.lua, lua/decide_at_once.lua): ids,
   * channels and deadlines comma separated, bodies newline separated, in order; the state one for
   * all or one per reservation (comma separated); the order ids, when there, a JSON array. The i-th
   * is event {@code <base>_<i>}.
   */
  private static List<ObjectNode> reservations(Entry e, String base, String at) {
    String[] ids = e.get("r").split(",", -1);
    String[] states = e.get("st").split(",", -1);
    String[] channels = e.get("c").split(",", -1);
    String[] deadlines = e.get("d").split(",", -1);
    String[] bodies = e.get("b").split("\n", -1);
    String orders = e.get("o");
    JsonNode orderIds = orders == null || orders.isEmpty() ? null : Json.read(orders);
    if ((states.length != 1 && states.length != ids.length) || channels.length != ids.length
        || deadlines.length != ids.length || bodies.length != ids.length
        || (orderIds != null && (!orderIds.isArray() || orderIds.size() != ids.length))) {
      throw new IllegalStateException("feed entry " + e.id() + ": " + ids.length + " reservations but "
          + states.length + " states, " + channels.length + " channels, " + deadlines.length + " deadlines, "
          + (orderIds == null ? "no" : orderIds.size()) + " order ids, " + bodies.length + " bodies");
    }
    List<ObjectNode> out = new ArrayList<>(ids.length);
    for (int i = 0; i < ids.length; i++) {
      out.add(reservation(states[states.length == 1 ? 0 : i], ids[i], channels[i], deadlines[i],
          orderIds == null ? "" : orderIds.get(i).asText(), bodies[i], base + "_" + (i + 1), at));
    }
    return out;
  }

  /**
   * A call's reservations in one compact entry (lua/create_batch.lua, lua/decide_at_once.lua): the state
   * one for all or one per reservation, ids, channels, deadlines and each one's rest index (from 1) comma
   * separated; the order ids, when there, a JSON array; the distinct rests of their 201 documents newline
   * separated. Each document is its head written again before its rest ({@link ReservationDocs#heldBody});
   * an empty rest is no document. The i-th is event {@code <base>_<i>}, as in a {@code resb} entry.
   */
  private static List<ObjectNode> compactReservations(Entry e, String base, String at) {
    String[] ids = e.get("r").split(",", -1);
    String[] states = e.get("st").split(",", -1);
    String[] channels = e.get("c").split(",", -1);
    String[] deadlines = e.get("d").split(",", -1);
    String[] rests = e.get("x").split("\n", -1);
    String[] index = e.get("i").split(",", -1);
    String orders = e.get("o");
    JsonNode orderIds = orders == null || orders.isEmpty() ? null : Json.read(orders);
    if ((states.length != 1 && states.length != ids.length) || channels.length != ids.length
        || deadlines.length != ids.length || index.length != ids.length
        || (orderIds != null && (!orderIds.isArray() || orderIds.size() != ids.length))) {
      throw new IllegalStateException("feed entry " + e.id() + ": " + ids.length + " reservations but "
          + states.length + " states, " + channels.length + " channels, " + deadlines.length + " deadlines, "
          + (orderIds == null ? "no" : orderIds.size()) + " order ids, " + index.length + " rest indexes");
    }
    List<ObjectNode> out = new ArrayList<>(ids.length);
    for (int i = 0; i < ids.length; i++) {
      int x = (int) parseLong(index[i]);
      if (x < 1 || x > rests.length) {
        throw new IllegalStateException("feed entry " + e.id() + ": reservation " + (i + 1) + " names rest " + index[i]
            + " of " + rests.length);
      }
      String rest = rests[x - 1];
      String body = rest.isEmpty() ? "" : ReservationDocs.heldBody(ids[i], channels[i], parseLong(deadlines[i]), rest);
      out.add(reservation(states[states.length == 1 ? 0 : i], ids[i], channels[i], deadlines[i],
          orderIds == null ? "" : orderIds.get(i).asText(), body, base + "_" + (i + 1), at));
    }
    return out;
  }

  private List<ObjectNode> availability(Entry e, String base, String at) {
    String sku = e.get("s");
    long version = parseLong(e.get("v"));
    Map<String, Long> now = perLocation(e.get("p"));
    Map<String, Long> before = perLocation(e.get("pp"));
    List<Channel> channels = new ArrayList<>(catalog.channels());
    channels.sort(Comparator.comparing(Channel::id));
    List<ObjectNode> out = new ArrayList<>();
    for (Channel ch : channels) {
      boolean sells = ch.locations().stream().anyMatch(l -> now.containsKey(l) || before.containsKey(l));
      long available = Availability.channel(now, ch);
      if (!sells || available == Availability.channel(before, ch)) {
        continue;
      }
      ObjectNode ev = head(base + "_" + ch.id(), "availability.changed", at);
      ev.put("sku", sku).put("channel", ch.id()).put("version", version);
      ev.putObject("data").put("channel", ch.id()).put("sku", sku).put("available", available)
          .put("version", version);
      out.add(ev);
    }
    return out;
  }

  private static List<ObjectNode> movement(Entry e, String base, String at) {
    String sku = e.get("s");
    long version = parseLong(e.get("v"));
    long drift = parseLong(e.get("dr"));
    ObjectNode applied = head(base, "movement.applied", at);
    applied.put("sku", sku).put("version", version);
    applied.putObject("data").put("id", e.get("m")).put("sku", sku).put("location", e.get("l"))
        .put("type", e.get("k")).put("qty", parseLong(e.get("q"))).put("onHand", parseLong(e.get("on")))
        .put("available", parseLong(e.get("a"))).put("quarantine", parseLong(e.get("qu")))
        .put("shortfall", parseLong(e.get("sf"))).put("drift", drift);
    if (!e.get("k").equals("count") || drift == 0) {
      return List.of(applied);
    }
    ObjectNode drifted = head(base + "_drift", "count.drifted", at);
    drifted.put("sku", sku).put("version", version);
    drifted.putObject("data").put("movementId", e.get("m")).put("sku", sku).put("location", e.get("l"))
        .put("drift", drift).put("onHand", parseLong(e.get("on")));
    return List.of(applied, drifted);
  }

  private static ObjectNode head(String id, String type, String at) {
    ObjectNode ev = Json.object();
    ev.put("id", id);
    ev.put("type", type);
    ev.put("at", at);
    return ev;
  }

  /** "loc=n,..." as the scripts write it ('' for none). */
  static Map<String, Long> perLocation(String s) {
    Map<String, Long> out = new LinkedHashMap<>();
    if (s == null || s.isEmpty()) {
      return out;
    }
    for (String part : s.split(",")) {
      int eq = part.indexOf('=');
      if (eq > 0) {
        out.put(part.substring(0, eq), parseLong(part.substring(eq + 1)));
      }
    }
    return out;
  }

  private static long parseLong(String s) {
    try {
      return s == null || s.isEmpty() ? 0 : Long.parseLong(s);
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
