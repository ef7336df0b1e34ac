package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static dev.allot.Api.expect;
import static dev.allot.ExpiryTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The live-availability stream (API.md, "Stream") against two real servers on one Redis. */
class StreamTest {
  static AllotServer a;
  static AllotServer b;
  static Api admin;
  static Api web;

  @BeforeAll
  static void start() throws Exception {
    Map<String, String> cfg = Map.of("ALLOT_API_KEYS", TestServer.keys("web"), "ALLOT_STREAM_COALESCE_MILLIS", "20",
        "ALLOT_STREAM_PING_MILLIS", "2000", "ALLOT_STREAM_QUEUE_BYTES", "4096", "ALLOT_STREAM_MAX_SUBSCRIPTIONS", "50");
    a = TestServer.start(TestRedis.url(), cfg);
    b = TestServer.start(TestRedis.url(), cfg);
    admin = new Api(a.port(), TestServer.ADMIN);
    web = admin.as("t-web");
    admin.location("main");
    admin.location("shop");
    admin.channel("web", "[\"main\",\"shop\"]", 0);
    admin.channel("outlet", "[\"shop\"]", 1);
  }

  @AfterAll
  static void stop() {
    a.stop();
    b.stop();
  }

  static boolean isFor(JsonNode m, String channel, String sku) {
    return "availability".equals(m.path("type").asText()) && channel.equals(m.path("channel").asText())
        && sku.equals(m.path("sku").asText());
  }

  static String reserve(String sku, int qty) {
    String id = Api.id("s");
    expect(web.post("/v1/reservations", "{\"id\":\"" + id + "\",\"channel\":\"web\",\"lines\":[{\"sku\":\"" + sku
        + "\",\"qty\":" + qty + "}]}"), 201);
    return id;
  }

  @Test
  @DisplayName("subscribe sends the current value per channel first, then every change: reserve, release, commit, movements")
  void snapshotThenUpdates() {
    String sku = Api.sku("st");
    admin.receive(sku, "main", 5);
    admin.receive(sku, "shop", 3);
    try (WsClient ws = WsClient.connect(a.port(), TestServer.READER)) {
      ws.subscribe("web", sku.toLowerCase());
      ws.subscribe("outlet", sku);
      JsonNode first = ws.awaitAvailable("web", sku, 8, 5000);
      ws.awaitAvailable("outlet", sku, 2, 5000); // shop's 3 less the buffer of 1
      long v = first.path("version").asLong();

      String id = reserve(sku, 6);
      JsonNode afterReserve = ws.awaitAvailable("web", sku, 2, 5000);
      assertTrue(afterReserve.path("version").asLong() > v);
      ws.awaitAvailable("outlet", sku, 1, 5000);
      expect(web.post("/v1/reservations/" + id + "/release", null), 200);
      ws.awaitAvailable("web", sku, 8, 5000);
      String c = reserve(sku, 1);
      expect(web.post("/v1/reservations/" + c + "/commit", null), 200);
      ws.awaitAvailable("web", sku, 7, 5000);
      admin.receive(sku, "shop", 10);
      ws.awaitAvailable("outlet", sku, 12, 5000);
    }
  }

