package dev.allot.stream;

import dev.allot.config.Settings;
import dev.allot.stock.Availability;
import dev.allot.stock.Bundle;
import dev.allot.stock.Catalog;
import dev.allot.stock.Channel;
import dev.allot.store.EventPayload;
import dev.allot.store.Store;
import dev.allot.store.Store.StockView;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One per server instance: the stream's watchers and what they are sent. It keeps, for each SKU
 * that at least one local socket watches (and only those), that SKU's latest version and
 * per-location availability, and fans each change out to the watchers of each channel: the
 * message is encoded once per (SKU, channel) and coalesced to at most one per
 * {@code ALLOT_STREAM_COALESCE_MILLIS}, always ending on the latest value. Its {@link Subscriber}
 * is the only subscriber to Redis for the stream: it subscribes to the SKUs watched here and
 * hands back their change events and the moments to read their counts.
 *
 * <p>All state, the subscriber's included, is touched on this verticle's event loop only;
 * sockets call in through {@link #subscribe}/{@link #unsubscribe}/{@link #remove}, which hop onto it.
 */
public final class StreamHub extends VerticleBase {
  private final Settings.Stream settings;
  private final Settings.Redis redis;
  private final Reader reader;
  private final Catalog catalog;
  private final Map<String, SkuWatch> watches = new HashMap<>();
  private final AtomicInteger sockets = new AtomicInteger();
  private final Counter messages;
  private final Counter events;
  final Counter heldBack;
  private Subscriber subscriber;

  /** Reads SKUs' current counts, one view per SKU in order: the store, or in a unit test a stand-in. */
  interface Reader {
    Future<List<StockView>> read(List<String> skus);
  }

  public StreamHub(Settings.Stream settings, Settings.Redis redis, Store store, Catalog catalog, MeterRegistry registry) {
    this(settings, redis, store::readStocks, catalog, registry);
  }

  StreamHub(Settings.Stream settings, Settings.Redis redis, Reader reader, Catalog catalog, MeterRegistry registry) {
    this.settings = settings;
    this.redis = redis;
    this.reader = reader;
    this.catalog = catalog;
    this.messages = Counter.builder("allot_stream_messages").description("availability messages sent to sockets")
        .register(registry);
    this.events = Counter.builder("allot_stream_events").description("SKU change events received from Redis")
        .register(registry);
    this.heldBack = Counter.builder("allot_stream_held_back")
        .description("messages held back from a socket whose write queue was full (only the newest per SKU and "
            + "channel is sent when it drains)").register(registry);
    Gauge.builder("allot_stream_connections", sockets, AtomicInteger::get)
        .description("open stream sockets on this instance").register(registry);
    Gauge.builder("allot_stream_watched_skus", watches, Map::size)
        .description("SKUs this instance is subscribed to").register(registry);
  }

  @Override
  public Future<?> start() {
    // Created here, on this verticle's event loop: its connections and timers then run on it too.
    subscriber = new Subscriber(vertx, redis, events, new Subscriber.Listener() {
      @Override
      public void changed(String sku, EventPayload event) {
        StreamHub.this.changed(sku, event);
      }

      @Override
      public Future<Void> reread(List<String> skus) {
        return StreamHub.this.reread(skus);
      }
    });
    subscriber.start();
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    return subscriber.stop();
  }

  // ---- the socket side ----------------------------------------------------------------------

  void socketOpened() {
    sockets.incrementAndGet();
  }

  void socketClosed() {
    sockets.decrementAndGet();
  }

  /** Stream sockets open on this instance per API key (ALLOT_STREAM_MAX_SOCKETS_PER_KEY). */
  private final java.util.concurrent.ConcurrentHashMap<String, java.util.concurrent.atomic.AtomicInteger> perKey =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** Takes a socket slot for the key: false when the key holds its maximum already (nothing taken). */
  public boolean admit(String key, int max) {
    java.util.concurrent.atomic.AtomicInteger n = perKey.computeIfAbsent(key, k -> new java.util.concurrent.atomic.AtomicInteger());
    if (n.incrementAndGet() > max) {
      n.decrementAndGet();
      return false;
    }
    return true;
  }

  /** Distinct SKUs watched per API key on this instance, each with how many subscriptions hold it. */
  private final Map<String, Map<String, Integer>> keySkus = new HashMap<>();

  /**
   * Counts a socket's new subscriptions against its key: false, and nothing counted, when they would
   * take the key past {@code max} distinct SKUs.
   */
  synchronized boolean watchSkus(String key, List<String> skus, int max) {
    Map<String, Integer> mine = keySkus.computeIfAbsent(key, k -> new HashMap<>());
    long fresh = skus.stream().distinct().filter(s -> !mine.containsKey(s)).count();
    if (mine.size() + fresh > max) {
      if (mine.isEmpty()) {
        keySkus.remove(key);
      }
      return false;
    }
    skus.forEach(s -> mine.merge(s, 1, Integer::sum));
    return true;
  }

  synchronized void unwatchSkus(String key, java.util.Collection<String> skus) {
    Map<String, Integer> mine = keySkus.get(key);
    if (mine == null) {
      return;
    }
    skus.forEach(s -> mine.computeIfPresent(s, (k, n) -> n <= 1 ? null : n - 1));
    if (mine.isEmpty()) {
      keySkus.remove(key);
    }
  }

  /** Gives a key's socket slot back. */
  public void release(String key) {
    perKey.computeIfPresent(key, (k, n) -> n.decrementAndGet() <= 0 ? null : n);
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
        SkuWatch watched = w;
        ChannelWatch cw = w.channels.computeIfAbsent(channel, c -> new ChannelWatch(c, watched.sku));
        if (cw.add(socket) && w.ready && cw.timer < 0) {
          // Its first message is the current value. (With a send already due, that send is its first.)
          deliver(List.of(socket), cw.key, message(channel, w.sku, available(w, catalog.cachedChannel(channel)),
              w.version));
          cw.lastSentVersion = Math.max(cw.lastSentVersion, w.version);
        }
      }
      if (!fresh.isEmpty()) {
        subscriber.watch(fresh.stream().map(w -> w.sku).toList());
      }
    });
  }

  void unsubscribe(StreamSocket socket, String channel, List<String> skus) {
    context.runOnContext(v -> {
      List<SkuWatch> gone = new ArrayList<>();
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
            gone.add(w);
          } else {
            for (SkuWatch c : w.components) {
              c.dependents.remove(w);
              if (c.idle() && watches.get(c.sku) == c) {
                watches.remove(c.sku);
                gone.add(c);
              }
            }
          }
        }
      }
      if (!gone.isEmpty()) {
        subscriber.leave(gone.stream().map(w -> w.sku).toList());
      }
    });
  }

  /** A closed socket leaves all its subscriptions. */
  void remove(StreamSocket socket, Map<String, List<String>> byChannel) {
    byChannel.forEach((channel, skus) -> unsubscribe(socket, channel, skus));
  }

  // ---- from the subscriber ------------------------------------------------------------------

  /** A change event of a watched SKU; one that arrives while its first counts are being read waits for them. */
  void changed(String sku, EventPayload event) {
    SkuWatch w = watches.get(sku);
    if (w == null) {
      return;
    }
    if (!w.ready) {
      if (event.version() > w.pendingVersion) {
        w.pendingVersion = event.version();
        w.pendingAvailable = event.available();
      }
      return;
    }
    apply(w, event.version(), event.available(), true);
  }

  /** Reads the SKUs' counts (their channels are subscribed now) and takes them as their latest value. */
  Future<Void> reread(List<String> skus) {
    if (skus.isEmpty()) {
      return Future.succeededFuture();
    }
    List<SkuWatch> asked = skus.stream().map(watches::get).toList();
    // The read may complete on the store connection's own context (a shared cluster connection):
    // take its answer on the hub's event loop, where every watcher is touched.
    return reader.read(skus).transform(ar -> {
      if (Vertx.currentContext() == context) {
        return take(asked, ar);
      }
      Promise<Void> taken = Promise.promise();
      context.runOnContext(v -> take(asked, ar).onComplete(taken));
      return taken.future();
    });
  }

  private Future<Void> take(List<SkuWatch> asked, AsyncResult<List<StockView>> read) {
    if (read.failed()) {
      return Future.failedFuture(read.cause());
    }
    for (int i = 0; i < asked.size(); i++) {
      snapshot(asked.get(i), read.result().get(i));
    }
    return Future.succeededFuture();
  }

  private void snapshot(SkuWatch w, StockView view) {
    if (w == null || watches.get(w.sku) != w) {
      return; // unwatched meanwhile
    }
    Map<String, Long> avail = Availability.perLocation(view);
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
    long wait = cw.lastSentAt + settings.coalesceMillis() - now;
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
    byte[] utf8 = msg.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    String key = cw.key;
    for (Map.Entry<Context, StreamSocket[]> e : cw.frozen().entrySet()) {
      StreamSocket[] sockets = e.getValue();
      e.getKey().runOnContext(v -> {
        // One frame for this loop's sockets, encoded once; each gets a retained duplicate of it.
        io.netty.buffer.ByteBuf frame = SharedFrames.textFrame(utf8);
        try {
          for (StreamSocket s : sockets) {
            s.deliver(key, msg, frame);
          }
        } finally {
          frame.release();
        }
      });
    }
    messages.increment(cw.size);
    cw.lastSentAt = now;
    cw.lastSentVersion = w.version;
  }

  private void deliver(List<StreamSocket> sockets, String key, String msg) {
    for (StreamSocket s : sockets) {
      s.context.runOnContext(v -> s.deliver(key, msg));
    }
    messages.increment(sockets.size());
  }

  static long available(SkuWatch w, Channel c) {
    if (c == null) {
      return 0;
    }
    if (w.bundle != null) {
      long[] perComponent = new long[w.components.size()];
      for (int i = 0; i < perComponent.length; i++) {
        perComponent[i] = available(w.components.get(i), c);
      }
      return Availability.bundle(w.bundle, perComponent);
    }
    return Availability.channel(w.available, c);
  }

  /** SKU and channel codes are validated to [A-Za-z0-9._-]: nothing to escape. */
  static String message(String channel, String sku, long available, long version) {
    return "{\"type\":\"availability\",\"channel\":\"" + channel + "\",\"sku\":\"" + sku + "\",\"available\":"
        + available + ",\"version\":" + version + "}";
  }
}
