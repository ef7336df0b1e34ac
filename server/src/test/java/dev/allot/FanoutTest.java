package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.Socket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.allot.Api.expect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fan-out under a slow reader (#14): a socket that does not read is held back and later gets the
 * newest value of each SKU, never an older one after a newer; the others are not delayed by it,
 * and a socket that closes in the middle of the changes disturbs nobody.
 */
class FanoutTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @Test
  @DisplayName("a slow socket beside fast ones: the fast get every SKU's final value at once; the slow one,"
      + " once it reads, the newest of each, versions rising")
  void slowSocketBesideFastOnes() throws Exception {
    AllotServer server = TestServer.start(TestRedis.url(), Map.of("ALLOT_STREAM_QUEUE_BYTES", "1024",
        "ALLOT_STREAM_COALESCE_MILLIS", "1", "ALLOT_STREAM_STALL_MILLIS", "60000",
        "ALLOT_HTTP_SEND_BUFFER_BYTES", "4096"));
    Api admin = new Api(server.port(), TestServer.ADMIN);
    admin.location("main");
    admin.channel("web", "[\"main\"]", 0);
    List<String> skus = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      skus.add(Api.sku("fan"));
      admin.receive(skus.get(i), "main", 1);
    }
    String subscribe = "{\"op\":\"subscribe\",\"channel\":\"web\",\"skus\":[\"" + String.join("\",\"", skus) + "\"]}";
    // The slow reader: a raw socket with a tiny receive buffer that reads nothing until told.
    Socket slow = RawWs.open(server.port(), 2048, 20_000);
    InputStream in = slow.getInputStream();
    slow.getOutputStream().write(RawWs.text(subscribe));
    List<WsClient> fast = new ArrayList<>();
    WsClient leaver = WsClient.connect(server.port(), TestServer.READER);
    leaver.subscribe("web", skus.toArray(new String[0]));
    try {
      for (int i = 0; i < 3; i++) {
        WsClient c = WsClient.connect(server.port(), TestServer.READER);
        c.subscribe("web", skus.toArray(new String[0]));
        fast.add(c);
      }
      for (WsClient c : fast) {
        for (String sku : skus) {
          c.awaitAvailable("web", sku, 1, 5000);
        }
      }
      // 60,000 change events, 10,000 per SKU, published straight into Redis as the stock scripts publish
      // them (version|loc=available), far faster than HTTP could cause them: the slow socket's kernel
      // buffers and write queue fill. One watcher leaves half-way through.
      dev.allot.store.RedisStore redis = TestRedis.clusterMode()
          ? dev.allot.store.RedisStore.create(io.vertx.core.Vertx.vertx(), null, List.of(TestRedis.clusterUrls().split(",")), 1)
          : dev.allot.store.RedisStore.create(io.vertx.core.Vertx.vertx(), TestRedis.url(), null, 1);
      Map<String, Long> bases = new HashMap<>();
      for (String sku : skus) {
        bases.put(sku, admin.get("/v1/skus/" + sku).json().path("version").asLong());
      }
      List<CompletableFuture<Void>> writers = new ArrayList<>();
      for (String sku : skus) {
        writers.add(CompletableFuture.runAsync(() -> {
          // 500 calls of 20 events each, one after the other: spread over time, so coalescing (1 ms) lets
          // most of them through as messages.
          for (int part = 0; part < 500; part++) {
            publish(redis, sku, bases.get(sku), part * 20 + 1, part * 20 + 20);
            if (part == 250 && sku.equals(skus.get(0))) {
              leaver.close();
            }
          }
        }));
      }
      CompletableFuture.allOf(writers.toArray(new CompletableFuture[0])).join();
      // How many messages that made depends on how the publishing and the coalescing interleaved: on a
      // busy machine the calls come in bursts and few messages fill few bytes. Until the slow socket is
      // held back, each SKU gets 20 more events at a time (the final value moves up with them).
      long last = 10_000;
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (metric(server, "allot_stream_held_back_total") == 0 && System.nanoTime() < until) {
        for (String sku : skus) {
          publish(redis, sku, bases.get(sku), last + 1, last + 20);
        }
        last += 20;
      }
      long finalValue = last;
      // The fast watchers have every SKU's final value without waiting for the slow one, each
      // message whole (they parse) and, per SKU, versions strictly rising.
      for (WsClient c : fast) {
        Map<String, Long> seenVersion = new HashMap<>();
        Map<String, Long> seenAvailable = new HashMap<>();
        c.until(20_000, m -> skus.stream().allMatch(sku -> seenAvailable.getOrDefault(sku, 0L) == finalValue), m -> {
          assertEquals("availability", m.path("type").asText(), m.toString());
          String sku = m.path("sku").asText();
          long v = m.path("version").asLong();
          assertTrue(v > seenVersion.getOrDefault(sku, -1L), "versions rise for " + sku + ": " + v);
          seenVersion.put(sku, v);
          seenAvailable.put(sku, m.path("available").asLong());
        });
      }
      // The slow one was held back (its queue filled), and now reads: the newest of each SKU arrives,
      // and per SKU the versions it reads only go up.
      ExpiryTest.await("held back", 10_000, () -> metric(server, "allot_stream_held_back_total") > 0, () -> new Api(server.port(), null).get("/metrics")
          .text().lines().filter(l -> l.startsWith("allot_stream")).toList().toString());
      Map<String, Long> versions = new HashMap<>();
      Map<String, Long> available = new HashMap<>();
      int messages = 0;
      while (!skus.stream().allMatch(s -> available.getOrDefault(s, 0L) == finalValue)) {
        RawWs.Frame frame = RawWs.read(in);
        assertEquals(0x81, frame.first(), "a final text frame");
        JsonNode m = MAPPER.readTree(frame.text());
        if (!"availability".equals(m.path("type").asText())) {
          continue;
        }
        messages++;
        String sku = m.path("sku").asText();
        long v = m.path("version").asLong();
        assertTrue(v > versions.getOrDefault(sku, -1L), "versions rise for " + sku + ": " + v + " after "
            + versions.get(sku));
        versions.put(sku, v);
        available.put(sku, m.path("available").asLong());
      }
      assertTrue(messages < skus.size() * finalValue, "the slow socket was sent fewer messages than changes: " + messages);
    } finally {
      fast.forEach(WsClient::close);
      slow.close();
      server.stop();
    }
  }

  /** Events from..to of a SKU (version base + i, available i), published as the stock scripts publish them. */
  private static void publish(dev.allot.store.RedisStore redis, String sku, long base, long from, long to) {
    HardeningTest.awaitQuietly(redis.send(io.vertx.redis.client.Command.EVAL,
        "local pub = (redis.REDIS_VERSION_NUM or 0) >= 0x070000 and 'SPUBLISH' or 'PUBLISH' "
            + "for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do "
            + "redis.call(pub, KEYS[1], (tonumber(ARGV[3]) + i) .. '|main=' .. i) end return 1",
        1, dev.allot.store.Keys.events(sku), from, to, base));
  }

  private static double metric(AllotServer server, String name) {
    try {
      return HardeningTest.metric(server, name);
    } catch (Exception e) {
      return 0; // not served this time: the poll tries again
    }
  }
}
