package dev.allot.stream;

import dev.allot.config.Settings;
import dev.allot.stock.Catalog;
import dev.allot.store.EventPayload;
import dev.allot.store.Store.LocationCounts;
import dev.allot.store.Store.StockView;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.ServerWebSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hub's coalescing and fan-out without Redis: the test plays the subscriber, handing the hub
 * decoded events and "read these SKUs" requests on the hub's event loop, as the subscriber does.
 * (Its own subscriber points at a port nobody listens on and keeps retrying meanwhile: harmless.)
 */
class StreamHubTest {
  private static final int COALESCE_MILLIS = 300;
  private static final Pattern VERSION = Pattern.compile("\"version\":(\\d+)");

  private Vertx vertx;
  private Context hubContext;
  private StreamHub hub;
  private Settings settings;
  private Catalog catalog;
  /** What the hub reads for a SKU's counts: version 1 unless a test says otherwise. */
  private volatile long storedVersion = 1;

  @BeforeEach
  void setUp() throws Exception {
    vertx = Vertx.vertx();
    settings = Settings.load(new String[0], Map.of("ALLOT_REDIS_URL", "redis://127.0.0.1:1",
        "ALLOT_STREAM_COALESCE_MILLIS", Integer.toString(COALESCE_MILLIS)));
    catalog = new Catalog(null); // no channel known here: every message says available 0; versions are what count
    StreamHub.Reader reader = skus -> {
      List<StockView> views = new ArrayList<>();
      for (String ignored : skus) {
        views.add(new StockView(true, storedVersion, Map.of("main", new LocationCounts(10, 0, 0, 0)), null, 0));
      }
      return Future.succeededFuture(views);
    };
    hub = new StreamHub(settings.stream(), settings.redis(), reader, catalog, new SimpleMeterRegistry());
    hubContext = vertx.getOrCreateContext();
    hub.init(vertx, hubContext);
    onHub(hub::start);
  }

  @AfterEach
  void tearDown() throws Exception {
    onHub(hub::stop);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  @DisplayName("changes within the window go out once, as the latest, to every watcher; an older one never; a later one does")
  void coalesces() throws Exception {
    List<String> a = new CopyOnWriteArrayList<>();
    List<String> b = new CopyOnWriteArrayList<>();
    // Two watchers on two event loops: both are sent the same sequence.
    hub.subscribe(socket(a), "web", List.of("SKU-1"));
    hub.subscribe(socket(b), "web", List.of("SKU-1"));
    onHub(() -> {
      // The subscription is confirmed: the counts are read (version 1), then three changes in a burst.
      hub.reread(List.of("SKU-1"));
      hub.changed("SKU-1", event(2));
      hub.changed("SKU-1", event(3));
      hub.changed("SKU-1", event(4));
      return null;
    });
    awaitVersions(a, List.of(1L, 4L));
    awaitVersions(b, List.of(1L, 4L));

    onHub(() -> {
      hub.changed("SKU-1", event(3)); // older than what was sent: never goes out
      return null;
    });
    // Absence cannot be awaited: wait out a whole coalescing window, then look.
    Thread.sleep(COALESCE_MILLIS + 200);
    assertEquals(List.of(1L, 4L), versions(a), "nothing older goes out");

    // The window since the last send has passed: the next change goes out by itself.
    onHub(() -> {
      hub.changed("SKU-1", event(5));
      return null;
    });
    awaitVersions(a, List.of(1L, 4L, 5L));
    awaitVersions(b, List.of(1L, 4L, 5L));
  }

  @Test
  @DisplayName("a change that arrives while the first counts are being read is not lost, and the first message is the newer")
  void eventBeforeFirstRead() throws Exception {
    List<String> a = new CopyOnWriteArrayList<>();
    hub.subscribe(socket(a), "web", List.of("SKU-2"));
    storedVersion = 5;
    onHub(() -> {
      hub.changed("SKU-2", event(7)); // not ready yet: kept for the read
      hub.reread(List.of("SKU-2"));
      return null;
    });
    awaitVersions(a, List.of(7L));
    // Absence cannot be awaited: wait out a whole coalescing window, then look.
    Thread.sleep(COALESCE_MILLIS + 200);
    assertEquals(List.of(7L), versions(a));
  }

  @Test
  @DisplayName("a second read of the counts (a resync) is coalesced like any change, and only a newer value goes out")
  void resyncIsAChange() throws Exception {
    List<String> a = new CopyOnWriteArrayList<>();
    hub.subscribe(socket(a), "web", List.of("SKU-3"));
    onHub(() -> {
      hub.reread(List.of("SKU-3"));   // version 1, sent at once
      hub.reread(List.of("SKU-3"));   // the same version again: nothing
      storedVersion = 2;
      hub.reread(List.of("SKU-3"));   // newer, within the window: after it
      return null;
    });
    awaitVersions(a, List.of(1L, 2L));
    // Absence cannot be awaited: wait out a whole coalescing window, then look.
    Thread.sleep(COALESCE_MILLIS + 200);
    assertEquals(List.of(1L, 2L), versions(a));
  }

  private static EventPayload event(long version) {
    return new EventPayload(version, Map.of("main", 10L - version));
  }

  /** A stream socket whose WebSocket only records what is written to it. */
  private StreamSocket socket(List<String> written) {
    ServerWebSocket ws = (ServerWebSocket) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {ServerWebSocket.class}, (proxy, method, args) -> {
          if (method.getName().equals("writeTextMessage")) {
            written.add((String) args[0]);
            return Future.succeededFuture();
          }
          Class<?> t = method.getReturnType();
          return t == boolean.class ? false : t == int.class ? 0 : t == long.class ? 0L : null;
        });
    return new StreamSocket(vertx, ws, hub, catalog, settings.stream());
  }

  private static List<Long> versions(List<String> messages) {
    List<Long> out = new ArrayList<>();
    for (String m : messages) {
      Matcher v = VERSION.matcher(m);
      assertTrue(v.find(), m);
      out.add(Long.parseLong(v.group(1)));
    }
    return out;
  }

  private static void awaitVersions(List<String> messages, List<Long> expected) throws InterruptedException {
    long until = System.currentTimeMillis() + 10_000;
    while (versions(messages).size() < expected.size() && System.currentTimeMillis() < until) {
      Thread.sleep(10);
    }
    assertEquals(expected, versions(messages));
  }

  /** Runs a task on the hub's event loop, where the subscriber calls it, and waits for it. */
  private <T> T onHub(Callable<T> task) throws Exception {
    CompletableFuture<T> done = new CompletableFuture<>();
    hubContext.runOnContext(v -> {
      try {
        done.complete(task.call());
      } catch (Throwable e) {
        done.completeExceptionally(e);
      }
    });
    return done.get(10, TimeUnit.SECONDS);
  }
}
