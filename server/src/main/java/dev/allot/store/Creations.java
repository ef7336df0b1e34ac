package dev.allot.store;

import dev.allot.store.RecordStore.StockLine;
import dev.allot.store.Store.HoldStatus;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reservations created whole, record and every stock line, in one script call (lua/create_batch.lua)
 * where all their keys live on one Redis: a standalone Redis. Calls are group-committed
 * ({@link GroupCommit}): the instance's event loops share one queue and at most a few calls under
 * way at once ({@link InFlight}), and what arrives meanwhile, on any loop, goes in the next. A Redis Cluster
 * spreads a reservation over several nodes and uses the saga instead ({@link RecordStore#begin}, {@link Store#reserveLine}).
 */
public final class Creations {
  /**
   * At most this many stock lines in one script call (a reservation of many lines counts each):
   * Redis runs nothing else while it runs.
   */
  public static final int BATCH_CAP = 256;

  /**
   * Marks, in a body template, where its head ends: <code>{"id":"…","channel":"…","state":"held","expiresAt":"…"</code>,
   * written without escapes. The feed entry of a call's held reservations ({@code resc}) carries the id,
   * channel and deadline apart, so it keeps only what follows, once for all the reservations of the call
   * whose rest is the same (a flash sale's carts: one). A raw control character, which JSON text never holds.
   */
  public static final char HEAD_END = '\u0002';

  /**
   * One reservation to create. {@code bodyTemplate}: its 201 document with {@code "\u0001k\u0001"} (a raw
   * control character, which JSON text never holds unescaped) where the k-th stock line's allocations go,
   * and {@link #HEAD_END} after its head when it has one.
   * {@code refusedRetentionSeconds}: how long the record of a refused reservation is kept for its replay.
   */
  public record NewReservation(String id, long now, String fingerprint, String channel, long deadline, long buffer,
                               String customer, boolean backorder, List<String> locations, List<StockLine> lines,
                               String bodyTemplate, long refusedRetentionSeconds) {
  }

  public enum Result { CREATED, SAME_REQUEST, OTHER_REQUEST, REFUSED }

  /**
   * One stock line's part in a refusal: INSUFFICIENT with what the channel has, CUSTOMER_LIMIT with how
   * many more units the customer may take, or HELD (it could have been held) with what it had.
   */
  public record LineDecision(HoldStatus status, long value) {
  }

  /**
   * CREATED: held, with its body. SAME_REQUEST: the record's state, first status and body (a refused
   * record keeps its refusal instead of a body, one decision per stock line of the record's
   * {@code lines}, which may differ from today's expansion of the request if a bundle changed since).
   * OTHER_REQUEST: the id is another request's. REFUSED: nothing held, each stock line's decision in
   * {@code refusal}.
   */
  public record Creation(Result result, String state, int status, Buffer bytes, List<LineDecision> refusal,
                         List<StockLine> lines) {
    /**
     * The body as text. A created reservation's bytes go to the client as the reply brought them
     * ({@code bytes}): decoding and encoding them again showed in every reservation's profile.
     */
    public String body() {
      return bytes == null ? null : bytes.toString();
    }
  }

  private final RedisStore redis;
  private final String ledgerMax;
  private final GroupCommit<NewReservation, Creation> group;

  /**
   * inFlight: the instance's queue of creations and its limit on create_batch calls under way at once,
   * shared by the event loops (ALLOT_GROUP_COMMIT_IN_FLIGHT; docs/benchmarks.md has the figures behind
   * the default).
   */
  public Creations(RedisStore redis, int ledgerMaxEntries, InFlight inFlight) {
    this.redis = redis;
    this.ledgerMax = Integer.toString(ledgerMaxEntries);
    this.group = new GroupCommit<>(BATCH_CAP, inFlight, r -> r.lines().size(), this::send);
  }

  public Future<Creation> create(NewReservation r) {
    return group.submit(r);
  }

  /** A channel as a call passes it, once however many of the call's reservations name it. */
  private record ChannelArgs(String id, long buffer, boolean backorder, List<String> locations) {
    /** The id and the number of locations: a record's own hash walks the list, for every call's first reservation. */
    @Override
    public int hashCode() {
      return id.hashCode() * 31 + locations.size();
    }
  }

  /**
   * What reservations of a call may share, passed once however many of them have it (a flash sale's
   * call: one): the channel's index, the customer, the record's lines, the template after the head
   * (cut as {@link #cutTemplate} cuts it) and the stock lines.
   */
  private record Shape(String channel, String customer, String lines, String rest, String tail,
                       List<StockLine> stock) {
  }

  /** One create_batch call for these reservations, in this order (package-private for the tests). */
  Future<List<Creation>> send(List<NewReservation> batch) {
    Map<String, Integer> skus = new LinkedHashMap<>();
    Map<ChannelArgs, Integer> channels = new LinkedHashMap<>();
    String[] channelOf = new String[batch.size()];
    Map<Shape, Integer> shapes = new LinkedHashMap<>();
    String[] shapeOf = new String[batch.size()];
    String[] headOf = new String[batch.size()];
    long now = 0;
    int headEndBefore = -1;
    for (int j = 0; j < batch.size(); j++) {
      NewReservation r = batch.get(j);
      for (StockLine l : r.lines()) {
        skus.putIfAbsent(l.sku(), skus.size() + 1);
      }
      // Keyed by everything the script reads of it: two reservations of a channel whose settings changed
      // between them (a catalogue refresh) each keep what they were decided with. A hot batch is mostly
      // one channel's: the same settings as the reservation before (the catalogue's very strings and
      // list) take its index without a lookup.
      NewReservation before = j > 0 ? batch.get(j - 1) : null;
      if (before != null && before.channel() == r.channel() && before.locations() == r.locations()
          && before.buffer() == r.buffer() && before.backorder() == r.backorder()) {
        channelOf[j] = channelOf[j - 1];
      } else {
        channelOf[j] = Integer.toString(channels.computeIfAbsent(
            new ChannelArgs(r.channel(), r.buffer(), r.backorder(), r.locations()), c -> channels.size() + 1));
      }
      now = Math.max(now, r.now());
      String template = r.bodyTemplate();
      int h = template.indexOf(HEAD_END);
      int g = headEndBefore;
      headEndBefore = h;
      if (before != null && h >= 0 && g >= 0 && channelOf[j].equals(channelOf[j - 1])
          && sameShape(before, g, r, h)) {
        // A flash sale's batch: the same cart as the reservation before, its template differing only
        // in the head. Its shape is that one's, without cutting, encoding and hashing it again (they
        // showed in every reservation's allocation profile, docs/benchmarks.md, fifteenth pass).
        headOf[j] = template.substring(0, h);
        shapeOf[j] = shapeOf[j - 1];
        continue;
      }
      String[] cut = cutTemplate(template);
      headOf[j] = cut[0];
      shapeOf[j] = Integer.toString(shapes.computeIfAbsent(new Shape(channelOf[j],
          r.customer() == null ? "" : r.customer(), RecordStore.encodeLines(r.lines()), cut[1], cut[2], r.lines()),
          x -> shapes.size() + 1));
    }
    List<String> keys = new ArrayList<>(5 * skus.size() + batch.size() + 3);
    List<String> args = new ArrayList<>(8 + skus.size() + 8 * channels.size() + 10 * shapes.size() + 5 * batch.size());
    String first = skus.keySet().iterator().next();
    args.add(Long.toString(now));
    args.add(ledgerMax);
    args.add(Keys.events(first));
    args.add(Integer.toString(skus.size()));
    args.add(Integer.toString(batch.size()));
    args.add(Long.toString(batch.get(0).refusedRetentionSeconds()));
    args.add(Integer.toString(channels.size()));
    args.add(Integer.toString(shapes.size()));
    for (String sku : skus.keySet()) {
      keys.addAll(Keys.skuKeys(sku));
      args.add(Keys.events(sku));
    }
    channels.keySet().forEach(c -> {
      args.add(c.id());
      args.add(Long.toString(c.buffer()));
      args.add(c.backorder() ? "1" : "0");
      args.add(Integer.toString(c.locations().size()));
      args.addAll(c.locations());
    });
    shapes.keySet().forEach(x -> {
      args.add(x.channel());
      args.add(x.customer());
      args.add(x.lines());
      args.add(x.rest());
      args.add(x.tail());
      args.add(Integer.toString(x.stock().size()));
      for (StockLine l : x.stock()) {
        args.add(Integer.toString(skus.get(l.sku())));
        args.add(Long.toString(l.qty()));
      }
    });
    for (int j = 0; j < batch.size(); j++) {
      NewReservation r = batch.get(j);
      keys.add(Keys.reservation(r.id()));
      args.add(r.id());
      args.add(r.fingerprint());
      args.add(Long.toString(r.deadline()));
      args.add(headOf[j]);
      args.add(shapeOf[j]);
    }
    // Every due entry of the call in one index (one ZADD), and the call's counters in one bucket's
    // (they are only ever read summed over the buckets).
    keys.add(Keys.DUE_ALL);
    keys.add(Keys.stats(Keys.bucket(batch.get(0).id())));
    // Only in front of a standalone Redis: every event of the call goes to the feed itself.
    keys.add(Keys.FEED);
    return redis.eval(Script.CREATE_BATCH, keys, args).map(reply -> {
      List<Creation> out = new ArrayList<>(reply.size());
      for (Response r : reply) {
        out.add(creation(r));
      }
      return out;
    });
  }

  private static Creation creation(Response r) {
    if (r.type() == ResponseType.BULK) {
      // Created and held: the body alone (the common answer, not wrapped in an array).
      return new Creation(Result.CREATED, "held", 201, r.toBuffer(), List.of(), List.of());
    }
    return switch (r.get(0).toInteger()) {
      case 2 -> new Creation(Result.SAME_REQUEST, r.get(1).toString(), r.get(2).toInteger(), r.get(3).toBuffer(),
          refusal(r.get(4).toString()), RecordStore.decodeLines(r.get(5).toString()));
      case 3 -> new Creation(Result.OTHER_REQUEST, null, 0, null, List.of(), List.of());
      default -> new Creation(Result.REFUSED, "rejected", 409, null, refusal(r.get(1).toString()), List.of());
    };
  }

  /** "code:value,..." per stock line (lua/create_batch.lua). */
  static List<LineDecision> refusal(String s) {
    if (s == null || s.isEmpty()) {
      return List.of();
    }
    String[] parts = s.split(",");
    List<LineDecision> out = new ArrayList<>(parts.length);
    for (String p : parts) {
      int colon = p.indexOf(':');
      HoldStatus status = switch (p.substring(0, colon)) {
        case "0" -> HoldStatus.INSUFFICIENT;
        case "3" -> HoldStatus.CUSTOMER_LIMIT;
        default -> HoldStatus.HELD;
      };
      out.add(new LineDecision(status, Long.parseLong(p.substring(colon + 1))));
    }
    return List.copyOf(out);
  }

  /**
   * Whether r has the shape of the reservation before it in a call (its channel index aside): the same
   * customer and stock lines, and the same template after its head, whose end is at g in before's
   * template and at h in r's.
   */
  private static boolean sameShape(NewReservation before, int g, NewReservation r, int h) {
    String a = before.bodyTemplate();
    String b = r.bodyTemplate();
    int rest = b.length() - h;
    return a.length() - g == rest && Objects.equals(before.customer(), r.customer())
        && before.lines().equals(r.lines()) && b.regionMatches(h, a, g, rest);
  }

  /** Where the first stock line's allocations go in a body template. */
  private static final String FIRST_PLACE = "\u00010\u0001";

  /**
   * A body template as create_batch's header says: its head ('' when the template marks none), then
   * the rest cut at its one place when that place is the first stock line's (the common cart: the
   * script then joins four strings and searches nothing), with the text after that place, else the rest
   * whole with an empty tail. Answers {head, rest, tail}.
   */
  static String[] cutTemplate(String template) {
    String head = "";
    int h = template.indexOf(HEAD_END);
    if (h >= 0) {
      head = template.substring(0, h);
      template = template.substring(h + 1);
    }
    int at = template.indexOf('\u0001');
    int end = at + FIRST_PLACE.length();
    if (at >= 0 && template.startsWith(FIRST_PLACE, at) && end < template.length()
        && template.indexOf('\u0001', end) < 0) {
      return new String[] {head, template.substring(0, at), template.substring(end)};
    }
    return new String[] {head, template, ""};
  }
}
