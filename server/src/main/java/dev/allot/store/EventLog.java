package dev.allot.store;

import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Response;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The feed as Redis keeps it: a stream ({@link Keys#FEED}) of the entries the scripts appended, oldest
 * first, each with the fields its script wrote ("t" its kind: stock, res, move; docs/outbound.md).
 * Nothing here knows what an event document looks like: that is {@code outbound.Feed}.
 */
public final class EventLog {
  /** One stream entry: its id ("ms-seq", as Redis made it) and its fields in the order written. */
  public record Entry(String id, Map<String, String> fields) {
    public String get(String field) {
      return fields.getOrDefault(field, "");
    }

    /** When the entry was appended (the ms part of its id). */
    public long millis() {
      return StreamId.parse(id).millis();
    }
  }

  /** A stream entry id, ordered as Redis orders them. */
  public record StreamId(long millis, long seq) implements Comparable<StreamId> {
    public static final StreamId ZERO = new StreamId(0, 0);

    /** "ms-seq" (or "ms"); throws IllegalArgumentException for anything else. */
    public static StreamId parse(String s) {
      int dash = s.indexOf('-');
      try {
        long ms = Long.parseLong(dash < 0 ? s : s.substring(0, dash));
        long seq = dash < 0 ? 0 : Long.parseLong(s.substring(dash + 1));
        if (ms < 0 || seq < 0) {
          throw new IllegalArgumentException("not a stream id: " + s);
        }
        return new StreamId(ms, seq);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not a stream id: " + s, e);
      }
    }

    @Override
    public int compareTo(StreamId o) {
      int c = Long.compare(millis, o.millis);
      return c != 0 ? c : Long.compare(seq, o.seq);
    }

    @Override
    public String toString() {
      return millis + "-" + seq;
    }
  }

  private final RedisStore redis;

  public EventLog(RedisStore redis) {
    this.redis = redis;
  }

  /** Up to {@code count} entries from {@code from} (inclusive; null: the oldest kept), oldest first. */
  public Future<List<Entry>> range(StreamId from, int count) {
    return redis.send(Command.XRANGE, Keys.FEED, from == null ? "-" : from.toString(), "+", "COUNT", count)
        .map(EventLog::entries);
  }

  static List<Entry> entries(Response r) {
    if (r == null) {
      return List.of();
    }
    List<Entry> out = new ArrayList<>(r.size());
    for (Response e : r) {
      Response f = e.get(1);
      Map<String, String> fields = new LinkedHashMap<>();
      for (int i = 0; f != null && i + 1 < f.size(); i += 2) {
        fields.put(f.get(i).toString(), f.get(i + 1).toString());
      }
      out.add(new Entry(e.get(0).toString(), fields));
    }
    return out;
  }

  /** The newest entry's id, or null when the feed is empty. */
  public Future<StreamId> newest() {
    return redis.send(Command.XREVRANGE, Keys.FEED, "+", "-", "COUNT", 1).map(r -> {
      List<Entry> e = entries(r);
      return e.isEmpty() ? null : StreamId.parse(e.get(0).id());
    });
  }

  /** Entries before this id were trimmed away ({@link StreamId#ZERO}: never trimmed). */
  public Future<StreamId> trimmedBefore() {
    return redis.send(Command.HGET, Keys.FEED_META, "trimmed")
        .map(r -> r == null ? StreamId.ZERO : StreamId.parse(r.toString()));
  }

  /**
   * Drops the entries appended before {@code beforeMillis}. The trim point is recorded first, so a
   * reader never takes a trimmed gap for the feed's start: a cursor before it is refused as expired.
   * Answers how many entries went.
   */
  public Future<Long> trimBefore(long beforeMillis) {
    String id = beforeMillis + "-0";
    return trimmedBefore()
        .compose(t -> t.compareTo(new StreamId(beforeMillis, 0)) >= 0 ? Future.succeededFuture()
            : redis.send(Command.HSET, Keys.FEED_META, "trimmed", id))
        .compose(v -> redis.send(Command.XTRIM, Keys.FEED, "MINID", id))
        .map(r -> r == null ? 0L : r.toLong());
  }
}
