package dev.allot.stock;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.store.Keys;
import dev.allot.store.RecordStore.StockLine;
import dev.allot.store.Store;
import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Locations and channels. Redis holds them; every instance keeps a read copy, refreshed
 * periodically (changes made through another instance arrive within the refresh interval) and
 * read through on a miss (a channel created a moment ago elsewhere is found at once).
 */
public final class Catalog {
  private static final System.Logger LOG = System.getLogger(Catalog.class.getName());
  private final Store store;
  private volatile Map<String, Channel> channels = Map.of();
  private volatile Map<String, Location> locations = Map.of();
  private volatile List<Channel> channelList = List.of();
  private volatile List<Location> locationList = List.of();
  /** "channel|CODE" -> canonical SKU. */
  private volatile Map<String, String> aliases = Map.of();
  private volatile Map<String, Bundle> bundles = Map.of();

  public Catalog(Store store) {
    this.store = store;
  }

  /**
   * This instance's own catalogue writes, counted as each starts and as it lands: a refresh that
   * overlapped one read Redis before that write, and must not put its older copy over the one the
   * write just updated (it forgot a bundle just made, and let a bundle of it nest).
   */
  private final AtomicLong writes = new AtomicLong();

  public Future<Void> refresh() {
    return refresh(0);
  }

  private Future<Void> refresh(int attempt) {
    long seen = writes.get();
    return Future.all(store.readConfig(Keys.CHANNELS), store.readConfig(Keys.LOCATIONS), store.readConfig(Keys.ALIASES),
        store.readConfig(Keys.BUNDLES)).compose(cf -> {
      if (writes.get() != seen) {
        // A write of ours overlapped this read: read again (a few times; else keep the copy as it is).
        return attempt < 5 ? refresh(attempt + 1) : Future.succeededFuture();
      }
      Map<String, String> ch = cf.resultAt(0);
      Map<String, String> lo = cf.resultAt(1);
      aliases = Map.copyOf(cf.<Map<String, String>>resultAt(2));
      Map<String, Bundle> nb = new TreeMap<>();
      cf.<Map<String, String>>resultAt(3).forEach((sku, json) -> nb.put(sku, Bundle.fromJson(sku, json)));
      bundles = Map.copyOf(nb);
      Map<String, Channel> nc = new TreeMap<>();
      ch.forEach((id, json) -> nc.put(id, parseChannel(id, json)));
      Map<String, Location> nl = new TreeMap<>();
      lo.forEach((id, json) -> nl.put(id, parseLocation(id, json)));
      setChannels(nc);
      setLocations(nl);
      return Future.<Void>succeededFuture();
    });
  }

  private Future<Void> putConfig(String hash, String id, String value) {
    writes.incrementAndGet();
    return store.putConfig(hash, id, value).andThen(ar -> writes.incrementAndGet());
  }

  public Future<Void> refreshQuietly() {
    return refresh().recover(err -> {
      LOG.log(System.Logger.Level.DEBUG, "catalog refresh failed: {0}", err.toString());
      return Future.succeededFuture();
    });
  }

  /** Every channel, sorted by id (built once per change, not per call: reads use it on every request). */
  public List<Channel> channels() {
    return channelList;
  }

  public List<Location> locations() {
    return locationList;
  }

  private void setChannels(Map<String, Channel> m) {
    channels = Map.copyOf(m);
    channelList = List.copyOf(new TreeMap<>(m).values());
  }

  private void setLocations(Map<String, Location> m) {
    locations = Map.copyOf(m);
    locationList = List.copyOf(new TreeMap<>(m).values());
  }

  /**
   * The canonical SKU a channel's code stands for (the code itself when it is no alias). Aliases
   * made through another instance arrive within the refresh interval.
   */
  public String resolve(String channel, String code) {
    if (channel == null) {
      return code;
    }
    String sku = aliases.get(channel + "|" + code);
    return sku == null ? code : sku;
  }

  public Map<String, String> aliasesOf(String channel) {
    Map<String, String> out = new TreeMap<>();
    String prefix = channel + "|";
    aliases.forEach((k, v) -> {
      if (k.startsWith(prefix)) {
        out.put(k.substring(prefix.length()), v);
      }
    });
    return out;
  }

  public Future<Void> putAlias(String channel, String code, String sku) {
    return putConfig(Keys.ALIASES, channel + "|" + code, sku).map(v -> {
      Map<String, String> m = new TreeMap<>(aliases);
      m.put(channel + "|" + code, sku);
      aliases = Map.copyOf(m);
      return null;
    });
  }

