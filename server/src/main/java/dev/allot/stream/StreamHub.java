package dev.allot.stream;

import dev.allot.Settings;
import dev.allot.stock.Bundle;
import dev.allot.stock.Availability;
import dev.allot.stock.Catalog;
import dev.allot.stock.Channel;
import dev.allot.store.EventPayload;
import dev.allot.store.Keys;
import dev.allot.store.Store;
import dev.allot.store.Store.StockView;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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

  private final Settings settings;
  private final Store store;
  private final Catalog catalog;
  private final Map<String, SkuWatch> watches = new HashMap<>();
  private final AtomicInteger sockets = new AtomicInteger();
  private final Counter messages;
  private final Counter events;
  /** Subscriber connections by node URL: the one Redis, or in cluster mode the masters owning watched SKUs. */
  private final Map<String, Node> nodes = new HashMap<>();
  /** Cluster mode: the master URL owning each slot, from CLUSTER SLOTS; null until (re)loaded. */
  private String[] slotOwners;
  private Future<Void> slotsLoading;
  private int slotsAttempts;
  /** SKUs to subscribe again once their node is back or their slot has moved (one timer for all). */
  private final Set<SkuWatch> orphans = new LinkedHashSet<>();
  private long orphanTimer = -1;
  private long backoff = 100;
  private boolean stopped;
  private long lastErrorLog;

  /**
   * One subscriber connection to one Redis node. A Redis 7+ node (or Valkey) gets SSUBSCRIBE:
   * the scripts SPUBLISH there, keeping each event on its SKU's shard. An older one gets classic
   * SUBSCRIBE (the scripts PUBLISH, which a cluster forwards to every node).
   */
  private static final class Node {
    final String url;
    Redis client;
    RedisConnection conn;     // null until connected
    boolean sharded;
    final Set<SkuWatch> skus = new LinkedHashSet<>();
    /** Subscriptions sent and not yet confirmed by Redis, by channel. */
    final Map<String, Promise<Void>> confirming = new HashMap<>();
    /** Our own SUNSUBSCRIBEs not yet confirmed, so their confirmation is not taken for a slot move. */
    final Set<String> unsubscribing = new HashSet<>();
    /** When Redis last sent anything on this connection (a push, a confirmation, a heartbeat). */
    long lastHeard;

    Node(String url) {
      this.url = url;
    }
  }

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
    /** For a stock SKU: the node its channel is subscribed on (null while being placed). */
    Node node;

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
    if (!settings.clusterMode()) {
      node(settings.redisUrl()); // connect now, so the first watcher does not wait for it
    }
    // A subscriber socket that went half-open (a node gone without a reset) would never end. So
    // each one is sent a heartbeat, a SUBSCRIBE of a channel nobody publishes on, whose
    // confirmation comes back as a push like the events (a PING would not do: the client pairs
    // the next reply of any kind with it, and a push arriving first would swallow it); one that
    // has not been heard from in a heartbeat plus the Redis timeout is dropped, its SKUs placed again.
    vertx.setPeriodic(HEARTBEAT_MILLIS, t -> {
      long now = System.currentTimeMillis();
      for (Node n : List.copyOf(nodes.values())) {
        RedisConnection c = n.conn;
        if (c == null) {
          continue;
        }
        if (now - n.lastHeard > HEARTBEAT_MILLIS + settings.redisTimeoutMillis()) {
          lost(n, c, new IllegalStateException("no answer to the heartbeat"));
        } else {
          c.send(Request.cmd(Command.SUBSCRIBE).arg(HEARTBEAT_CHANNEL)).onFailure(err -> lost(n, c, err));
        }
      }
    });
    return Future.succeededFuture();
  }

  private static final long HEARTBEAT_MILLIS = 5000;
  private static final String HEARTBEAT_CHANNEL = "allot:stream:heartbeat";

  private RedisOptions subscriberOptions(String url) {
    RedisOptions o = new RedisOptions().setConnectionString(url);
    o.getNetClientOptions().setConnectTimeout(2000).setTcpNoDelay(true);
    return o;
  }

  @Override
  public Future<?> stop() {
    stopped = true;
    List<Future<Void>> closing = new ArrayList<>();
    for (Node n : nodes.values()) {
      if (n.client != null) {
        closing.add(n.client.close());
      }
    }
    return Future.join(closing);
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
        leave(gone);
      }
    });
  }

  /** A closed socket leaves all its subscriptions. */
  void remove(StreamSocket socket, Map<String, List<String>> byChannel) {
    byChannel.forEach((channel, skus) -> unsubscribe(socket, channel, skus));
  }

  // ---- the Redis side -----------------------------------------------------------------------

  /**
   * Subscribes to the SKUs' channels, each on the node that owns its slot, then reads their
   * current counts (so no change falls in between). SKUs whose node is not connected yet are
   * subscribed (and read) when it is.
   */
  private void watch(List<SkuWatch> fresh) {
    if (stopped || fresh.isEmpty()) {
      return;
    }
    if (settings.clusterMode() && slotOwners == null) {
      orphans.addAll(fresh);
      loadSlots();
      return;
    }
    Map<Node, List<SkuWatch>> byNode = new LinkedHashMap<>();
    boolean unowned = false;
    for (SkuWatch w : fresh) {
      if (watches.get(w.sku) != w || w.bundle != null) {
        continue; // unwatched meanwhile
      }
      String owner = ownerOf(w.sku);
      if (owner == null) {
        // The slot has no master right now (a failover under way): try again from a fresh map.
        orphans.add(w);
        unowned = true;
        continue;
      }
      Node n = node(owner);
      if (w.node != null && w.node != n) {
        w.node.skus.remove(w);
      }
      w.node = n;
      n.skus.add(w);
      if (n.conn != null) {
        byNode.computeIfAbsent(n, k -> new ArrayList<>()).add(w);
      }
    }
    byNode.forEach(this::subscribeOn);
    if (unowned) {
      slotOwners = null;
      scheduleOrphans(backoff);
    }
  }

  private void subscribeOn(Node n, List<SkuWatch> skus) {
    RedisConnection c = n.conn;
    // The counts are read only once Redis has confirmed each subscription: a (S)SUBSCRIBE's
    // future completes when it is written, and a read on another connection could overtake it,
    // leaving a change published in between unseen until the next one.
    List<Future<Void>> confirmed = new ArrayList<>();
    for (SkuWatch w : skus) {
      Promise<Void> p = Promise.promise();
      Promise<Void> earlier = n.confirming.put(Keys.events(w.sku), p);
      if (earlier != null) {
        p.future().onComplete(earlier);
      }
      confirmed.add(p.future());
    }
    List<Future<Response>> sent = new ArrayList<>();
    if (n.sharded) {
      // One SSUBSCRIBE per channel: a sharded subscribe may not span slots.
      for (SkuWatch w : skus) {
        sent.add(c.send(Request.cmd(Command.SSUBSCRIBE).arg(Keys.events(w.sku))));
      }
    } else {
      Request sub = Request.cmd(Command.SUBSCRIBE);
      skus.forEach(w -> sub.arg(Keys.events(w.sku)));
      sent.add(c.send(sub));
    }
    Future.all(sent)
        .compose(r -> Future.all(confirmed).timeout(settings.redisTimeoutMillis(), TimeUnit.MILLISECONDS))
        .compose(r -> store.readStocks(skus.stream().map(w -> w.sku).toList()))
        .onSuccess(views -> {
          for (int i = 0; i < skus.size(); i++) {
            snapshot(skus.get(i), views.get(i));
          }
        })
        .onFailure(err -> {
          // Not subscribed, or subscribed without a first value: try again on the same node in a
          // moment (subscribing twice is harmless; the read is what makes watchers converge). They
          // stay placed on it, so an unsubscribe meanwhile reaches the node that has them. SKUs a
          // MOVED sent elsewhere, and all of a node that was lost, are placed again by refused()/drop().
          problem("stream: could not start watching " + skus.size() + " SKU(s) on " + n.url + "; retrying", err);
          vertx.setTimer(backoff, t -> {
            List<SkuWatch> again = skus.stream().filter(w -> w.node == n && watches.get(w.sku) == w).toList();
            if (!again.isEmpty() && n.conn != null && nodes.get(n.url) == n && !stopped) {
              subscribeOn(n, again);
            }
          });
        });
  }

  /** Unsubscribes SKUs nobody watches any more, on the nodes they were subscribed on. */
  private void leave(List<SkuWatch> gone) {
    Map<Node, List<SkuWatch>> byNode = new LinkedHashMap<>();
    for (SkuWatch w : gone) {
      orphans.remove(w);
      if (w.node != null) {
        w.node.skus.remove(w);
        byNode.computeIfAbsent(w.node, k -> new ArrayList<>()).add(w);
        w.node = null;
      }
    }
    byNode.forEach((n, skus) -> {
      if (n.conn == null) {
        return; // a lost connection unsubscribes everything anyway
      }
      if (n.sharded) {
        for (SkuWatch w : skus) {
          n.unsubscribing.add(Keys.events(w.sku));
          n.conn.send(Request.cmd(Command.SUNSUBSCRIBE).arg(Keys.events(w.sku))).onFailure(err -> { });
        }
      } else {
        Request unsub = Request.cmd(Command.UNSUBSCRIBE);
        skus.forEach(w -> unsub.arg(Keys.events(w.sku)));
        n.conn.send(unsub).onFailure(err -> { });
      }
    });
  }

  private void snapshot(SkuWatch w, StockView view) {
    if (watches.get(w.sku) != w) {
      return; // unwatched meanwhile
    }
    Map<String, Long> avail = new LinkedHashMap<>();
    view.locations().forEach((loc, c) -> avail.put(loc, Availability.atLocation(c)));
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

  // ---- subscriber connections -----------------------------------------------------------------

  /** The node URL owning a SKU's channel: the one Redis, or the master of the channel's slot. */
  private String ownerOf(String sku) {
    return settings.clusterMode() ? slotOwners[Slots.of(sku)] : settings.redisUrl();
  }

  /** The subscriber node for a URL, connecting it if it is new. */
  private Node node(String url) {
    Node n = nodes.get(url);
    if (n == null) {
      n = new Node(url);
      nodes.put(url, n);
      connect(n);
    }
    return n;
  }

  private void connect(Node n) {
    if (stopped) {
      return;
    }
    n.client = Redis.createClient(vertx, subscriberOptions(n.url));
    n.client.connect()
        // Which pub/sub the node's scripts use: sharded on Redis 7+ (the Lua scripts decide the same way).
        .compose(c -> c.send(Request.cmd(Command.INFO).arg("server")).map(info -> {
          n.sharded = majorVersion(info == null ? "" : info.toString()) >= 7;
          return c;
        }).onFailure(err -> c.close()))
        .onSuccess(c -> {
          if (nodes.get(n.url) != n || stopped) {
            c.close();
            return;
          }
          n.conn = c;
          n.lastHeard = System.currentTimeMillis();
          backoff = 100;
          c.handler(r -> onPush(n, r));
          c.exceptionHandler(err -> lost(n, c, err));
          c.endHandler(v -> lost(n, c, null));
          if (!n.skus.isEmpty()) {
            LOG.log(System.Logger.Level.INFO, "stream: subscribed to {0} ({1} pub/sub); resyncing {2} SKU(s)", n.url,
                n.sharded ? "sharded" : "classic", n.skus.size());
            subscribeOn(n, List.copyOf(n.skus));
          }
        })
        .onFailure(err -> {
          problem("stream: cannot connect the subscriber to Redis " + n.url + "; retrying in " + backoff + " ms", err);
          drop(n);
        });
  }

  private void lost(Node n, RedisConnection c, Throwable err) {
    if (n.conn != c) {
      return;
    }
    if (!stopped) {
      problem("stream: subscriber connection to Redis " + n.url + " lost; reconnecting", err);
      drop(n);
    }
  }

  /**
   * A node's subscriber connection failed: its SKUs are placed again after a back-off, in
   * cluster mode from a fresh slot map (the node may have failed over, or its slots moved).
   */
  private void drop(Node n) {
    if (nodes.get(n.url) == n) {
      nodes.remove(n.url);
    }
    n.conn = null;
    if (n.client != null) {
      n.client.close();
    }
    List.copyOf(n.confirming.values()).forEach(p -> p.tryFail("the subscriber connection was lost"));
    n.confirming.clear();
    for (SkuWatch w : n.skus) {
      if (w.node == n) {
        w.node = null;
        orphans.add(w);
      }
    }
    n.skus.clear();
    slotOwners = null;
    if (!settings.clusterMode() && orphans.isEmpty()) {
      // Standalone and nobody watching: still keep a connection ready.
      vertx.setTimer(backoff, t -> node(settings.redisUrl()));
    } else {
      scheduleOrphans(backoff);
    }
    backoff = Math.min(backoff * 2, 2000);
  }

  private void scheduleOrphans(long delay) {
    if (orphanTimer >= 0 || stopped) {
      return;
    }
    orphanTimer = vertx.setTimer(Math.max(1, delay), t -> {
      orphanTimer = -1;
      List<SkuWatch> again = List.copyOf(orphans);
      orphans.clear();
      watch(again);
    });
  }

  /** Cluster mode: reads CLUSTER SLOTS from the first configured node that answers, then places the orphans. */
  private void loadSlots() {
    if (slotsLoading != null) {
      return;
    }
    List<String> seeds = settings.redisCluster();
    String seed = seeds.get(Math.floorMod(slotsAttempts++, seeds.size())); // each load asks the next seed
    Redis client = Redis.createClient(vertx, subscriberOptions(seed));
    slotsLoading = client.connect()
        .compose(c -> c.send(Request.cmd(Command.CLUSTER).arg("SLOTS")).andThen(x -> c.close()))
        .map(reply -> {
          slotOwners = Slots.owners(reply, seed);
          return (Void) null;
        })
        .andThen(x -> client.close());
    slotsLoading.onComplete(ar -> {
      slotsLoading = null;
      if (ar.succeeded()) {
        scheduleOrphans(0);
      } else if (!stopped) {
        problem("stream: cannot read the cluster's slot map from " + seed + "; retrying in " + backoff + " ms",
            ar.cause());
        vertx.setTimer(backoff, t -> loadSlots());
        backoff = Math.min(backoff * 2, 2000);
      }
    });
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

  private void onPush(Node n, Response r) {
    n.lastHeard = System.currentTimeMillis();
    if (r != null && r.type() == ResponseType.ERROR) {
      refused(n, r.toString());
      return;
    }
    if (r == null || (r.type() != ResponseType.PUSH && r.type() != ResponseType.MULTI) || r.size() < 3) {
      return;
    }
    String kind = r.get(0).toString();
    if ("ssubscribe".equals(kind) || "subscribe".equals(kind)) {
      Promise<Void> p = r.get(1) == null ? null : n.confirming.remove(r.get(1).toString());
      if (p != null) {
        p.tryComplete();
      }
      return;
    }
    if ("sunsubscribe".equals(kind)) {
      movedAway(n, r.get(1) == null ? null : r.get(1).toString());
      return;
    }
    if (!"message".equals(kind) && !"smessage".equals(kind)) {
      return;
    }
    String ch = r.get(1).toString();
    String sku = Keys.skuOfEvents(ch);
    if (sku == null) {
      return;
    }
    events.increment();
    SkuWatch w = watches.get(sku);
    if (w == null) {
      return;
    }
    String payload = r.get(2) == null ? null : r.get(2).toString();
    EventPayload event;
    try {
      event = EventPayload.decode(payload);
    } catch (IllegalArgumentException e) {
      problem("stream: malformed event on " + ch + ": " + payload, e);
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

  /**
   * A sharded channel unsubscribed by the node itself: its slot moved to another master (a
   * resharding or a failover). If the SKU is still watched here it is subscribed again on the
   * new owner, from a fresh slot map, and re-read, so the watchers converge on the truth.
   */
  private void movedAway(Node n, String ch) {
    String sku = Keys.skuOfEvents(ch);
    if (sku == null || n.unsubscribing.remove(ch)) {
      return; // not ours, or the confirmation of our own SUNSUBSCRIBE
    }
    SkuWatch w = watches.get(sku);
    if (w == null || w.node != n) {
      return; // our own SUNSUBSCRIBE, or already placed elsewhere
    }
    n.skus.remove(w);
    w.node = null;
    orphans.add(w);
    slotOwners = null;
    scheduleOrphans(50);
  }

  /**
   * An error answered a (S)SUBSCRIBE, which the client hands to the push handler. A MOVED says a
   * SKU's slot is not on this node any more (it moved between reading the slot map and
   * subscribing): that slot's SKUs are placed again from a fresh map.
   */
  private void refused(Node n, String error) {
    String[] parts = error.split(" ");
    if (parts.length >= 2 && "MOVED".equals(parts[0])) {
      int slot;
      try {
        slot = Integer.parseInt(parts[1]);
      } catch (NumberFormatException e) {
        slot = -1;
      }
      for (SkuWatch w : List.copyOf(n.skus)) {
        if (slot < 0 || Slots.of(w.sku) == slot) {
          n.skus.remove(w);
          w.node = null;
          orphans.add(w);
          Promise<Void> p = n.confirming.remove(Keys.events(w.sku));
          if (p != null) {
            p.tryFail(error); // so the rest of its batch is retried now, not after a timeout
          }
        }
      }
      int moved = slot;
      // A SUNSUBSCRIBE of ours refused the same way gets no confirmation: forget waiting for it.
      n.unsubscribing.removeIf(ch -> moved < 0 || Slots.of(Keys.skuOfEvents(ch)) == moved);
      slotOwners = null;
      scheduleOrphans(50);
      return;
    }
    problem("stream: Redis " + n.url + " refused a subscription", new IllegalStateException(error));
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

  private void problem(String what, Throwable err) {
    long now = System.currentTimeMillis();
    if (now - lastErrorLog > 5000) {
      lastErrorLog = now;
      LOG.log(System.Logger.Level.WARNING, what + (err == null ? "" : ": " + err));
    }
  }
}
