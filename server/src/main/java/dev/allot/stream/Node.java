package dev.allot.stream;

import dev.allot.config.Settings;
import dev.allot.store.RedisStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * One subscriber connection to one Redis node, owned by the {@link Subscriber}: the one Redis, or
 * in cluster mode a master owning watched SKUs. A Redis 7+ node (or Valkey) gets SSUBSCRIBE: the
 * scripts SPUBLISH there, keeping each event on its SKU's shard. An older one gets classic
 * SUBSCRIBE (the scripts PUBLISH, which a cluster forwards to every node).
 *
 * <p>Used on the hub's event loop only, as the subscriber is.
 */
final class Node {
  final String url;
  private Redis client;
  RedisConnection conn;     // null until connected
  boolean sharded;
  /** The SKUs placed on this node. */
  final Set<Subscriber.Placed> skus = new LinkedHashSet<>();
  /** Subscriptions sent and not yet confirmed by Redis, by channel. */
  private final Map<String, Promise<Void>> confirming = new HashMap<>();
  /** Our own SUNSUBSCRIBEs not yet confirmed, so their confirmation is not taken for a slot move. */
  private final Set<String> unsubscribing = new HashSet<>();
  /** When Redis last sent anything on this connection (a push, a confirmation, a heartbeat). */
  long lastHeard;

  private final Settings.Tls tls;

  Node(String url, Settings.Tls tls) {
    this.url = url;
    this.tls = tls;
  }

  static RedisOptions options(String url, Settings.Tls tls) {
    RedisOptions o = new RedisOptions().setConnectionString(url);
    o.getNetClientOptions().setConnectTimeout(2000).setTcpNoDelay(true);
    RedisStore.secure(o.getNetClientOptions(), tls);
    return o;
  }

  /** Connects, and learns which pub/sub the node's scripts use: sharded on Redis 7+ (the Lua scripts decide the same way). */
  Future<RedisConnection> connect(Vertx vertx) {
    client = Redis.createClient(vertx, options(url, tls));
    return client.connect()
        .compose(c -> c.send(Request.cmd(Command.INFO).arg("server")).map(info -> {
          sharded = majorVersion(info == null ? "" : info.toString()) >= 7;
          return c;
        }).onFailure(err -> c.close()));
  }

  static int majorVersion(String info) {
    int at = info.indexOf("redis_version:");
    if (at < 0) {
      return 0;
    }
    int from = at + "redis_version:".length();
    int dot = info.indexOf('.', from);
    try {
      return Integer.parseInt(info.substring(from, dot < 0 ? info.length() : dot).trim());
    } catch (RuntimeException e) {
      return 0;
    }
  }

  Future<Void> close() {
    return client == null ? Future.succeededFuture() : client.close();
  }

  /** The connection failed: closed, and every subscription still waiting for its confirmation fails. */
  void lost() {
    conn = null;
    close();
    List.copyOf(confirming.values()).forEach(p -> p.tryFail("the subscriber connection was lost"));
    confirming.clear();
  }

  /**
   * Subscribes to the channels. Completes once Redis has confirmed each one, not when the command
   * is written (as a (S)SUBSCRIBE's own future does); fails after {@code timeoutMillis} without.
   */
  Future<Void> subscribe(List<String> channels, long timeoutMillis) {
    List<Future<Void>> confirmed = new ArrayList<>();
    for (String ch : channels) {
      Promise<Void> p = Promise.promise();
      Promise<Void> earlier = confirming.put(ch, p);
      if (earlier != null) {
        p.future().onComplete(earlier);
      }
      confirmed.add(p.future());
    }
    List<Future<Response>> sent = new ArrayList<>();
    if (sharded) {
      // One SSUBSCRIBE per channel: a sharded subscribe may not span slots.
      for (String ch : channels) {
        sent.add(conn.send(Request.cmd(Command.SSUBSCRIBE).arg(ch)));
      }
    } else {
      Request sub = Request.cmd(Command.SUBSCRIBE);
      channels.forEach(sub::arg);
      sent.add(conn.send(sub));
    }
    return Future.all(sent)
        .compose(r -> Future.all(confirmed).timeout(timeoutMillis, TimeUnit.MILLISECONDS))
        .mapEmpty();
  }

  /** Redis confirmed a (S)SUBSCRIBE of the channel. */
  void confirmed(String channel) {
    Promise<Void> p = channel == null ? null : confirming.remove(channel);
    if (p != null) {
      p.tryComplete();
    }
  }

  /** A (S)SUBSCRIBE of the channel was refused: it fails now instead of waiting for the timeout. */
  void refused(String channel, String error) {
    Promise<Void> p = confirming.remove(channel);
    if (p != null) {
      p.tryFail(error);
    }
  }

  void unsubscribe(List<String> channels) {
    if (conn == null) {
      return; // a lost connection unsubscribes everything anyway
    }
    if (sharded) {
      for (String ch : channels) {
        unsubscribing.add(ch);
        conn.send(Request.cmd(Command.SUNSUBSCRIBE).arg(ch)).onFailure(err -> { });
      }
    } else {
      Request unsub = Request.cmd(Command.UNSUBSCRIBE);
      channels.forEach(unsub::arg);
      conn.send(unsub).onFailure(err -> { });
    }
  }

  /** Whether a SUNSUBSCRIBE confirmation is of our own; it is then no longer waited for. */
  boolean ownUnsubscribe(String channel) {
    return unsubscribing.remove(channel);
  }

  /** Our SUNSUBSCRIBEs of these channels were refused (they get no confirmation): stop waiting for them. */
  void forgetUnsubscribes(Predicate<String> channels) {
    unsubscribing.removeIf(channels);
  }
}
