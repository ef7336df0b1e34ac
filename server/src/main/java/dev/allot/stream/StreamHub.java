package dev.allot.stream;

import dev.allot.Settings;
import dev.allot.stock.Bundle;
import dev.allot.stock.Catalog;
import dev.allot.stock.Channel;
import dev.allot.store.Keys;
import dev.allot.store.Store;
import dev.allot.store.Store.StockView;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One per server instance: the only subscriber to Redis for the stream. It subscribes to the
 * pub/sub channel of each SKU that at least one local socket watches (and only those), keeps
 * that SKU's latest version and per-location availability, and fans each change out to the
 * watchers of each channel: the message is encoded once per (SKU, channel) and coalesced to at
 * most one per {@code ALLOT_STREAM_COALESCE_MILLIS}, always ending on the latest value.
 *
 * <p>All state is touched on this verticle's event loop only; sockets call in through
 * {@link #subscribe}/{@link #unsubscribe}/{@link #remove}, which hop onto it.
 */
public final class StreamHub extends VerticleBase {
  private static final System.Logger LOG = System.getLogger(StreamHub.class.getName());
  private static final String PREFIX = "allot:{";
  private static final String SUFFIX = "}:ev";

  private final Settings settings;
  private final Store store;
  private final Catalog catalog;
  private final Map<String, SkuWatch> watches = new HashMap<>();
  private final AtomicInteger sockets = new AtomicInteger();
  private final Counter messages;
  private final Counter events;
  private Redis subscriberClient;
  private RedisConnection conn;
  private boolean stopped;
  private long backoff = 100;
  private long lastErrorLog;

  /** A SKU watched by at least one local socket. */
  private static final class SkuWatch {
    final String sku;
    boolean ready;
    long version = -1;
    Map<String, Long> available = Map.of();
    long pendingVersion = -1;             // an event that arrived while the snapshot was being read
    Map<String, Long> pendingAvailable;
    final Map<String, ChannelWatch> channels = new HashMap<>();
    /** For a bundle: its definition and its components' watches (a bundle has no stock and no events of its own). */
    Bundle bundle;
    final List<SkuWatch> components = new ArrayList<>();
    /** For a stock SKU: the bundles being watched that it is a component of. */
    final Set<SkuWatch> dependents = new LinkedHashSet<>();

    SkuWatch(String sku) {
      this.sku = sku;
    }

    boolean idle() {
      return channels.isEmpty() && dependents.isEmpty();
    }
  }

  /** The watchers of one SKU on one channel, grouped by the event loop they live on, and their coalescing state. */
  private static final class ChannelWatch {
    final String channel;
    final Map<Context, Set<StreamSocket>> byContext = new HashMap<>();
    /** An immutable copy of byContext for the event loops to iterate; rebuilt only when watchers come or go. */
    Map<Context, StreamSocket[]> frozen;
    int size;
    long lastSentAt;
    long lastSentVersion = -1;
    long timer = -1;

    ChannelWatch(String channel) {
      this.channel = channel;
    }

    boolean add(StreamSocket s) {
      boolean added = byContext.computeIfAbsent(s.context, c -> new LinkedHashSet<>()).add(s);
      if (added) {
        size++;
        frozen = null;
      }
      return added;
    }

    boolean remove(StreamSocket s) {
      Set<StreamSocket> set = byContext.get(s.context);
      if (set == null || !set.remove(s)) {
        return false;
      }
      if (set.isEmpty()) {
        byContext.remove(s.context);
      }
      size--;
      frozen = null;
      return true;
    }

    Map<Context, StreamSocket[]> frozen() {
      if (frozen == null) {
        Map<Context, StreamSocket[]> m = new HashMap<>();
        byContext.forEach((c, set) -> m.put(c, set.toArray(new StreamSocket[0])));
        frozen = m;
      }
      return frozen;
    }
  }

  public StreamHub(Settings settings, Store store, Catalog catalog, MeterRegistry registry) {
    this.settings = settings;
    this.store = store;
    this.catalog = catalog;
    this.messages = Counter.builder("allot_stream_messages").description("availability messages sent to sockets")
        .register(registry);
    this.events = Counter.builder("allot_stream_events").description("SKU change events received from Redis")
        .register(registry);
    Gauge.builder("allot_stream_connections", sockets, AtomicInteger::get)
        .description("open stream sockets on this instance").register(registry);
    Gauge.builder("allot_stream_watched_skus", watches, Map::size)
        .description("SKUs this instance is subscribed to").register(registry);
  }

  @Override
  public Future<?> start() {
    subscriberClient = subscriberFor(0);
    connect();
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    stopped = true;
    return subscriberClient.close();
  }

  // ---- the socket side ----------------------------------------------------------------------

  void socketOpened() {
    sockets.incrementAndGet();
  }

  void socketClosed() {
    sockets.decrementAndGet();
  }

  /** Adds a socket's subscriptions; the socket gets each SKU's current value first, then changes. */
  void subscribe(StreamSocket socket, String channel, List<String> skus) {
    context.runOnContext(v -> {
      List<SkuWatch> fresh = new ArrayList<>();
      for (String sku : skus) {
        SkuWatch w = watches.get(sku);
        if (w == null) {
          w = new SkuWatch(sku);
          watches.put(sku, w);
          Bundle b = catalog.bundle(sku);
          if (b == null) {
            fresh.add(w);
          } else {
            // A bundle is watched through its components: each change of one recomputes it.
            w.bundle = b;
            for (Bundle.Component c : b.components()) {
              SkuWatch cwatch = watches.get(c.sku());
              if (cwatch == null) {
                cwatch = new SkuWatch(c.sku());
                watches.put(c.sku(), cwatch);
                fresh.add(cwatch);
              }
              cwatch.dependents.add(w);
              w.components.add(cwatch);
            }
            refreshBundle(w);
          }
        }
        ChannelWatch cw = w.channels.computeIfAbsent(channel, ChannelWatch::new);
        if (cw.add(socket) && w.ready && cw.timer < 0) {
          // Its first message is the current value. (With a send already due, that send is its first.)
          deliver(List.of(socket), message(channel, w.sku, available(w, catalog.cachedChannel(channel)), w.version));
          cw.lastSentVersion = Math.max(cw.lastSentVersion, w.version);
        }
      }
      if (!fresh.isEmpty()) {
        watch(fresh);
      }
    });
  }

  void unsubscribe(StreamSocket socket, String channel, List<String> skus) {
    context.runOnContext(v -> {
      List<String> gone = new ArrayList<>();
      for (String sku : skus) {
        SkuWatch w = watches.get(sku);
        if (w == null) {
          continue;
        }
        ChannelWatch cw = w.channels.get(channel);
        if (cw != null && cw.remove(socket) && cw.size == 0) {
          if (cw.timer >= 0) {
            vertx.cancelTimer(cw.timer);
          }
          w.channels.remove(channel);
        }
        if (w.idle()) {
          watches.remove(sku);
          if (w.bundle == null) {
            gone.add(channelOf(sku));
          } else {
            for (SkuWatch c : w.components) {
              c.dependents.remove(w);
              if (c.idle() && watches.get(c.sku) == c) {
                watches.remove(c.sku);
                gone.add(channelOf(c.sku));
              }
            }
          }
        }
      }
      if (!gone.isEmpty() && conn != null) {
        Request unsub = Request.cmd(Command.UNSUBSCRIBE);
        gone.forEach(unsub::arg);
        conn.send(unsub).onFailure(err -> { /* a lost connection unsubscribes everything anyway */ });
      }
    });
  }

  /** A closed socket leaves all its subscriptions. */
  void remove(StreamSocket socket, Map<String, List<String>> byChannel) {
    byChannel.forEach((channel, skus) -> unsubscribe(socket, channel, skus));
  }

  // ---- the Redis side -----------------------------------------------------------------------

  private static String channelOf(String sku) {
    return PREFIX + sku + SUFFIX;
  }

  /** Subscribes to the SKUs' channels, then reads their current counts (so no change falls in between). */
  private void watch(List<SkuWatch> fresh) {
    if (conn == null) {
      return; // (re)connecting: the resync after connect covers these
    }
    Request sub = Request.cmd(Command.SUBSCRIBE);
    fresh.forEach(w -> sub.arg(channelOf(w.sku)));
    conn.send(sub)
        .compose(r -> store.readStocks(fresh.stream().map(w -> w.sku).toList()))
        .onSuccess(views -> {
          for (int i = 0; i < fresh.size(); i++) {
            snapshot(fresh.get(i), views.get(i));
          }
        })
        .onFailure(err -> problem("could not start watching " + fresh.size() + " SKU(s)", err));
  }

  private void snapshot(SkuWatch w, StockView view) {
    if (watches.get(w.sku) != w) {
      return; // unwatched meanwhile
    }
    Map<String, Long> avail = new LinkedHashMap<>();
    view.locations().forEach((loc, c) -> avail.put(loc, c.available()));
    boolean first = !w.ready;
    w.ready = true;
    // A resync (not first) is just a newer value: coalesced like any change.
    apply(w, view.version(), avail, !first);
    if (w.pendingAvailable != null) {
      apply(w, w.pendingVersion, w.pendingAvailable, !first);
      w.pendingAvailable = null;
    }
    if (first) {
      // Everyone who subscribed while we were reading gets the value now, not coalesced.
      w.version = Math.max(0, w.version);
      for (ChannelWatch cw : w.channels.values()) {
        broadcast(w, cw, System.currentTimeMillis());
      }
      for (SkuWatch b : List.copyOf(w.dependents)) {
        refreshBundle(b);
      }
    }
  }

  /**
   * Recomputes a watched bundle from its components: ready once every component is; its version
   * is the sum of theirs, so it grows with every change of any of them.
   */
  private void refreshBundle(SkuWatch b) {
    long version = 0;
    for (SkuWatch c : b.components) {
      if (!c.ready) {
        return;
      }
      version += Math.max(0, c.version);
    }
    if (!b.ready) {
      b.ready = true;
      b.version = version;
      long now = System.currentTimeMillis();
      for (ChannelWatch cw : b.channels.values()) {
        broadcast(b, cw, now);
      }
    } else if (version > b.version) {
      b.version = version;
      for (ChannelWatch cw : b.channels.values()) {
        schedule(b, cw);
      }
    }
  }

  /**
   * The subscriber's Redis: the one Redis, or in cluster mode one of the nodes (classic pub/sub
   * reaches every node of a cluster). Each failed attempt moves on to the next node, so a dead
   * node does not silence the stream.
   */
  private Redis subscriberFor(int attempt) {
    String url = settings.clusterMode()
        ? settings.redisCluster().get(attempt % settings.redisCluster().size()) : settings.redisUrl();
    return Redis.createClient(vertx, new RedisOptions().setConnectionString(url));
  }

  private int attempts;

  private void connect() {
    if (stopped) {
      return;
    }
    subscriberClient.connect().onSuccess(c -> {
      conn = c;
      backoff = 100;
      c.handler(this::onPush);
      c.exceptionHandler(err -> lost(c, err));
      c.endHandler(v -> lost(c, null));
      if (!watches.isEmpty()) {
        LOG.log(System.Logger.Level.INFO, "stream: subscriber connection to Redis (re)established; resyncing {0} SKU(s)",
            watches.size());
        List<SkuWatch> all = watches.values().stream().filter(w -> w.bundle == null).toList();
        watch(all);
      }
    }).onFailure(err -> {
      problem("stream: cannot connect the subscriber to Redis; retrying in " + backoff + " ms", err);
      retry();
    });
  }

  private void lost(RedisConnection c, Throwable err) {
    if (conn != c) {
      return;
    }
    conn = null;
    if (!stopped) {
      problem("stream: subscriber connection to Redis lost; reconnecting", err);
      retry();
    }
  }

  private void retry() {
    if (!stopped) {
      if (settings.clusterMode()) {
        Redis previous = subscriberClient;
        subscriberClient = subscriberFor(++attempts);
        previous.close();
      }
      vertx.setTimer(backoff, t -> connect());
      backoff = Math.min(backoff * 2, 2000);
    }
  }

  private void onPush(Response r) {
    if (r == null || r.size() < 3 || !"message".equals(r.get(0).toString())) {
      return;
    }
    String ch = r.get(1).toString();
    if (!ch.startsWith(PREFIX) || !ch.endsWith(SUFFIX)) {
      return;
    }
    events.increment();
    SkuWatch w = watches.get(ch.substring(PREFIX.length(), ch.length() - SUFFIX.length()));
    if (w == null) {
      return;
    }
    String payload = r.get(2).toString();
    int bar = payload.indexOf('|');
    long version;
    Map<String, Long> avail = new LinkedHashMap<>();
    try {
      version = Long.parseLong(payload.substring(0, bar));
      if (bar + 1 < payload.length()) {
        for (String part : payload.substring(bar + 1).split(",")) {
          int eq = part.lastIndexOf('=');
          avail.put(part.substring(0, eq), Long.parseLong(part.substring(eq + 1)));
        }
      }
    } catch (RuntimeException e) {
      problem("stream: malformed event on " + ch + ": " + payload, e);
      return;
    }
    if (!w.ready) {
      if (version > w.pendingVersion) {
        w.pendingVersion = version;
        w.pendingAvailable = avail;
      }
      return;
    }
    apply(w, version, avail, true);
  }

  /** Takes a newer value and lets each channel's watchers know (coalesced). Versions only go up. */
  private void apply(SkuWatch w, long version, Map<String, Long> avail, boolean emit) {
    if (version <= w.version) {
      return;
    }
    w.version = version;
    w.available = avail;
    if (emit) {
      for (ChannelWatch cw : w.channels.values()) {
        schedule(w, cw);
      }
      for (SkuWatch b : w.dependents) {
        refreshBundle(b);
      }
    }
  }

  private void schedule(SkuWatch w, ChannelWatch cw) {
    if (cw.timer >= 0) {
      return; // a send is already due; it will carry the latest value
    }
    long now = System.currentTimeMillis();
    long wait = cw.lastSentAt + settings.streamCoalesceMillis() - now;
    if (wait <= 0) {
      broadcast(w, cw, now);
    } else {
      cw.timer = vertx.setTimer(wait, t -> {
        cw.timer = -1;
        if (watches.get(w.sku) == w && w.channels.get(cw.channel) == cw) {
          broadcast(w, cw, System.currentTimeMillis());
        }
      });
    }
  }

  /**
   * Sends the latest value to every watcher of (SKU, channel): encoded once, then one task per
   * event loop writes it to that loop's sockets. Versions only go up: nothing older or equal to
   * what these watchers were last sent goes out.
   */
  private void broadcast(SkuWatch w, ChannelWatch cw, long now) {
    if (w.version <= cw.lastSentVersion) {
      return;
    }
    String msg = message(cw.channel, w.sku, available(w, catalog.cachedChannel(cw.channel)), w.version);
    for (Map.Entry<Context, StreamSocket[]> e : cw.frozen().entrySet()) {
      StreamSocket[] sockets = e.getValue();
      e.getKey().runOnContext(v -> {
        for (StreamSocket s : sockets) {
          s.deliver(msg);
        }
      });
    }
    messages.increment(cw.size);
    cw.lastSentAt = now;
    cw.lastSentVersion = w.version;
  }

  private void deliver(List<StreamSocket> sockets, String msg) {
    for (StreamSocket s : sockets) {
      s.context.runOnContext(v -> s.deliver(msg));
    }
    messages.increment(sockets.size());
  }

  static long available(SkuWatch w, Channel c) {
    if (c == null) {
      return 0;
    }
    if (w.bundle != null) {
      long min = Long.MAX_VALUE;
      for (int i = 0; i < w.components.size(); i++) {
        min = Math.min(min, available(w.components.get(i), c) / w.bundle.components().get(i).qty());
      }
      return min == Long.MAX_VALUE ? 0 : min;
    }
    long sum = 0;
    for (String loc : c.locations()) {
      Long a = w.available.get(loc);
      if (a != null) {
        sum += a;
      }
    }
    return Math.max(0, sum - c.buffer());
  }

  /** SKU and channel codes are validated to [A-Za-z0-9._-]: nothing to escape. */
  static String message(String channel, String sku, long available, long version) {
    return "{\"type\":\"availability\",\"channel\":\"" + channel + "\",\"sku\":\"" + sku + "\",\"available\":"
        + available + ",\"version\":" + version + "}";
  }

  private void problem(String what, Throwable err) {
    long now = System.currentTimeMillis();
    if (now - lastErrorLog > 5000) {
      lastErrorLog = now;
      LOG.log(System.Logger.Level.WARNING, what + (err == null ? "" : ": " + err));
    }
  }

  static {
    // Keys and the event channel must agree: allot:{SKU}:stock <-> allot:{SKU}:ev.
    assert Keys.stock("X").equals(PREFIX + "X}:stock");
  }
}
