package dev.allot.store;

import java.util.List;

/**
 * The only place that knows Redis key names (documented in lua/README.md). On a cluster every key
 * a script touches shares one hash tag: the SKU's for stock, the bucket's for reservation records,
 * so each script runs on one Redis Cluster slot. A standalone Redis, where slots do not matter,
 * has one due index for every reservation ({@link #DUE_ALL}), and its batch scripts touch many.
 */
public final class Keys {
  /** Reservation records and their counters are spread over this many buckets (slots), and on a cluster their due index too. */
  public static final int BUCKETS = 16;

  private Keys() {
  }

  /** The five keys of a SKU that every stock script takes, in their order (lua/include/stock_prelude.lua). */
  public static List<String> skuKeys(String sku) {
    return List.of(stock(sku), holds(sku), expiry(sku), ledger(sku), customers(sku));
  }

  /**
   * A reservation's three keys, as reservation.lua takes them (decide_at_once per reservation): its
   * record, its due index ({@link #due(String, boolean)}) and its bucket's counters. reservation.lua
   * also takes its outbox.
   */
  public static List<String> recordKeys(String reservationId, boolean cluster) {
    int bucket = bucket(reservationId);
    return List.of(RECORD_PREFIX[bucket] + reservationId, cluster ? DUE[bucket] : DUE_ALL, STATS[bucket]);
  }

  public static String stock(String sku) {
    return "allot:{" + sku + "}:stock";
  }

  public static String holds(String sku) {
    return "allot:{" + sku + "}:holds";
  }

  public static String expiry(String sku) {
    return "allot:{" + sku + "}:expiry";
  }

  public static String ledger(String sku) {
    return "allot:{" + sku + "}:ledger";
  }

  public static String customers(String sku) {
    return "allot:{" + sku + "}:customers";
  }

  /**
   * The SKU's event channel: every script that changes the SKU publishes its new availability
   * here (the name is passed to the scripts; they never build it), and the stream subscribes to it.
   * Same hash tag as the SKU's keys, so a sharded publish stays on the SKU's shard.
   */
  public static String events(String sku) {
    return EVENTS_PREFIX + sku + EVENTS_SUFFIX;
  }

  /** The SKU of an event channel named by {@link #events}, or null for any other channel. */
  public static String skuOfEvents(String channel) {
    if (channel == null || !channel.startsWith(EVENTS_PREFIX) || !channel.endsWith(EVENTS_SUFFIX)
        || channel.length() <= EVENTS_PREFIX.length() + EVENTS_SUFFIX.length()) {
      return null;
    }
    return channel.substring(EVENTS_PREFIX.length(), channel.length() - EVENTS_SUFFIX.length());
  }

  private static final String EVENTS_PREFIX = "allot:{";
  private static final String EVENTS_SUFFIX = "}:ev";

  public static String moves(String sku) {
    return "allot:{" + sku + "}:moves";
  }

  public static String moveTimes(String sku) {
    return "allot:{" + sku + "}:movetimes";
  }

  public static int bucket(String reservationId) {
    // String.hashCode is fixed by the Java spec, so every instance picks the same bucket.
    return Math.floorMod(reservationId.hashCode(), BUCKETS);
  }

  public static String reservation(String reservationId) {
    return RECORD_PREFIX[bucket(reservationId)] + reservationId;
  }

  /**
   * The due index of a standalone Redis: every reservation's due entry, so that a call of many
   * reservations adds theirs with one ZADD (a cluster spreads them over its buckets' indexes).
   */
  public static final String DUE_ALL = "allot:due";

  /** A bucket's due index: a cluster's (on a standalone Redis only versions before DUE_ALL wrote them). */
  public static String due(int bucket) {
    return DUE[bucket];
  }

  /** The due index of a reservation: its bucket's on a cluster, DUE_ALL on a standalone Redis. */
  public static String due(String reservationId, boolean cluster) {
    return cluster ? DUE[bucket(reservationId)] : DUE_ALL;
  }

  /**
   * The due index the sweeper's lane {@code lane} (0 .. BUCKETS-1) claims from: the bucket's on a
   * cluster; on a standalone Redis every lane claims from DUE_ALL (each claim takes its own entries).
   */
  public static String dueLane(int lane, boolean cluster) {
    return cluster ? DUE[lane] : DUE_ALL;
  }

  /** The buckets' due indexes, which due_adopt empties into DUE_ALL on a standalone Redis. */
  public static List<String> bucketDues() {
    return List.of(DUE);
  }

  /** Reservation counters of one bucket (created, held now, committed, expired). */
  public static String stats(int bucket) {
    return STATS[bucket];
  }

  // Each bucket's key names, made once: every reservation needs three of them.
  private static final String[] RECORD_PREFIX = perBucket(":res:");
  private static final String[] DUE = perBucket(":due");
  private static final String[] STATS = perBucket(":stats");

  /** allot:{rN}&lt;suffix&gt; for each bucket N (plain concatenation: never a locale's digits). */
  private static String[] perBucket(String suffix) {
    String[] out = new String[BUCKETS];
    for (int b = 0; b < BUCKETS; b++) {
      out[b] = "allot:{r" + b + "}" + suffix;
    }
    return out;
  }

  /** Claim of a movement id across SKUs: the same id may never be applied to two different movements. */
  public static String movementClaim(String movementId) {
    return "allot:movement:" + movementId;
  }

  /**
   * The feed: every event, in the order Redis made them (docs/outbound.md). On a standalone Redis every
   * script appends to it directly; on a cluster each script appends to the outbox of its own hash tag
   * ({@link #outbox}) and the relay moves those entries here, once each.
   */
  public static final String FEED = "allot:{events}:feed";
  /** Beside the feed: "trimmed" (the id before which the feed was trimmed), and per outbox the last entry relayed. */
  public static final String FEED_META = "allot:{events}:meta";
  /** The SKUs whose outbox has been written (cluster): the relay's list besides the record buckets. */
  public static final String OUTBOXES = "allot:{events}:outboxes";

  /**
   * The stream a script appends its events to, passed as its last KEY: the feed on a standalone Redis;
   * on a cluster the outbox of the script's hash tag (the SKU, or "r" + bucket for a record).
   */
  public static String outbox(String tag, boolean cluster) {
    return cluster ? "allot:{" + tag + "}:out" : FEED;
  }

  public static String recordOutbox(String reservationId, boolean cluster) {
    return outbox("r" + bucket(reservationId), cluster);
  }

  private static final java.util.Set<String> RECORD_OUTBOXES = java.util.stream.IntStream.range(0, BUCKETS)
      .mapToObj(b -> outbox("r" + b, true)).collect(java.util.stream.Collectors.toUnmodifiableSet());

  /** True for a record bucket's outbox on a cluster ({r0}..{r15}: a SKU code is upper case, never "r1"). */
  public static boolean isRecordOutbox(String key) {
    return RECORD_OUTBOXES.contains(key);
  }

  /** Counts whose drift was not zero, newest first (bounded), for GET /v1/drift. */
  public static final String DRIFT = "allot:drift";
  public static final String LOCATIONS = "allot:config:locations";
  public static final String CHANNELS = "allot:config:channels";
  /** "channel|CODE" -> canonical SKU. */
  public static final String ALIASES = "allot:config:aliases";
  /** bundle SKU -> JSON list of its components. */
  public static final String BUNDLES = "allot:config:bundles";
}
