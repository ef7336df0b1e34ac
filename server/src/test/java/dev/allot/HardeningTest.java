package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.config.Settings;
import dev.allot.store.RedisProcess;
import dev.allot.store.RedisSettings;
import dev.allot.store.RedisStore;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static dev.allot.Api.expect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Issue #15's first items: a Redis that may evict, a full Redis, and passwords in logs. */
class HardeningTest {
  static <T> T await(io.vertx.core.Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  /** As {@link #await}, for lambdas that cannot throw checked exceptions. */
  static <T> T awaitQuietly(io.vertx.core.Future<T> f) {
    try {
      return await(f);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  @DisplayName("a Redis whose maxmemory-policy may evict keys leaves the instance not ready until it is noeviction")
  void evictingRedisIsNotReady() throws Exception {
    try (RedisProcess redis = RedisProcess.start(RedisProcess.freePort(),
        List.of("--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"))) {
      AllotServer server = TestServer.start(redis.url(), Map.of());
      Vertx vertx = Vertx.vertx();
      try {
        Api anon = new Api(server.port(), null);
        Api.Res down = anon.get("/health/ready");
        assertEquals(503, down.status(), down.toString());
        assertEquals("DOWN", down.json().path("status").asText());
        assertEquals("allkeys-lru", down.json().path("maxmemoryPolicy").asText());
        ExpiryTest.await("the metric says so", 5000, () -> {
          try {
            return metric(server, "allot_redis_noeviction") == 0;
          } catch (Exception e) {
            return false;
          }
        });
        RedisStore admin = RedisStore.create(vertx, redis.url(), null, 1);
        await(admin.send(Command.CONFIG, "SET", "maxmemory-policy", "noeviction"));
        admin.close();
        Api.Res up = anon.get("/health/ready");
        assertEquals(200, up.status(), up.toString());
        assertEquals("noeviction", up.json().path("maxmemoryPolicy").asText());
      } finally {
        server.stop();
        vertx.close();
      }
    }
  }

  @Test
  @DisplayName("Redis's hash value limit is read at start: a record stays one listpack at deploy's 512, and a Redis"
      + " without CONFIG answers nothing")
  void recordEncoding() throws Exception {
    Vertx vertx = Vertx.vertx();
    try (RedisProcess recommended = RedisProcess.start();
         RedisProcess defaults = RedisProcess.start(RedisProcess.freePort(), List.of("--hash-max-ziplist-value", "64"));
         RedisProcess noConfig = RedisProcess.start(RedisProcess.freePort(), List.of("--rename-command", "CONFIG", ""))) {
      RedisStore a = RedisStore.create(vertx, recommended.url(), null, 1);
      RedisStore b = RedisStore.create(vertx, defaults.url(), null, 1);
      RedisStore c = RedisStore.create(vertx, noConfig.url(), null, 1);
      assertEquals(RedisProcess.RECOMMENDED_HASH_VALUE_BYTES, await(RedisSettings.hashValueLimit(a)));
      assertEquals(64, await(RedisSettings.hashValueLimit(b)));
      assertEquals(-1, await(RedisSettings.hashValueLimit(c)), "CONFIG renamed away: nothing to say, no failure");
      AllotServer server = TestServer.start(recommended.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web")));
      try {
        Api admin = new Api(server.port(), TestServer.ADMIN);
        String sku = admin.webShop("enc", 10);
        String id = Api.id("enc");
        String body = expect(admin.as("t-web").post("/v1/reservations", ExpiryTest.cart(id, sku, 1, 60)), 201).text();
        assertTrue(body.length() > 64, "the record keeps a 201 document longer than Redis's default limit: " + body);
        String encoding = String.valueOf(await(a.send(Command.OBJECT, "ENCODING", dev.allot.store.Keys.reservation(id))));
        assertTrue(encoding.equals("listpack") || encoding.equals("ziplist"), "one compact listpack: " + encoding);
      } finally {
        server.stop();
      }
      a.close();
      b.close();
      c.close();
    } finally {
      vertx.close();
    }
  }

  @Test
  @DisplayName("a full Redis (maxmemory reached, noeviction) is 503 store_unavailable, never a 500")
  void fullRedisIs503() throws Exception {
    try (RedisProcess redis = RedisProcess.start(RedisProcess.freePort(),
        List.of("--maxmemory", "64mb", "--maxmemory-policy", "noeviction"))) {
      AllotServer server = TestServer.start(redis.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web")));
      Vertx vertx = Vertx.vertx();
      try {
        Api admin = new Api(server.port(), TestServer.ADMIN);
        admin.location("main");
        admin.channel("web", "[\"main\"]", 0);
        String sku = Api.sku("full");
        admin.receive(sku, "main", 10);
        RedisStore filler = RedisStore.create(vertx, redis.url(), null, 1);
        String block = "x".repeat(256 * 1024);
        for (int i = 0; i < 8; i++) {
          await(filler.send(Command.SET, "filler:" + i, block));
        }
        // maxmemory below what is used, with noeviction: every write is refused from now on.
        await(filler.send(Command.CONFIG, "SET", "maxmemory", "1mb"));
        boolean full = false;
        try {
          await(filler.send(Command.SET, "one-more", "x"));
        } catch (Exception e) {
          full = String.valueOf(e.getMessage()).contains("OOM") || String.valueOf(e.getCause()).contains("OOM");
        }
        filler.close();
        assertTrue(full, "Redis refuses writes: it is full");
        JsonNode refused = expect(admin.as("t-web").post("/v1/reservations", ExpiryTest.cart(Api.id("f"), sku, 1, 60)),
            503).json();
        assertEquals("store_unavailable", refused.path("code").asText());
        assertEquals("store_unavailable", expect(admin.post("/v1/movements", "{\"movements\":[{\"id\":\"" + Api.id("m")
            + "\",\"sku\":\"" + sku + "\",\"location\":\"main\",\"type\":\"receive\",\"qty\":1}]}"), 503).code());
        assertEquals(0, admin.sku(sku, "main").path("reserved").asLong(), "nothing half-applied");
      } finally {
        server.stop();
        vertx.close();
      }
    }
  }

  @Test
  @DisplayName("while Redis loads its data after a restart, pipelined reads answer 503 store_unavailable, never 500")
  void loadingRedisIs503() throws Exception {
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("allot-loading-");
    int port = RedisProcess.freePort();
    List<String> args = List.of("--dir", dir.toString(), "--dbfilename", "dump.rdb");
    RedisProcess redis = RedisProcess.start(port, args);
    AllotServer server = TestServer.start(redis.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web")));
    Vertx vertx = Vertx.vertx();
    try {
      Api admin = new Api(server.port(), TestServer.ADMIN);
      admin.location("main");
      admin.channel("web", "[\"main\"]", 0);
      String a = Api.sku("load");
      String b = Api.sku("load");
      String kit = Api.sku("kit");
      admin.receive(a, "main", 10);
      admin.receive(b, "main", 4);
      expect(admin.put("/v1/bundles/" + kit, "{\"components\":[{\"sku\":\"" + a + "\",\"qty\":2},{\"sku\":\"" + b
          + "\",\"qty\":1}]}"), 200);
      String reads = "/v1/availability?channel=web&sku=" + a + "&sku=" + b + "&sku=" + kit;
      expect(admin.get(reads), 200);
      // Enough keys that loading them, 200 us each, takes seconds; then a dump, and a restart from it.
      RedisStore filler = RedisStore.create(vertx, redis.url(), null, 1);
      await(filler.send(Command.EVAL, "for i = 1, 20000 do redis.call('SET', 'filler:' .. i, 'x') end return 1", 0));
      await(filler.send(Command.SAVE));
      filler.close();
      redis.close();
      List<String> slow = new java.util.ArrayList<>(args);
      slow.addAll(List.of("--key-load-delay", "200", "--loading-process-events-interval-bytes", "1024"));
      redis = RedisProcess.start(port, slow);
      Api.Res loading = expect(admin.get(reads), 503);
      assertEquals("store_unavailable", loading.code(), loading.toString());
      assertTrue(loading.raw().headers().firstValue("Retry-After").isPresent(), loading.toString());
      assertEquals("store_unavailable", expect(admin.get("/v1/skus/" + kit), 503).code());
      assertEquals("store_unavailable", expect(admin.get("/v1/stats"), 503).code());
      // Loaded: the same reads answer, with the numbers from before the restart.
      ExpiryTest.await("loaded", 30_000, () -> admin.get(reads).status() == 200);
      JsonNode items = expect(admin.get(reads), 200).json().path("items");
      assertEquals(10, items.path(0).path("available").asLong());
      assertEquals(4, items.path(1).path("available").asLong());
      assertEquals(4, items.path(2).path("available").asLong(), "the bundle: min(10 / 2, 4 / 1)");
    } finally {
      server.stop();
      vertx.close();
      redis.close();
    }
  }

  @Test
  @DisplayName("the key is checked before a body is read: keyless, a 2 MiB body is 401, never buffered; with a key, 413")
  void keyBeforeBody() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web")));
    try {
      String big = "{\"id\":\"" + "x".repeat(2 * 1024 * 1024) + "\"}";
      assertEquals("unauthorized", expect(new Api(server.port(), null).post("/v1/reservations", big), 401).code());
      assertEquals("unauthorized", expect(new Api(server.port(), "nobody").post("/v1/movements", big), 401).code());
      assertEquals("body_too_large", expect(new Api(server.port(), "t-web").post("/v1/reservations", big), 413).code());
    } finally {
      server.stop();
    }
  }

  @Test
  @DisplayName("a stream client flooding pings is closed with 1008 instead of growing the server's pong queue")
  void pingFloodIsClosed() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of());
    try (java.net.Socket sock = RawWs.open(server.port(), 0, 10_000)) {
      java.io.OutputStream out = sock.getOutputStream();
      // 200 masked pings of 125 bytes, as fast as the socket takes them, never reading the pongs.
      byte[] frame = RawWs.frame(0x9, true, new byte[125]);
      try {
        for (int i = 0; i < 200; i++) {
          out.write(frame);
        }
      } catch (java.io.IOException closedOnUs) {
        // the server may close while we write: what it sent before says why
      }
      assertEquals(1008, RawWs.closeCode(sock.getInputStream()), "policy violation: too many pings");
    } finally {
      server.stop();
    }
  }

  @Test
  @DisplayName("a stream message over 64 KiB closes the socket with 1009, in one frame or in fragments")
  void oversizedStreamMessageIs1009() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of());
    try {
      for (boolean fragmented : new boolean[] {true, false}) {
        try (java.net.Socket sock = RawWs.open(server.port(), 0, 10_000)) {
          java.io.OutputStream out = sock.getOutputStream();
          try {
            if (fragmented) {
              // Two frames of 40 KiB, each under the frame limit: the message is 80 KiB.
              out.write(RawWs.frame(0x1, false, spaces(40 * 1024)));
              out.write(RawWs.frame(0x0, true, spaces(40 * 1024)));
            } else {
              // One frame announcing 80 KiB: refused on its header (only its start is sent, so the server
              // closes a socket with nothing unread, which would otherwise reset before its close frame arrives).
              byte[] big = RawWs.frame(0x1, true, spaces(80 * 1024));
              out.write(big, 0, 1024);
            }
          } catch (java.io.IOException closedOnUs) {
            // closed while we wrote: the close frame says why
          }
          assertEquals(1009, RawWs.closeCode(sock.getInputStream()), (fragmented ? "fragmented" : "one frame") + ": too big");
        }
      }
    } finally {
      server.stop();
    }
  }

  @Test
  @DisplayName("HTTP edges: no Host is 400, a client gone mid-body is no error, 414/431/400 are problem documents,"
      + " 405 names what is allowed")
  void httpEdges() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of());
    try (LogCapture logs = new LogCapture()) {
      String noHost = rawHttp(server, "GET /v1/skus/A HTTP/1.1\r\nAuthorization: Bearer " + TestServer.ADMIN
          + "\r\n\r\n", 0);
      assertTrue(noHost.startsWith("HTTP/1.1 400"), noHost);
      assertTrue(noHost.contains("\"code\":\"missing_host\""), noHost);
      String longLine = rawHttp(server, "GET /v1/skus/" + "A".repeat(70_000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 0);
      assertTrue(longLine.contains(" 414 "), longLine.substring(0, Math.min(200, longLine.length())));
      assertTrue(longLine.contains("application/problem+json") && longLine.contains("\"code\":\"uri_too_long\""), longLine);
      String bigHeaders = rawHttp(server, "GET /v1/skus/A HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(9000)
          + "\r\n\r\n", 0);
      assertTrue(bigHeaders.startsWith("HTTP/1.1 431"), bigHeaders);
      assertTrue(bigHeaders.contains("\"code\":\"headers_too_large\""), bigHeaders);
      String garbage = rawHttp(server, "GET /v1/skus/A HTTP/1.1\r\nHost: x\r\nnot a header line\r\n\r\n", 0);
      assertTrue(garbage.startsWith("HTTP/1.1 400"), garbage);
      assertTrue(garbage.contains("\"code\":\"bad_request\""), garbage);
      Api.Res notAllowed = expect(new Api(server.port(), TestServer.ADMIN).call("DELETE", "/v1/skus/A", null), 405);
      assertEquals("method_not_allowed", notAllowed.code());
      assertEquals("GET", notAllowed.raw().headers().firstValue("Allow").orElse(""), notAllowed.toString());
      Api.Res notAllowed2 = expect(new Api(server.port(), TestServer.ADMIN).put("/v1/reservations/x/commit", "{}"), 405);
      assertEquals("POST", notAllowed2.raw().headers().firstValue("Allow").orElse(""));
      // A client that sends half its body and leaves: nothing to answer, nothing to log as an error.
      rawHttp(server, "POST /v1/movements HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TestServer.ADMIN
          + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"movements\":[", 300);
      Api admin = new Api(server.port(), TestServer.ADMIN);
      expect(admin.get("/health/ready"), 200); // served on
      assertEquals(0, logs.records().stream().filter(r -> r.getLevel().intValue() >= java.util.logging.Level.SEVERE
          .intValue()).count(), () -> "errors logged: " + logs.records().stream()
          .map(r -> r.getLoggerName() + " " + r.getMessage()).toList());
    } finally {
      server.stop();
    }
  }