  @Test
  @DisplayName("an expired hold shows up on the stream by itself")
  void expiryIsStreamed() {
    String sku = Api.sku("se");
    admin.receive(sku, "main", 2);
    try (WsClient ws = WsClient.connect(b.port(), TestServer.READER)) {
      ws.subscribe("web", sku);
      ws.until(5000, m -> isFor(m, "web", sku) && m.path("available").asLong() == 2);
      expect(web.post("/v1/reservations", "{\"id\":\"" + Api.id("e") + "\",\"channel\":\"web\",\"ttlSeconds\":3,"
          + "\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":2}]}"), 201);
      ws.until(10_000, m -> isFor(m, "web", sku) && m.path("available").asLong() == 0);
      ws.until(10_000, m -> isFor(m, "web", sku) && m.path("available").asLong() == 2);
    }
  }

  @Test
  @DisplayName("a change made through instance A reaches a subscriber on instance B; unsubscribe stops updates")
  void crossInstanceAndUnsubscribe() {
    String sku = Api.sku("sx");
    String sentinel = Api.sku("sentinel");
    admin.receive(sku, "main", 4);
    admin.receive(sentinel, "main", 4);
    try (WsClient ws = WsClient.connect(b.port(), TestServer.READER)) {
      ws.subscribe("web", sku, sentinel);
      // Each SKU's first value comes before its changes, but the two SKUs' may come in either order
      // (on a cluster they are read from different masters).
      ws.awaitAvailable("web", sku, 4, 5000);
      ws.awaitAvailable("web", sentinel, 4, 5000);
      reserve(sku, 1); // through A
      ws.until(5000, m -> isFor(m, "web", sku) && m.path("available").asLong() == 3);

      ws.unsubscribe("web", sku);
      // Messages on one socket are handled in order: once this is answered, the unsubscribe is in.
      ws.send("{\"op\":\"dance\"}");
      ws.until(5000, m -> "unknown_op".equals(m.path("code").asText()));
      reserve(sku, 1);
      reserve(sentinel, 1);
      List<JsonNode> before = new ArrayList<>();
      ws.until(5000, m -> isFor(m, "web", sentinel) && m.path("available").asLong() == 3, before::add);
      assertTrue(before.stream().noneMatch(m -> isFor(m, "web", sku)), "no update after unsubscribe: " + before);
    }
  }

  @Test
  @DisplayName("a burst of 1000 changes on one SKU: versions strictly increase, and the last value is the final one")
  void burst() throws Exception {
    String sku = Api.sku("sb");
    admin.receive(sku, "main", 1);
    try (WsClient ws = WsClient.connect(b.port(), TestServer.READER)) {
      ws.subscribe("web", sku);
      ws.until(5000, m -> isFor(m, "web", sku));
      StringBuilder batch = new StringBuilder("{\"movements\":[");
      for (int i = 0; i < 1000; i++) {
        batch.append(i == 0 ? "" : ",").append("{\"id\":\"").append(Api.id("b")).append("\",\"sku\":\"").append(sku)
            .append("\",\"location\":\"").append(i % 2 == 0 ? "main" : "shop").append("\",\"type\":\"receive\",\"qty\":1}");
      }
      expect(admin.post("/v1/movements", batch.append("]}").toString()), 200);
      JsonNode truth = expect(admin.get("/v1/skus/" + sku), 200).json();
      long finalVersion = truth.path("version").asLong();
      assertEquals(1001, truth.path("channels").path("web").asLong());
      long[] last = {-1};
      int[] count = {0};
      JsonNode end = ws.until(10_000, m -> isFor(m, "web", sku) && m.path("version").asLong() == finalVersion, m -> {
        if (isFor(m, "web", sku)) {
          long v = m.path("version").asLong();
          assertTrue(v > last[0], "versions strictly increase: " + v + " after " + last[0]);
          last[0] = v;
          count[0]++;
        }
      });
      assertEquals(1001, end.path("available").asLong());
      assertTrue(count[0] < 1000, "coalesced: " + count[0] + " messages for 1000 changes");
    }
  }

  @Test
  @DisplayName("a subscriber that never reads is closed in bounded time; a reading one on the same SKU keeps receiving")
  void slowConsumer() throws Exception {
    String sku = Api.sku("slow");
    admin.receive(sku, "main", 1);
    try (WsClient reader = WsClient.connect(a.port(), TestServer.READER); Socket raw = rawSubscriber(a.port(), sku)) {
      reader.subscribe("web", sku);
      reader.until(5000, m -> isFor(m, "web", sku));
      await("two sockets open", 5000, () -> connections(a) == 2.0);
      long start = System.currentTimeMillis();
      for (int i = 0; i < 20 && connections(a) > 1.0; i++) {
        admin.receive(sku, "main", 1);
      }
      await("the sleeping socket closed", 10_000, () -> connections(a) == 1.0);
      assertTrue(System.currentTimeMillis() - start < 10_000);
      admin.receive(sku, "main", 100);
      long total = expect(admin.get("/v1/skus/" + sku), 200).json().path("channels").path("web").asLong();
      reader.until(5000, m -> isFor(m, "web", sku) && m.path("available").asLong() == total);
    }
  }

  @Test
  @DisplayName("the subscriber connection to Redis dropped and restored: watchers converge without reconnecting")
  void subscriberConnectionDropped() throws Exception {
    String sku = Api.sku("sd");
    admin.receive(sku, "main", 10);
    try (WsClient ws = WsClient.connect(b.port(), TestServer.READER)) {
      ws.subscribe("web", sku);
      ws.until(5000, m -> isFor(m, "web", sku) && m.path("available").asLong() == 10);
      // Kill every pub/sub connection on Redis (both instances'), then change the SKU at once:
      // the event may well be published while nobody is subscribed.
      redisCommand("CLIENT", "KILL", "TYPE", "pubsub");
      reserve(sku, 4);
      ws.until(10_000, m -> isFor(m, "web", sku) && m.path("available").asLong() == 6);
      assertTrue(!ws.closed().isDone(), "the client did not have to reconnect");
      reserve(sku, 1);
      ws.until(5000, m -> isFor(m, "web", sku) && m.path("available").asLong() == 5);
    }
  }

  @Test
  @DisplayName("bad messages get an error message and the socket stays open; no key, no socket")
  void badMessages() {
    String sku = Api.sku("bad");
    admin.receive(sku, "main", 1);
    try (WsClient ws = WsClient.connect(a.port(), "t-web")) {
      ws.send("not json");
      assertEquals("malformed_json", ws.next(5000).path("code").asText());
      ws.send("{\"op\":\"dance\"}");
      assertEquals("unknown_op", ws.next(5000).path("code").asText());
      ws.send("{\"op\":\"subscribe\",\"channel\":\"web\",\"skus\":[\"bad sku\"]}");
      JsonNode e = ws.next(5000);
      assertEquals("invalid_sku", e.path("code").asText());
      assertEquals("error", e.path("type").asText());
      ws.send("{\"op\":\"subscribe\",\"channel\":\"web\",\"skus\":[]}");
      assertEquals("invalid_skus", ws.next(5000).path("code").asText());
      ws.subscribe("nowhere", sku);
      assertEquals("unknown_channel", ws.next(5000).path("code").asText());
      String[] many = new String[51];
      for (int i = 0; i < many.length; i++) {
        many[i] = "M" + i;
      }
      ws.subscribe("web", many);
      assertEquals("too_many_skus", ws.next(5000).path("code").asText());
      ws.subscribe("web", sku);
      assertEquals(1, ws.until(5000, m -> isFor(m, "web", sku)).path("available").asLong(), "still open and serving");
    }
    for (String key : new String[] {null, "wrong"}) {
      CompletionException refused = assertThrows(CompletionException.class, () -> WsClient.connect(a.port(), key));
      assertEquals(401, ((java.net.http.WebSocketHandshakeException) refused.getCause()).getResponse().statusCode());
    }
  }

  // ---- helpers ----------------------------------------------------------------------------

  static double connections(AllotServer s) {
    for (String line : new Api(s.port(), null).get("/metrics").text().split("\n")) {
      if (line.startsWith("allot_stream_connections ")) {
        return Double.parseDouble(line.substring(line.indexOf(' ') + 1));
      }
    }
    return -1;
  }

  /** A client that completes the handshake, subscribes, and then never reads again. */
  static Socket rawSubscriber(int port, String sku) throws Exception {
    Socket s = new Socket();
    s.setReceiveBufferSize(1024);
    s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
    OutputStream out = s.getOutputStream();
    out.write(("GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer "
        + TestServer.READER + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    out.flush();
    InputStream in = s.getInputStream();
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        throw new AssertionError("handshake cut short: " + head);
      }
      head.append((char) c);
    }
    assertTrue(head.toString().startsWith("HTTP/1.1 101"), head.toString());
    byte[] payload = ("{\"op\":\"subscribe\",\"channel\":\"web\",\"skus\":[\"" + sku + "\"]}").getBytes(StandardCharsets.UTF_8);
    byte[] mask = new byte[4];
    ThreadLocalRandom.current().nextBytes(mask);
    out.write(0x81);
    out.write(0x80 | payload.length);
    out.write(mask);
    for (int i = 0; i < payload.length; i++) {
      out.write(payload[i] ^ mask[i % 4]);
    }
    out.flush();
    return s; // and never read from it again
  }

  /** Runs a command on every Redis node (the standalone one, or each cluster master). */
  static void redisCommand(String... args) throws Exception {
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    try {
      for (String node : TestRedis.nodeUrls()) {
        dev.allot.store.RedisStore r = dev.allot.store.RedisStore.create(vertx, node, List.of(), 1);
        LuaScriptsTest.await(r.send(io.vertx.redis.client.Command.create(args[0]),
            (Object[]) java.util.Arrays.copyOfRange(args, 1, args.length)));
        LuaScriptsTest.await(r.close());
      }
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
  }
}
