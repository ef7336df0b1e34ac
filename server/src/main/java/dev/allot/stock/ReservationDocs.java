package dev.allot.stock;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import dev.allot.store.Creations;
import dev.allot.store.RecordStore.StockLine;
import dev.allot.store.Store;
import dev.allot.store.Store.HoldStatus;
import dev.allot.store.Store.LineHold;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The documents a reservation answers (API.md, "Reservations"): the reservation itself, the
 * refusals a reserve call stores for its replay (insufficient stock, a customer's limit), and the
 * refusals of a transition. The protocol that decides them is {@link Reservations}.
 */
public final class ReservationDocs {
  private final Catalog catalog;

  ReservationDocs(Catalog catalog) {
    this.catalog = catalog;
  }

  /**
   * The 201 body before anything is held, for lua/create_batch.lua: the document {@link #created}
   * writes, with a raw {@code \u0001k\u0001} where the k-th stock line's allocations go (the script
   * writes them there, and "backordered" after them when units are backordered, as
   * {@code putAllocations} does). Raw control characters never occur in JSON text otherwise: Jackson
   * escapes them inside strings. The common cart's template (written by hand) also marks with a raw
   * {@link Creations#HEAD_END} where its head ends: the id, channel, state and expiresAt, which the
   * feed entry of a call's held reservations carries apart, so that entry keeps only the rest, once
   * for every reservation whose rest is the same ({@link #heldBody} puts a head back).
   */
  String createdTemplate(Reservations.ReserveRequest req, List<StockLine> stock, Channel channel, long deadline) {
    // Written by hand for the common cart (no bundle, one stock line per line): the very text Jackson
    // writes for created()'s tree (ReservationDocsTest compares them), without a tree per reservation.
    boolean simple = stock.size() == req.lines().size() && plain(req.id()) && plain(channel.id())
        && (req.customer() == null || plain(req.customer()));
    for (Reservations.Line l : req.lines()) {
      simple &= catalog.bundle(l.sku()) == null && plain(l.sku()) && (l.alias() == null || plain(l.alias()));
    }
    if (!simple) {
      return Json.write(created(req, stock, channel, deadline, null));
    }
    StringBuilder sb = new StringBuilder(160);
    sb.append("{\"id\":\"").append(req.id()).append("\",\"channel\":\"").append(channel.id())
        .append("\",\"state\":\"held\",\"expiresAt\":\"");
    appendInstant(sb, deadline);
    sb.append('"').append(Creations.HEAD_END);
    if (req.customer() != null) {
      sb.append(",\"customer\":\"").append(req.customer()).append('"');
    }
    sb.append(",\"lines\":[");
    for (int i = 0; i < req.lines().size(); i++) {
      Reservations.Line l = req.lines().get(i);
      sb.append(i == 0 ? "{\"sku\":\"" : ",{\"sku\":\"").append(l.sku()).append('"');
      if (l.alias() != null) {
        sb.append(",\"alias\":\"").append(l.alias()).append('"');
      }
      sb.append(",\"qty\":").append(l.qty()).append(",\"allocations\":\u0001").append(indexOf(stock, l.sku()))
          .append("\u0001}");
    }
    return sb.append("]}").toString();
  }

  /**
   * A held reservation's 201 document from the rest of it that a feed entry keeps (lua/create_batch.lua,
   * the {@code resc} entry): the head {@link #createdTemplate} wrote before its {@link Creations#HEAD_END},
   * then the rest. A rest that begins with '{' is a whole document already (a template without a head).
   * The feed reads its entries back with it (outbound.Feed).
   */
  public static String heldBody(String id, String channel, long deadline, String rest) {
    if (rest.startsWith("{")) {
      return rest;
    }
    StringBuilder sb = new StringBuilder(64 + id.length() + channel.length() + rest.length());
    sb.append("{\"id\":\"").append(id).append("\",\"channel\":\"").append(channel)
        .append("\",\"state\":\"held\",\"expiresAt\":\"");
    appendInstant(sb, deadline);
    return sb.append('"').append(rest).toString();
  }

  /**
   * What {@code Instant.ofEpochMilli(ms).toString()} writes ("2026-12-01T04:55:26.965Z", no fraction when
   * the milliseconds are 0), without the formatter's machinery: it showed in every reservation's profile.
   * Years 1970 to 9999 by hand (a civil date from days, Hinnant's algorithm); any other through Instant.
   */
  static void appendInstant(StringBuilder sb, long ms) {
    if (ms < 0 || ms >= MAX_FOUR_DIGIT_YEAR_MS) {
      sb.append(Instant.ofEpochMilli(ms));
      return;
    }
    long days = ms / 86_400_000L;
    int msOfDay = (int) (ms - days * 86_400_000L);
    long z = days + 719_468;
    long era = z / 146_097;
    long doe = z - era * 146_097;
    long yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    int day = (int) (doy - (153 * mp + 2) / 5 + 1);
    int month = (int) (mp < 10 ? mp + 3 : mp - 9);
    int year = (int) (yoe + era * 400 + (month <= 2 ? 1 : 0));
    sb.append(year).append('-');
    two(sb, month).append('-');
    two(sb, day).append('T');
    two(sb, msOfDay / 3_600_000).append(':');
    two(sb, msOfDay / 60_000 % 60).append(':');
    two(sb, msOfDay / 1000 % 60);
    int milli = msOfDay % 1000;
    if (milli != 0) {
      sb.append('.').append((char) ('0' + milli / 100)).append((char) ('0' + milli / 10 % 10))
          .append((char) ('0' + milli % 10));
    }
    sb.append('Z');
  }

  /** 10000-01-01T00:00:00Z: Instant writes a year from there on with a '+'. */
  private static final long MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_800_000L;

  private static StringBuilder two(StringBuilder sb, int n) {
    return sb.append((char) ('0' + n / 10)).append((char) ('0' + n % 10));
  }

  /** True when s is a JSON string's text as it is (ids, codes and customers of the contract's safe characters). */
  private static boolean plain(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == '"' || c == '\\' || c > 0x7e) {
        return false;
      }
    }
    return true;
  }

  /**
   * The 201 body: each requested line with where its units are held; "holds" when bundles or merged
   * lines differ. holds null: the template (see {@link #createdTemplate}).
   */
  ObjectNode created(Reservations.ReserveRequest req, List<StockLine> stock, Channel channel, long deadline,
                     List<LineHold> holds) {
    ObjectNode o = Json.object();
    o.put("id", req.id());
    o.put("channel", channel.id());
    o.put("state", "held");
    o.put("expiresAt", Instant.ofEpochMilli(deadline).toString());
    if (req.customer() != null) {
      o.put("customer", req.customer());
    }
    ArrayNode lines = o.putArray("lines");
    boolean anyBundle = false;
    for (Reservations.Line l : req.lines()) {
      ObjectNode line = lines.addObject();
      line.put("sku", l.sku());
      if (l.alias() != null) {
        line.put("alias", l.alias());
      }
      line.put("qty", l.qty());
      Bundle b = catalog.bundle(l.sku());
      if (b != null) {
        anyBundle = true;
        ArrayNode comps = line.putArray("components");
        b.components().forEach(c -> comps.addObject().put("sku", c.sku()).put("qty", c.qty() * l.qty()));
        continue;
      }
      // A SKU also held for a bundle of the same cart is one hold: its allocations cover both.
      putAllocations(line, holds, indexOf(stock, l.sku()));
    }
    if (stock.size() != req.lines().size() || anyBundle) {
      ArrayNode held = o.putArray("holds");
      for (int i = 0; i < stock.size(); i++) {
        putAllocations(held.addObject().put("sku", stock.get(i).sku()).put("qty", stock.get(i).qty()), holds, i);
      }
    }
    return o;
  }

  private static void putAllocations(ObjectNode line, List<LineHold> holds, int k) {
    if (holds == null) {
      line.putRawValue("allocations", new RawValue("\u0001" + k + "\u0001"));
      return;
    }
    LineHold h = holds.get(k);
    ArrayNode allocs = line.putArray("allocations");
    for (Store.Allocation a : h.allocations()) {
      allocs.addObject().put("location", a.location()).put("qty", a.qty());
    }
    if (h.backordered() > 0) {
      line.put("backordered", h.backordered());
    }
  }

  private static int indexOf(List<StockLine> stock, String sku) {
    for (int i = 0; i < stock.size(); i++) {
      if (stock.get(i).sku().equals(sku)) {
        return i;
      }
    }
    throw new IllegalStateException("no stock line for " + sku);
  }

  /**
   * The 409 body of a refusal create_batch decided, from each stock line's decision: customer_limit
   * when any line was over its limit, else insufficient_stock.
   */
  ObjectNode refusal(Reservations.ReserveRequest req, List<StockLine> stock, List<Creations.LineDecision> decisions) {
    List<LineHold> holds = new ArrayList<>(stock.size());
    boolean limited = false;
    for (int i = 0; i < stock.size(); i++) {
      // One decision per stock line; a line without one (never expected) reads as "could be held".
      Creations.LineDecision d = i < decisions.size() ? decisions.get(i)
          : new Creations.LineDecision(HoldStatus.HELD, 0);
      holds.add(new LineHold(d.status(), 0, d.value(), 0, List.of()));
      limited |= d.status() == HoldStatus.CUSTOMER_LIMIT;
    }
    return limited ? customerLimit(req, stock, holds) : insufficient(req, stock, holds);
  }

  /** The 409 customer_limit body: for each line over the limit, how many units the customer may still take. */
  ObjectNode customerLimit(Reservations.ReserveRequest req, List<StockLine> stock, List<LineHold> holds) {
    ObjectNode p = Json.problem(409, "customer_limit", "customer '" + req.customer()
        + "' would go past the per-customer limit of a SKU; nothing is held");
    ArrayNode lines = p.putArray("lines");
    for (long[] v : requestedView(req, stock, holds, HoldStatus.CUSTOMER_LIMIT)) {
      Reservations.Line l = req.lines().get((int) v[0]);
      lines.addObject().put("sku", l.sku()).put("requested", l.qty()).put("allowed", v[1]);
    }
    p.put("field", "customer");
    return p;
  }

  /** The 409 insufficient_stock body: every line that could not be met, with what was available. */
  ObjectNode insufficient(Reservations.ReserveRequest req, List<StockLine> stock, List<LineHold> holds) {
    ObjectNode p = Json.problem(409, "insufficient_stock", "not enough stock for every line; nothing is held");
    ArrayNode lines = p.putArray("lines");
    for (long[] v : requestedView(req, stock, holds, HoldStatus.INSUFFICIENT)) {
      Reservations.Line l = req.lines().get((int) v[0]);
      lines.addObject().put("sku", l.sku()).put("requested", l.qty()).put("available", v[1]);
    }
    return p;
  }

  /**
   * What each refused requested line could have had, from the per-SKU answers: a plain line its SKU's
   * availability, a bundle the fewest bundles its components make. Pairs of {line index, value}.
   */
  private List<long[]> requestedView(Reservations.ReserveRequest req, List<StockLine> stock, List<LineHold> holds,
                                     HoldStatus refusal) {
    Map<String, Long> before = new HashMap<>();
    Map<String, Boolean> refused = new HashMap<>();
    for (int i = 0; i < stock.size(); i++) {
      LineHold h = holds.get(i);
      long held = h.allocations().stream().mapToLong(Store.Allocation::qty).sum();
      boolean wasHeld = h.status() == HoldStatus.HELD || h.status() == HoldStatus.REPLAY;
      before.put(stock.get(i).sku(), wasHeld && refusal == HoldStatus.INSUFFICIENT ? h.available() + held
          : h.available());
      refused.put(stock.get(i).sku(), h.status() == refusal);
    }
    List<long[]> out = new ArrayList<>();
    for (int i = 0; i < req.lines().size(); i++) {
      Reservations.Line l = req.lines().get(i);
      Bundle b = catalog.bundle(l.sku());
      if (b == null) {
        if (refused.getOrDefault(l.sku(), false)) {
          out.add(new long[] {i, before.get(l.sku())});
        }
      } else if (b.components().stream().anyMatch(c -> refused.getOrDefault(c.sku(), false))) {
        out.add(new long[] {i, Availability.bundle(b, before)});
      }
    }
    return out;
  }

  /**
   * The reservation as it is now: its first answer (the record's body), with the current state, deadline
   * and order id. The reads and the outbound events ("reservation.*" data) both show it.
   */
  public static String view(String body, String state, long deadline, String orderId) {
    String spliced = spliced(body, state, deadline, orderId);
    return spliced != null ? spliced : parsedView(body, state, deadline, orderId);
  }

  private static final String ID = "{\"id\":\"";
  private static final String CHANNEL = "\",\"channel\":\"";
  private static final String STATE = "\",\"state\":\"";
  private static final String EXPIRES = "\",\"expiresAt\":\"";

  /**
   * {@link #view} without parsing: a body as {@link #created} writes it begins
   * <code>{"id":"…","channel":"…","state":"…","expiresAt":"…",</code>, so the state and the deadline
   * are replaced where they stand and the order id goes last, where the parsed view puts a new field:
   * the very text {@link #parsedView} writes (ReservationDocsTest checks it). Every commit, release
   * and feed event makes a view, and parsing the body was most of one. null when the body does not
   * begin so, holds an escape before the deadline's end, or has an order id already.
   */
  static String spliced(String body, String state, long deadline, String orderId) {
    if (!body.startsWith(ID) || body.charAt(body.length() - 1) != '}') {
      return null;
    }
    int channel = body.indexOf('"', ID.length());
    if (channel < 0 || !body.startsWith(CHANNEL, channel)) {
      return null;
    }
    int state0 = body.indexOf('"', channel + CHANNEL.length());
    if (state0 < 0 || !body.startsWith(STATE, state0)) {
      return null;
    }
    int expires = body.indexOf('"', state0 + STATE.length());
    if (expires < 0 || !body.startsWith(EXPIRES, expires)) {
      return null;
    }
    int rest = body.indexOf('"', expires + EXPIRES.length());
    if (rest < 0 || body.lastIndexOf('\\', rest) >= 0 || body.indexOf("\"orderId\":", rest) >= 0) {
      return null;
    }
    StringBuilder out = new StringBuilder(body.length() + 64);
    out.append(body, 0, state0 + STATE.length()).append(state).append(EXPIRES);
    appendInstant(out, deadline);
    out.append(body, rest, body.length() - 1);
    if (orderId != null && !orderId.isEmpty()) {
      out.append(",\"orderId\":\"");
      JsonStringEncoder.getInstance().quoteAsString(orderId, out);
      out.append('"');
    }
    return out.append('}').toString();
  }

  static String parsedView(String body, String state, long deadline, String orderId) {
    ObjectNode o = (ObjectNode) Json.read(body);
    o.put("state", state);
    o.put("expiresAt", Instant.ofEpochMilli(deadline).toString());
    if (orderId != null && !orderId.isEmpty()) {
      o.put("orderId", orderId);
    }
    return Json.write(o);
  }

  /** commit, release, extend, ship, cancel refused by the state: 410 reservation_expired, else 409 reservation_<state>. */
  static AllotException stateConflict(String id, String state) {
    if (state.equals("expired")) {
      return new AllotException(AllotException.Kind.GONE, "reservation_expired", "reservation '" + id + "' has expired");
    }
    return AllotException.conflict("reservation_" + state, "reservation '" + id + "' is " + state);
  }



  static AllotException idempotencyConflict(String id) {
    return new AllotException(AllotException.Kind.CONFLICT, "idempotency_conflict",
        "reservation id '" + id + "' was already used for a different request", "id", null, null);
  }

  static AllotException inProgress(String id, String what) {
    return new AllotException(AllotException.Kind.CONFLICT, "reservation_in_progress",
        "reservation '" + id + "' " + what + "; retry shortly", null, null, 1);
  }
}