  @Test
  @DisplayName("POST /v1/reservations, answered past the router, answers every HTTP edge as the router does:"
      + " no Host, no key, a body growing past 1 MiB, Expect, an empty or non-JSON body, a client gone mid-body")
  void reserveEdgesPastTheRouter() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of());
    try (LogCapture logs = new LogCapture()) {
      Api admin = new Api(server.port(), TestServer.ADMIN);
      String sku = admin.webShop("edge", 10);
      String head = "POST /v1/reservations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TestServer.ADMIN
          + "\r\nContent-Type: application/json\r\n";
      String cart = ExpiryTest.cart(Api.id("edge"), sku, 1, 60);

      String noHost = rawHttp(server, "POST /v1/reservations HTTP/1.1\r\nAuthorization: Bearer " + TestServer.ADMIN
          + "\r\nContent-Type: application/json\r\nContent-Length: " + cart.length() + "\r\n\r\n" + cart, 0);
      assertTrue(noHost.startsWith("HTTP/1.1 400") && noHost.contains("\"code\":\"missing_host\""), noHost);

      String noKey = rawHttp(server, "POST /v1/reservations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
          + "\r\nContent-Length: " + cart.length() + "\r\nConnection: close\r\n\r\n" + cart, 0);
      assertTrue(noKey.startsWith("HTTP/1.1 401") && noKey.contains("\"code\":\"unauthorized\""), noKey);
      assertTrue(noKey.toLowerCase(java.util.Locale.ROOT).contains("www-authenticate: bearer"), noKey);

      // Chunked, so no length says so up front: 5 chunks of 256 KiB cross the limit on the fifth.
      StringBuilder chunked = new StringBuilder(head).append("Transfer-Encoding: chunked\r\n\r\n");
      String piece = " ".repeat(256 * 1024);
      for (int i = 0; i < 5; i++) {
        chunked.append(Integer.toHexString(piece.length())).append("\r\n").append(piece).append("\r\n");
      }
      chunked.append("0\r\n\r\n");
      String grown = rawHttp(server, chunked.toString(), 0);
      assertTrue(grown.startsWith("HTTP/1.1 413") && grown.contains("\"code\":\"body_too_large\""),
          grown.substring(0, Math.min(300, grown.length())));

      String continued = rawHttp(server, head + "Expect: 100-continue\r\nContent-Length: " + cart.length()
          + "\r\nConnection: close\r\n\r\n" + cart, 0);
      assertTrue(continued.startsWith("HTTP/1.1 100 Continue") && continued.contains("HTTP/1.1 201"), continued);
      String unmet = rawHttp(server, head + "Expect: something-else\r\nContent-Length: " + cart.length()
          + "\r\nConnection: close\r\n\r\n" + cart, 0);
      assertTrue(unmet.startsWith("HTTP/1.1 417"), unmet);

      assertEquals("malformed_json", expect(admin.call("POST", "/v1/reservations", ""), 400).code());
      String plain = rawHttp(server, "POST /v1/reservations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
          + TestServer.ADMIN + "\r\nContent-Type: text/plain\r\nContent-Length: " + cart.length()
          + "\r\nConnection: close\r\n\r\n" + cart, 0);
      assertTrue(plain.startsWith("HTTP/1.1 415") && plain.contains("unsupported_media_type"), plain);

      // Half a body, then gone: nothing to answer, nothing logged as an error, nothing held.
      rawHttp(server, head + "Content-Length: 1000\r\n\r\n{\"id\":\"gone\",\"lines\":[", 300);
      expect(admin.get("/health/ready"), 200);
      assertEquals(1, admin.sku(sku, "main").path("reserved").asLong(), "only the 100-continue cart holds a unit");
      assertEquals(0, logs.records().stream().filter(r -> r.getLevel().intValue() >= java.util.logging.Level.SEVERE
          .intValue()).count(), () -> "errors logged: " + logs.records().stream()
          .map(r -> r.getLoggerName() + " " + r.getMessage()).toList());
    } finally {
      server.stop();
    }
  }

  @Test
  @DisplayName("slowloris: connections that never finish a request head are closed at the header deadline,"
      + " while others are served")
  void slowHeadsAreClosed() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of("ALLOT_HTTP_HEADER_TIMEOUT_MILLIS", "500"));
    List<java.net.Socket> slow = new java.util.ArrayList<>();
    try {
      for (int i = 0; i < 30; i++) {
        java.net.Socket sock = new java.net.Socket("127.0.0.1", server.port());
        sock.setSoTimeout(10_000);
        if (i % 3 == 1) {
          sock.getOutputStream().write("GET /v1/skus/A HTTP/1.1\r\nHo".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        } else if (i % 3 == 2) {
          sock.getOutputStream().write('G'); // then one more byte now and then, never the whole head
        }
        slow.add(sock);
      }
      long start = System.nanoTime();
      for (int b = 0; b < 2; b++) {
        for (int i = 2; i < slow.size(); i += 3) {
          slow.get(i).getOutputStream().write('E');
        }
        expect(new Api(server.port(), null).get("/health/live"), 200); // others are served meanwhile
      }
      for (java.net.Socket sock : slow) {
        assertEquals(-1, sock.getInputStream().read(), "closed by the server, with nothing sent");
      }
      long tookMillis = (System.nanoTime() - start) / 1_000_000;
      assertTrue(tookMillis < 8000, "closed at the deadline, not at the read timeout: " + tookMillis + " ms");
      assertTrue(metric(server, "allot_http_header_timeouts_total") >= 30);
    } finally {
      for (java.net.Socket sock : slow) {
        sock.close();
      }
      server.stop();
    }
  }

  @Test
  @DisplayName("a cap on connections per instance: past it a connection is closed at accept; a freed slot serves again")
  void connectionCap() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of("ALLOT_HTTP_MAX_CONNECTIONS", "5"));
    List<java.net.Socket> held = new java.util.ArrayList<>();
    try {
      for (int i = 0; i < 5; i++) {
        java.net.Socket sock = new java.net.Socket("127.0.0.1", server.port());
        sock.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
            .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        sock.setSoTimeout(5000);
        assertEquals('H', sock.getInputStream().read(), "served: one of the 5");
        held.add(sock);
      }
      try (java.net.Socket sixth = new java.net.Socket("127.0.0.1", server.port())) {
        sixth.setSoTimeout(5000);
        int first;
        try {
          sixth.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
              .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
          first = sixth.getInputStream().read();
        } catch (java.net.SocketException reset) {
          first = -1;
        }
        assertEquals(-1, first, "the sixth connection is closed unanswered");
      }
      held.remove(0).close();
      ExpiryTest.await("a slot free again", 5000, () -> {
        try (java.net.Socket again = new java.net.Socket("127.0.0.1", server.port())) {
          again.setSoTimeout(2000);
          again.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
          return again.getInputStream().read() == 'H';
        } catch (java.io.IOException e) {
          return false;
        }
      });
      for (java.net.Socket sock : held) {
        sock.close();
      }
      held.clear();
      ExpiryTest.await("metrics served", 5000, () -> {
        try {
          return metric(server, "allot_http_connections_refused_total") >= 1;
        } catch (Exception e) {
          return false;
        }
      });
    } finally {
      for (java.net.Socket sock : held) {
        sock.close();
      }
      server.stop();
    }
  }

  private static byte[] spaces(int n) {
    return " ".repeat(n).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  }

  /** A counter's value from /metrics (0 when absent). */
  static double metric(AllotServer server, String name) throws Exception {
    String text = rawHttp(server, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    for (String line : text.split("\n")) {
      if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1).trim());
      }
    }
    return 0;
  }

  /**
   * Sends raw bytes and reads the answer until the server closes or goes quiet for a second; with
   * {@code leaveAfterMillis} above 0, closes after that long instead, reading nothing.
   */
  private static String rawHttp(AllotServer server, String request, long leaveAfterMillis) throws Exception {
    try (java.net.Socket sock = new java.net.Socket("127.0.0.1", server.port())) {
      sock.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
      if (leaveAfterMillis > 0) {
        Thread.sleep(leaveAfterMillis); // the server must see the partial body before the client goes
        return "";
      }
      sock.setSoTimeout(1000);
      java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      try {
        for (int n; (n = sock.getInputStream().read(buf)) > 0; ) {
          got.write(buf, 0, n);
        }
      } catch (java.net.SocketTimeoutException | java.net.SocketException quietOrReset) {
        // what arrived is the answer
      }
      return got.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
    }
  }

  @Test
  @DisplayName("made-up HTTP methods add no metric series: they count as OTHER")
  void madeUpMethodsAddNoSeries() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of());
    try {
      java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
      for (int i = 0; i < 40; i++) {
        http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + server.port()
            + "/v1/skus/X")).method("MADEUP" + i, java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
            java.net.http.HttpResponse.BodyHandlers.discarding());
      }
      String metrics = new Api(server.port(), null).get("/metrics").text();
      java.util.Set<String> methods = new java.util.TreeSet<>();
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("method=\"([^\"]*)\"").matcher(metrics);
      while (m.find()) {
        methods.add(m.group(1));
      }
      assertTrue(methods.contains("OTHER"), "the made-up methods were counted: " + methods);
      assertFalse(methods.stream().anyMatch(x -> x.startsWith("MADEUP")), "no series per made-up method: " + methods);
      // Made-up paths, with and without /v1: the route label is the route's template, never the path.
      // A second round of other made-up paths adds no series at all.
      Api anon = new Api(server.port(), null);
      int[] lines = new int[2];
      for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 40; i++) {
          String p = round + "-" + i;
          anon.get("/made-up-" + p);
          anon.get("/v1/made-up-" + p);
          anon.get("/v1/skus/MADE-UP-" + p);
        }
        String after = anon.get("/metrics").text();
        assertFalse(after.contains("made-up") || after.contains("MADE-UP"), "no series names a path");
        lines[round] = (int) after.lines().filter(l -> l.startsWith("vertx_http_server")).count();
      }
      assertEquals(lines[0], lines[1], "other made-up paths added HTTP series");
    } finally {
      server.stop();
    }
  }

  @Test
  @DisplayName("one key holds at most ALLOT_STREAM_MAX_SOCKETS_PER_KEY stream sockets per instance; others are 429")
  void streamSocketsPerKey() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of("ALLOT_STREAM_MAX_SOCKETS_PER_KEY", "2"));
    try (WsClient a = WsClient.connect(server.port(), TestServer.READER);
         WsClient b = WsClient.connect(server.port(), TestServer.READER)) {
      Exception refused = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
          () -> WsClient.connect(server.port(), TestServer.READER).close());
      Throwable cause = refused;
      while (cause != null && !(cause instanceof java.net.http.WebSocketHandshakeException)) {
        cause = cause.getCause();
      }
      assertTrue(cause != null, "the upgrade was refused: " + refused);
      assertEquals(429, ((java.net.http.WebSocketHandshakeException) cause).getResponse().statusCode());
      // Another key is not held back by this one.
      WsClient.connect(server.port(), TestServer.ADMIN).close();
      b.close();
      ExpiryTest.await("the closed socket's slot back", 5_000, () -> {
        try {
          WsClient.connect(server.port(), TestServer.READER).close();
          return true;
        } catch (Exception e) {
          return false;
        }
      });
    } finally {
      server.stop();
    }
  }

  @Test
  @DisplayName("one key watches at most ALLOT_STREAM_MAX_SKUS_PER_KEY distinct SKUs per instance, over all its sockets")
  void streamSkusPerKey() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of("ALLOT_STREAM_MAX_SKUS_PER_KEY", "3"));
    Api admin = new Api(server.port(), TestServer.ADMIN);
    admin.location("main");
    admin.channel("web", "[\"main\"]", 0);
    String s1 = Api.sku("k1");
    String s2 = Api.sku("k2");
    String s3 = Api.sku("k3");
    String s4 = Api.sku("k4");
    try (WsClient a = WsClient.connect(server.port(), TestServer.READER);
         WsClient b = WsClient.connect(server.port(), TestServer.READER);
         WsClient other = WsClient.connect(server.port(), TestServer.ADMIN)) {
      a.subscribe("web", s1, s2);
      a.awaitAvailable("web", s2, 0, 10_000);
      b.subscribe("web", s2, s3);
      b.awaitAvailable("web", s3, 0, 10_000);
      b.subscribe("web", s4);
      JsonNode refused = b.until(10_000, m -> m.path("type").asText().equals("error"));
      assertEquals("too_many_skus", refused.path("code").asText(), refused.toString());
      other.subscribe("web", s4);
      other.awaitAvailable("web", s4, 0, 10_000);
      a.unsubscribe("web", s1);
      // The unsubscribe is another socket's message: once it is through, the key has room again.
      long deadline = System.currentTimeMillis() + 10_000;
      boolean watching = false;
      while (!watching && System.currentTimeMillis() < deadline) {
        b.subscribe("web", s4);
        JsonNode m = b.until(5_000, x -> x.path("type").asText().equals("error")
            || (x.path("type").asText().equals("availability") && s4.equals(x.path("sku").asText())));
        watching = m.path("type").asText().equals("availability");
      }
      assertTrue(watching, "a SKU let go by one socket of the key can be watched by another");
    } finally {
      server.stop();
    }
  }

  @Test
  @DisplayName("input: ids . and .., duplicate JSON fields, a body not sent as JSON, non-ASCII and control characters in SKUs")
  void inputDetails() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web")));
    try {
      Api admin = new Api(server.port(), TestServer.ADMIN);
      Api web = admin.as("t-web");
      admin.location("main");
      admin.channel("web", "[\"main\"]", 0);
      String sku = Api.sku("inp");
      admin.receive(sku, "main", 5);
      for (String id : List.of(".", "..")) {
        assertEquals("invalid_id", expect(web.post("/v1/reservations", "{\"id\":\"" + id + "\",\"channel\":\"web\","
            + "\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":1}]}"), 400).code(), id);
      }
      assertEquals("malformed_json", expect(web.post("/v1/reservations", "{\"id\":\"a1\",\"id\":\"a2\",\"channel\":"
          + "\"web\",\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":1}]}"), 400).code());
      java.net.http.HttpResponse<String> plain = java.net.http.HttpClient.newHttpClient().send(
          java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + server.port() + "/v1/reservations"))
              .header("Authorization", "Bearer t-web").header("Content-Type", "text/plain")
              .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"id\":\"p1\",\"channel\":\"web\",\"lines\":"
                  + "[{\"sku\":\"" + sku + "\",\"qty\":1}]}")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      assertEquals(415, plain.statusCode(), plain.body());
      assertTrue(plain.body().contains("unsupported_media_type"), plain.body());
      assertEquals(0, admin.sku(sku, "main").path("reserved").asLong(), "nothing held by the refused calls");
      // SKUs: spaces and tabs trimmed and ASCII upper-cased; nothing else folded.
      String lower = " \t" + sku.toLowerCase(java.util.Locale.ROOT) + "\t";
      assertEquals(sku, expect(web.get("/v1/availability?channel=web&sku="
          + java.net.URLEncoder.encode(lower, java.nio.charset.StandardCharsets.UTF_8)), 200).json()
          .path("items").path(0).path("sku").asText());
      for (String bad : List.of("\u017Fku-1", "gro\u00DF", "\u0000SKU-1", "SKU-1\u0001")) {
        assertEquals("invalid_sku", expect(web.get("/v1/availability?channel=web&sku="
            + java.net.URLEncoder.encode(bad, java.nio.charset.StandardCharsets.UTF_8)), 400).code(), bad);
      }
    } finally {
      server.stop();
    }
  }

  @Test
  @DisplayName("Redis passwords never reach a log line")
  void passwordsRedacted() {
    assertEquals("redis://:***@10.0.0.1:6379", Settings.redact("redis://:s3cret@10.0.0.1:6379"));
    assertEquals("redis://default:***@cache:6379/0", Settings.redact("redis://default:s3cret@cache:6379/0"));
    assertEquals("rediss://***@cache:6380", Settings.redact("rediss://s3cret@cache:6380"));
    assertEquals("redis://cache:6379", Settings.redact("redis://cache:6379"));
    Settings s = Settings.fromValues(Map.of("ALLOT_REDIS_CLUSTER", "redis://:pw1@a:7000,redis://:pw2@b:7001"));
    assertFalse(s.redis().description().contains("pw"), s.redis().description());
    Settings one = Settings.fromValues(Map.of("ALLOT_REDIS_URL", "redis://:hunter2@r:6379"));
    assertFalse(one.redis().description().contains("hunter2"), one.redis().description());
  }
}
