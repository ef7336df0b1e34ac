package dev.allot.store;

import dev.allot.store.EventLog.Entry;
import dev.allot.store.EventLog.StreamId;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The outboxes of a Redis Cluster (docs/outbound.md): there a script appends its events to the stream
 * of its own hash tag ({@link Keys#outbox}), and this moves them into the feed. Shared by every Redis
 * client of one server process.
 * <ul>
 *   <li>Before a script first writes an outbox, the outbox is added to {@link Keys#OUTBOXES} (once per
 *   process): an instance that dies right after a script leaves no outbox that nobody knows of.</li>
 *   <li>After a script, its outbox is noted as touched; the relay moves touched outboxes soon
 *   ({@link #relayTouched}), and every known outbox now and then ({@link #relayAll}), which covers
 *   what another instance wrote before it died.</li>
 *   <li>The move itself is lua/relay.lua: exactly once into the feed, in the outbox's order, however
 *   many instances relay the same outbox at once.</li>
 * </ul>
 */
public final class Outboxes {
  /** Entries moved per relay call. */
  static final int RELAY_BATCH = 100;

  private final Set<String> registered = ConcurrentHashMap.newKeySet();
  private final Set<String> touched = ConcurrentHashMap.newKeySet();

  /**
   * Makes sure the outbox is in the relay's list before anything is written to it. The record
   * buckets' outboxes are always relayed ({@link #relayAll}) and need no entry: a record's write
   * then never waits on the node of {@link Keys#OUTBOXES} (a frozen one would stall every create).
   */
  Future<Void> register(RedisStore redis, String outbox) {
    if (registered.contains(outbox) || Keys.isRecordOutbox(outbox)) {
      return Future.succeededFuture();
    }
    return redis.send(Command.SADD, Keys.OUTBOXES, outbox).map(r -> {
      registered.add(outbox);
      return null;
    });
  }

  void touched(String outbox) {
    touched.add(outbox);
  }

  /** Relays every outbox this process wrote to since the last call. */
  public Future<Void> relayTouched(RedisStore redis) {
    if (touched.isEmpty()) {
      return Future.succeededFuture();
    }
    List<String> now = new ArrayList<>(touched);
    now.forEach(touched::remove);
    return relayEach(redis, now).recover(err -> {
      // Tried again on the next pass: nothing is lost, the entries stay in their outboxes.
      touched.addAll(now);
      return Future.failedFuture(err);
    });
  }

  /** Relays every outbox any instance ever wrote to: the record buckets' and every registered SKU's. */
  public Future<Void> relayAll(RedisStore redis) {
    return redis.send(Command.SMEMBERS, Keys.OUTBOXES).compose(r -> {
      List<String> all = new ArrayList<>();
      for (int b = 0; b < Keys.BUCKETS; b++) {
        all.add(Keys.outbox("r" + b, true));
      }
      if (r != null) {
        r.forEach(m -> {
          if (!all.contains(m.toString())) {
            all.add(m.toString());
          }
        });
      }
      return relayEach(redis, all);
    });
  }

  private Future<Void> relayEach(RedisStore redis, List<String> outboxes) {
    List<Future<Void>> moves = new ArrayList<>(outboxes.size());
    for (String o : outboxes) {
      moves.add(relay(redis, o));
    }
    return Future.join(moves).mapEmpty();
  }

  /** Moves one outbox into the feed, a batch at a time, until it is empty. */
  public Future<Void> relay(RedisStore redis, String outbox) {
    return redis.send(Command.XRANGE, outbox, "-", "+", "COUNT", RELAY_BATCH).compose(r -> {
      List<Entry> entries = EventLog.entries(r);
      if (entries.isEmpty()) {
        return Future.succeededFuture();
      }
      List<String> args = new ArrayList<>(2 + entries.size() * 16);
      args.add(outbox);
      args.add(Integer.toString(entries.size()));
      for (Entry e : entries) {
        args.add(e.id());
        args.add(Integer.toString(e.fields().size() * 2));
        e.fields().forEach((k, v) -> {
          args.add(k);
          args.add(v);
        });
      }
      return redis.eval(Script.RELAY, List.of(Keys.FEED, Keys.FEED_META), args).compose(lastResp -> {
        StreamId last = StreamId.parse(lastResp.toString());
        Request del = Request.cmd(Command.XDEL).arg(outbox);
        int n = 0;
        for (Entry e : entries) {
          if (StreamId.parse(e.id()).compareTo(last) <= 0) {
            del.arg(e.id());
            n++;
          }
        }
        Future<?> deleted = n == 0 ? Future.succeededFuture() : redis.send(del);
        return deleted.compose(v -> entries.size() == RELAY_BATCH ? relay(redis, outbox) : Future.succeededFuture());
      });
    });
  }
}