  /** The bundle of that SKU as this instance knows it, or null for an ordinary SKU. */
  public Bundle bundle(String sku) {
    return bundles.get(sku);
  }

  /** Every bundle that has this SKU as a component. */
  public List<Bundle> bundlesUsing(String component) {
    List<Bundle> out = new ArrayList<>();
    for (Bundle b : bundles.values()) {
      if (b.quantityOf(component) > 0) {
        out.add(b);
      }
    }
    return out;
  }

  public Future<Bundle> putBundle(Bundle bundle) {
    return putConfig(Keys.BUNDLES, bundle.sku(), Json.write(bundle.toJson())).map(v -> {
      Map<String, Bundle> m = new TreeMap<>(bundles);
      m.put(bundle.sku(), bundle);
      bundles = Map.copyOf(m);
      return bundle;
    });
  }

  /**
   * The stock lines a request holds: bundles expanded into their components, and a SKU asked for
   * by several lines (a bundle and its component, say) counted together. Each is one per-SKU script.
   */
  List<StockLine> stockLines(List<Reservations.Line> requested) {
    if (requested.size() == 1 && bundle(requested.get(0).sku()) == null) {
      // The common cart: one line of a plain SKU is its own stock line.
      return List.of(new StockLine(requested.get(0).sku(), requested.get(0).qty()));
    }
    Map<String, Long> merged = new LinkedHashMap<>();
    for (Reservations.Line l : requested) {
      Bundle b = bundle(l.sku());
      if (b == null) {
        merged.merge(l.sku(), l.qty(), Long::sum);
      } else {
        for (Bundle.Component c : b.components()) {
          merged.merge(c.sku(), c.qty() * l.qty(), Long::sum);
        }
      }
    }
    List<StockLine> out = new ArrayList<>(merged.size());
    merged.forEach((sku, qty) -> out.add(new StockLine(sku, qty)));
    return out;
  }

  /** The channel as this instance knows it now (null when unknown here); never waits. */
  public Channel cachedChannel(String id) {
    return channels.get(id);
  }

  /** The channel, read through to Redis when this instance has not seen it yet. */
  public Future<Optional<Channel>> channel(String id) {
    Channel c = channels.get(id);
    if (c != null) {
      return Future.succeededFuture(Optional.of(c));
    }
    return refresh().map(v -> Optional.ofNullable(channels.get(id)));
  }

  public Future<Optional<Location>> location(String id) {
    Location l = locations.get(id);
    if (l != null) {
      return Future.succeededFuture(Optional.of(l));
    }
    return refresh().map(v -> Optional.ofNullable(locations.get(id)));
  }

  public Future<Location> putLocation(Location location) {
    return putConfig(Keys.LOCATIONS, location.id(), Json.write(toJson(location))).map(v -> {
      Map<String, Location> m = new TreeMap<>(locations);
      m.put(location.id(), location);
      setLocations(m);
      return location;
    });
  }

  public Future<Channel> putChannel(Channel channel) {
    List<Future<Optional<Location>>> checks = new ArrayList<>();
    channel.locations().forEach(l -> checks.add(location(l)));
    return Future.all(checks).compose(cf -> {
      for (int i = 0; i < checks.size(); i++) {
        if (checks.get(i).result().isEmpty()) {
          throw new AllotException(AllotException.Kind.INVALID, "unknown_location", "location '" + channel.locations().get(i)
              + "' does not exist: create it with PUT /v1/locations/{location} first", "locations[" + i + "]", null, null);
        }
      }
      return putConfig(Keys.CHANNELS, channel.id(), Json.write(toJson(channel)));
    }).map(v -> {
      Map<String, Channel> m = new TreeMap<>(channels);
      m.put(channel.id(), channel);
      setChannels(m);
      return channel;
    });
  }

  public static ObjectNode toJson(Channel c) {
    ObjectNode o = Json.object();
    o.put("id", c.id());
    ArrayNode locs = o.putArray("locations");
    c.locations().forEach(locs::add);
    o.put("buffer", c.buffer());
    o.put("backorder", c.backorder());
    return o;
  }

  public static ObjectNode toJson(Location l) {
    ObjectNode o = Json.object();
    o.put("id", l.id());
    o.put("name", l.name());
    return o;
  }

  private static Channel parseChannel(String id, String json) {
    JsonNode n = Json.read(json);
    List<String> locs = new ArrayList<>();
    n.path("locations").forEach(x -> locs.add(x.asText()));
    return new Channel(id, List.copyOf(locs), n.path("buffer").asLong(0), n.path("backorder").asBoolean(false));
  }

  private static Location parseLocation(String id, String json) {
    return new Location(id, Json.read(json).path("name").asText(id));
  }
}
