package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.store.RedisProcess;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static dev.allot.Api.expect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The runnable jar as an operator runs it: its ready line, its configuration, its demo mode, SIGTERM. */
class JarIT {
  static final String JAR = System.getProperty("allot.jar", "target/allot-server.jar");

  /** A running jar and everything it printed so far. */
  record Running(Process process, List<String> output, int port) {
    String text() {
      synchronized (output) {
        return String.join("\n", output);
      }
    }
  }

  static Running launch(Map<String, String> env) throws Exception {
    int port = RedisProcess.freePort();
    ProcessBuilder pb = new ProcessBuilder(javaBin(), "-jar", new File(JAR).getAbsolutePath()).redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("ALLOT_"));
    pb.environment().put("ALLOT_HTTP_PORT", Integer.toString(port));
    pb.environment().putAll(env);
    Process p = pb.start();
    List<String> out = Collections.synchronizedList(new ArrayList<>());
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          out.add(line);
        }
      } catch (Exception ignored) {
        // process ended
      }
    });
    reader.setDaemon(true);
    reader.start();
    Running run = new Running(p, out, port);
    ExpiryTest.await("the ready line", 60_000, () -> {
      if (!p.isAlive()) {
        throw new AssertionError("the server exited: " + run.text());
      }
      return run.text().contains("Allot ready on port " + port);
    });
    return run;
  }

  static String javaBin() {
    return System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
  }

  static void terminate(Running run) throws Exception {
    // SIGTERM. Process.destroy() would also close our end of its output, losing its last lines.
    run.process().toHandle().destroy();
    assertTrue(run.process().waitFor(30, TimeUnit.SECONDS), "stops within 30 s of SIGTERM");
    ExpiryTest.await("the stopped line", 5000, () -> run.text().contains("allot: stopped"), run::text);
    assertEquals(143, run.process().exitValue(), "exit status of a clean stop on SIGTERM (128 + 15)");
  }

  @Test
  @DisplayName("java -jar with ALLOT_REDIS_URL uses that Redis (no embedded one), enforces ALLOT_API_KEYS, stops on SIGTERM")
  void externalRedis() throws Exception {
    String redisUrl = TestRedis.url();
    Running run = launch(Map.of("ALLOT_REDIS_URL", redisUrl,
        "ALLOT_API_KEYS", "k-admin=admin,k-web=channel:web,k-read=reader"));
    try {
      String ready = run.output().stream().filter(l -> l.contains("Allot ready")).findFirst().orElseThrow();
      assertTrue(ready.contains(redisUrl), ready);
      assertFalse(ready.contains("embedded"), ready);
      assertFalse(run.text().contains("embedded Redis"), "no embedded Redis is started");
      Api admin = new Api(run.port(), "k-admin");
      admin.location("main");
      admin.channel("web", "[\"main\"]", 0);
      String sku = Api.sku("jar");
      admin.receive(sku, "main", 2);
      Api web = admin.as("k-web");
      expect(admin.as("k-read").post("/v1/reservations", "{\"id\":\"x\",\"channel\":\"web\",\"lines\":[{\"sku\":\"" + sku
          + "\",\"qty\":1}]}"), 403);
      expect(admin.as("demo-admin").get("/v1/skus/" + sku), 401);
      String id = Api.id("jar");
      expect(web.post("/v1/reservations", "{\"id\":\"" + id + "\",\"channel\":\"web\",\"lines\":[{\"sku\":\"" + sku
          + "\",\"qty\":1}]}"), 201);
      expect(web.post("/v1/reservations/" + id + "/commit", null), 200);
      assertEquals(1, admin.sku(sku, "main").path("committed").asLong());
    } finally {
      terminate(run);
    }
  }

  @Test
  @DisplayName("demo mode: no Redis configured starts an embedded one with the demo catalogue; the README's calls work")
  void demoMode() throws Exception {
    Running run = launch(Map.of());
    try {
      assertTrue(run.text().contains("(embedded)"), run.text());
      assertTrue(run.text().contains("demo-web"), "the demo keys are printed");
      Api web = new Api(run.port(), "demo-web");
      JsonNode skus = expect(web.get("/v1/availability?channel=web&sku=TSHIRT-BLK-M&sku=MUG-LOGO"), 200).json();
      assertEquals(50, skus.path("items").path(0).path("available").asLong());
      // The README's reserve and commit, as written there.
      Api.Res r = expect(web.post("/v1/reservations", "{\"id\": \"cart-1\", \"channel\": \"web\", \"ttlSeconds\": 300,"
          + " \"lines\": [{\"sku\": \"TSHIRT-BLK-M\", \"qty\": 2}, {\"sku\": \"MUG-LOGO\", \"qty\": 1}]}"), 201);
      assertEquals("held", r.json().path("state").asText());
      expect(web.post("/v1/reservations/cart-1/commit", "{\"orderId\": \"order-1001\"}"), 200);
      assertEquals(48, web.channelAvailable("web", "TSHIRT-BLK-M"));
      JsonNode moved = expect(web.as("demo-admin").post("/v1/movements", "{\"movements\": [{\"id\": \"erp-1001\","
          + " \"sku\": \"TSHIRT-BLK-M\", \"location\": \"main\", \"type\": \"receive\", \"qty\": 40,"
          + " \"reason\": \"PO 4471\"}]}"), 200).json();
      assertEquals("applied", moved.path("results").path(0).path("status").asText());
      JsonNode read = expect(web.as("demo-reader").get("/v1/skus/TSHIRT-BLK-M"), 200).json();
      assertEquals(80, read.path("locations").path("main").path("onHand").asLong());
      assertEquals(88, read.path("channels").path("web").asLong());

      // The README's allocation calls: b2b's 8 hoodies are hidden from the others, then raised to 10.
      JsonNode hoodie = expect(web.as("demo-reader").get("/v1/skus/HOODIE-GRY-M"), 200).json();
      assertEquals(16, hoodie.path("channels").path("web").asLong(), hoodie.toString());
      assertEquals(10, hoodie.path("channels").path("marketplace").asLong());
      assertEquals(20, hoodie.path("channels").path("b2b").asLong(), "its own 8 and the 12 others may sell at main");
      assertEquals(8, hoodie.path("allocations").path("b2b").path("allocated").asLong());
      JsonNode raised = expect(web.as("demo-admin").put("/v1/skus/HOODIE-GRY-M/allocations/b2b",
          "{\"location\": \"main\", \"units\": 10}"), 200).json();
      assertEquals(10, raised.path("allocated").asLong());
      assertEquals(14, web.channelAvailable("web", "HOODIE-GRY-M"));

      // The README's change feed call: the demo's own changes are events.
      JsonNode events = expect(web.as("demo-admin").get("/v1/events?limit=5"), 200).json();
      assertEquals(5, events.path("events").size(), events.toString());
      assertFalse(events.path("next").asText().isEmpty());

      // The README's domain examples, as written there.
      Api.Res kit = expect(web.post("/v1/reservations", "{\"id\": \"cart-2\", \"channel\": \"web\", \"lines\":"
          + " [{\"sku\": \"STARTER-KIT\", \"qty\": 1}]}"), 201);
      assertEquals(3, kit.json().path("lines").path(0).path("components").size());
      JsonNode alias = expect(web.as("demo-marketplace").get("/v1/availability?channel=marketplace&sku=MKT-TEE-BLK-M"),
          200).json().path("items").path(0);
      assertEquals("TSHIRT-BLK-M", alias.path("sku").asText());
      Api.Res limited = expect(web.post("/v1/reservations", "{\"id\": \"cart-3\", \"channel\": \"web\","
          + " \"customer\": \"c-123\", \"lines\": [{\"sku\": \"FLASH-DROP-1\", \"qty\": 3}]}"), 409);
      assertEquals("customer_limit", limited.code());
      Api.Res po = expect(web.as("demo-b2b").post("/v1/reservations", "{\"id\": \"po-1\", \"channel\": \"b2b\","
          + " \"lines\": [{\"sku\": \"SNEAKER-43\", \"qty\": 20}]}"), 201);
      assertEquals(6, po.json().path("lines").path(0).path("backordered").asLong());
      JsonNode ledger = expect(web.as("demo-reader").get("/v1/skus/TSHIRT-BLK-M/ledger?limit=5"), 200).json();
      assertEquals("hold", ledger.path("entries").path(0).path("type").asText());
      assertEquals(75, web.channelAvailable("marketplace", "TSHIRT-BLK-M"), "marketplace: main only (78 less the kit's tee), buffer 2");
    } finally {
      terminate(run);
    }
  }
}
