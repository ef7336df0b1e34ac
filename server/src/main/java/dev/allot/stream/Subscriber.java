package dev.allot.stream;

import dev.allot.common.Throttled;
import dev.allot.config.Settings;
import dev.allot.store.EventPayload;
import dev.allot.store.Keys;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The stream's side of Redis: the subscriber connections, one per node (the one Redis, or in
 * cluster mode each master that owns a watched SKU's slot), each watched SKU's event channel
 * ({@link Keys#events}) subscribed on the node that owns it, their heartbeat and reconnection,
 * and the decoding of what arrives. It keeps no availability: decoded events, and requests to
 * read a SKU's counts once its subscription is confirmed, go to the hub through {@link Listener}.
 *
 * <p>It lives on the hub verticle's event loop: the hub calls it from there, and its connections
 * and timers are created from there, so their handlers run there too. Nothing here is shared
 * with another thread.
 */
final class Subscriber {
  private static final System.Logger LOG = System.getLogger(Subscriber.class.getName());
  private static final long HEARTBEAT_MILLIS = 5000;
  private static final String HEARTBEAT_CHANNEL = "allot:stream:heartbeat";

  /** What the subscriber hands the hub, on the hub's event loop. */
  interface Listener {
    /** A change event of a SKU being watched. */
    void changed(String sku, EventPayload event);

    /**
     * Redis has confirmed the SKUs' subscriptions: read their counts now, so that no change
     * published before the subscription goes unseen. A failed future makes the subscriber retry.
     */
    Future<Void> reread(List<String> skus);
  }

  private final Vertx vertx;
  private final Settings.Redis settings;
  private final Counter events;
  private final Listener listener;
  /** Every stock SKU the hub watches, and where its channel is subscribed. */
  private final Map<String, Placed> watched = new HashMap<>();
  /** Subscriber connections by node URL: the one Redis, or in cluster mode the masters owning watched SKUs. */
  private final Map<String, Node> nodes = new HashMap<>();
  /** Cluster mode: the master URL owning each slot, from CLUSTER SLOTS; null until (re)loaded. */
  private String[] slotOwners;
  private Future<Void> slotsLoading;
  private int slotsAttempts;
  /** SKUs to subscribe again once their node is back or their slot has moved (one timer for all). */
  private final Set<Placed> orphans = new LinkedHashSet<>();
  private long orphanTimer = -1;
  private long backoff = 100;
  private boolean stopped;
  private final Throttled warnings = new Throttled(LOG, 5000);

  /**
   * A watched stock SKU and the node its channel is subscribed on (null while being placed). A SKU
   * unwatched and watched again gets a new one, so a stale one is told apart by identity.
   */
  static final class Placed {
    final String sku;
    final String channel;
    Node node;

    Placed(String sku) {
      this.sku = sku;
      this.channel = Keys.events(sku);
    }
  }

  Subscriber(Vertx vertx, Settings.Redis settings, Counter events, Listener listener) {
    this.vertx = vertx;
    this.settings = settings;
    this.events = events;
    this.listener = listener;
  }

  void start() {
    if (!settings.clusterMode()) {
      node(settings.url()); // connect now, so the first watcher does not wait for it
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
        if (now - n.lastHeard > HEARTBEAT_MILLIS + settings.timeoutMillis()) {
          lost(n, c, new IllegalStateException("no answer to the heartbeat"));
        } else {
          c.send(Request.cmd(Command.SUBSCRIBE).arg(HEARTBEAT_CHANNEL)).onFailure(err -> lost(n, c, err));
        }
      }
    });
  }

  Future<Void> stop() {
    stopped = true;
    List<Future<Void>> closing = new ArrayList<>();
    for (Node n : nodes.values()) {
      closing.add(n.close());
    }
    return Future.join(closing).mapEmpty();
  }

  /**
   * Starts watching stock SKUs (not watched yet): each is subscribed on the node that owns its
   * slot, then the hub is asked to read its counts (so no change falls in between). SKUs whose
   * node is not connected yet are subscribed (and read) when it is.
   */
  void watch(List<String> skus) {
    List<Placed> fresh = new ArrayList<>();
    for (String sku : skus) {
      if (!watched.containsKey(sku)) {
        Placed p = new Placed(sku);
        watched.put(sku, p);
        fresh.add(p);
      }
    }
    place(fresh);
  }

  private void place(List<Placed> fresh) {
    if (stopped || fresh.isEmpty()) {
      return;
    }
    if (settings.clusterMode() && slotOwners == null) {
      orphans.addAll(fresh);
      loadSlots();
      return;
    }
    Map<Node, List<Placed>> byNode = new LinkedHashMap<>();
    boolean unowned = false;
    for (Placed p : fresh) {
      if (watched.get(p.sku) != p) {
        continue; // unwatched meanwhile
      }
      String owner = ownerOf(p.sku);
      if (owner == null) {
        // The slot has no master right now (a failover under way): try again from a fresh map.
        orphans.add(p);
        unowned = true;
        continue;
      }
      Node n = node(owner);
      if (p.node != null && p.node != n) {
        p.node.skus.remove(p);
      }
      p.node = n;
      n.skus.add(p);
      if (n.conn != null) {
        byNode.computeIfAbsent(n, k -> new ArrayList<>()).add(p);
      }
    }
    byNode.forEach(this::subscribeOn);
    if (unowned) {
      slotOwners = null;
      scheduleOrphans(backoff);
    }
  }

  private void subscribeOn(Node n, List<Placed> skus) {
    // The counts are read only once Redis has confirmed each subscription: a (S)SUBSCRIBE's
    // future completes when it is written, and a read on another connection could overtake it,
    // leaving a change published in between unseen until the next one.
    n.subscribe(skus.stream().map(p -> p.channel).toList(), settings.timeoutMillis())
        // Only those still watched: one unwatched meanwhile (and perhaps watched again, placed anew) is not read for.
        .compose(r -> listener.reread(skus.stream().filter(p -> watched.get(p.sku) == p).map(p -> p.sku).toList()))
        .onFailure(err -> {
          // Not subscribed, or subscribed without a first value: try again on the same node in a
          // moment (subscribing twice is harmless; the read is what makes watchers converge). They
          // stay placed on it, so an unsubscribe meanwhile reaches the node that has them. SKUs a
          // MOVED sent elsewhere, and all of a node that was lost, are placed again by refused()/drop().
          problem("stream: could not start watching " + skus.size() + " SKU(s) on " + Settings.redact(n.url) + "; retrying", err);
          String why = err.getMessage();
          if (why != null && why.startsWith("MOVED ")) {
            // The client may fail the (S)SUBSCRIBE's own future with the MOVED instead of handing it
            // to the push handler: place that slot's SKUs again from a fresh map either way, or
            // they would be retried on the old owner for ever.
            refused(n, why);
          }
          vertx.setTimer(backoff, t -> {
            List<Placed> again = skus.stream().filter(p -> p.node == n && watched.get(p.sku) == p).toList();
            if (!again.isEmpty() && n.conn != null && nodes.get(n.url) == n && !stopped) {
              subscribeOn(n, again);
            }
          });
        });
  }

  /** Stops watching SKUs nobody watches any more: unsubscribes them on the nodes they were subscribed on. */
  void leave(List<String> skus) {
    Map<Node, List<Placed>> byNode = new LinkedHashMap<>();
    for (String sku : skus) {
      Placed p = watched.remove(sku);
      if (p == null) {
        continue;
      }
      orphans.remove(p);
      if (p.node != null) {
        p.node.skus.remove(p);
        byNode.computeIfAbsent(p.node, k -> new ArrayList<>()).add(p);
        p.node = null;
      }
    }
    byNode.forEach((n, gone) -> n.unsubscribe(gone.stream().map(p -> p.channel).toList()));
  }

  // ---- connections ------------------------------------------------------------------------------

  /** The node URL owning a SKU's channel: the one Redis, or the master of the channel's slot. */
  private String ownerOf(String sku) {
    return settings.clusterMode() ? slotOwners[Slots.of(sku)] : settings.url();
  }

  /** The subscriber node for a URL, connecting it if it is new. */
  private Node node(String url) {
    Node n = nodes.get(url);
    if (n == null) {
      n = new Node(url, settings.tls());
      nodes.put(url, n);
      connect(n);
    }
    return n;
  }

  private void connect(Node n) {
    if (stopped) {
      return;
    }
    n.connect(vertx)
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
            LOG.log(System.Logger.Level.INFO, "stream: subscribed to {0} ({1} pub/sub); resyncing {2} SKU(s)", Settings.redact(n.url),
                n.sharded ? "sharded" : "classic", n.skus.size());
            subscribeOn(n, List.copyOf(n.skus));
          }
        })
        .onFailure(err -> {
          problem("stream: cannot connect the subscriber to Redis " + Settings.redact(n.url) + "; retrying in " + backoff
              + " ms", err);
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
    n.lost();
    for (Placed p : n.skus) {
      if (p.node == n) {
        p.node = null;
        orphans.add(p);
      }
    }
    n.skus.clear();
    slotOwners = null;
    if (!settings.clusterMode() && orphans.isEmpty()) {
      // Standalone and nobody watching: still keep a connection ready.
      vertx.setTimer(backoff, t -> node(settings.url()));
    } else {
      scheduleOrphans(backoff);
    }
    backoff = Math.min(backoff * 2, 2000);
  }

  // ---- slot placement ---------------------------------------------------------------------------

  private void scheduleOrphans(long delay) {
    if (orphanTimer >= 0 || stopped) {
      return;
    }
    orphanTimer = vertx.setTimer(Math.max(1, delay), t -> {
      orphanTimer = -1;
      List<Placed> again = List.copyOf(orphans);
      orphans.clear();
      place(again);
    });
  }

  /** Cluster mode: reads CLUSTER SLOTS from the first configured node that answers, then places the orphans. */
  private void loadSlots() {
    if (slotsLoading != null) {
      return;
    }
    List<String> seeds = settings.cluster();
    String seed = seeds.get(Math.floorMod(slotsAttempts++, seeds.size())); // each load asks the next seed
    Redis client = Redis.createClient(vertx, Node.options(seed, settings.tls()));
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

  // ---- what arrives -----------------------------------------------------------------------------

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
      n.confirmed(r.get(1) == null ? null : r.get(1).toString());
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
    if (!watched.containsKey(sku)) {
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
    listener.changed(sku, event);
  }

  /**
   * A sharded channel unsubscribed by the node itself: its slot moved to another master (a
   * resharding or a failover). If the SKU is still watched here it is subscribed again on the
   * new owner, from a fresh slot map, and re-read, so the watchers converge on the truth.
   */
  private void movedAway(Node n, String ch) {
    String sku = Keys.skuOfEvents(ch);
    if (sku == null || n.ownUnsubscribe(ch)) {
      return; // not ours, or the confirmation of our own SUNSUBSCRIBE
    }
    Placed p = watched.get(sku);
    if (p == null || p.node != n) {
      return; // our own SUNSUBSCRIBE, or already placed elsewhere
    }
    n.skus.remove(p);
    p.node = null;
    orphans.add(p);
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
      for (Placed p : List.copyOf(n.skus)) {
        if (slot < 0 || Slots.of(p.sku) == slot) {
          n.skus.remove(p);
          p.node = null;
          orphans.add(p);
          n.refused(p.channel, error); // so the rest of its batch is retried now, not after a timeout
        }
      }
      int moved = slot;
      // A SUNSUBSCRIBE of ours refused the same way gets no confirmation: forget waiting for it.
      n.forgetUnsubscribes(ch -> moved < 0 || Slots.of(Keys.skuOfEvents(ch)) == moved);
      slotOwners = null;
      scheduleOrphans(50);
      return;
    }
    problem("stream: Redis " + n.url + " refused a subscription", new IllegalStateException(error));
  }

  private void problem(String what, Throwable err) {
    warnings.warn(() -> what + (err == null ? "" : ": " + err));
  }
}
