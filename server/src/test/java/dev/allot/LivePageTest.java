package dev.allot;

import dev.allot.config.Settings;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.allot.Api.expect;
import static dev.allot.ExpiryTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The live product page in a real browser: headless Chromium (Debian's chromium package; .ci/run
 * installs it) driven over the DevTools protocol. Skipped, saying so, when no Chromium is found.
 */
class LivePageTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  static String chromium() {
    String env = System.getenv("CHROME_BIN");
    for (String p : new String[] {env, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
      if (p != null && new File(p).canExecute()) {
        return p;
      }
    }
    return null;
  }

  @Test
  @DisplayName("the demo page shows live counts: a reservation made through the API changes the number shown, and Buy works")
  void livePage() throws Exception {
    String chrome = chromium();
    Assumptions.assumeTrue(chrome != null, "SKIPPED: no Chromium found (install Debian's chromium package, or set"
        + " CHROME_BIN); the live page browser test did not run");
    int port = dev.allot.store.RedisProcess.freePort();
    // Demo mode, exactly as the README's run command: embedded Redis, demo catalogue and keys.
    AllotServer server = AllotServer.start(Settings.fromValues(Map.of("ALLOT_HTTP_PORT", Integer.toString(port))));
    Path profile = Files.createTempDirectory("allot-chromium-");
    Process browser = new ProcessBuilder(chrome, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,1000", "--user-data-dir=" + profile,
        "--remote-debugging-port=0", "about:blank").redirectErrorStream(true)
        .redirectOutput(profile.resolve("chromium.log").toFile()).start();
    try {
      Path portFile = profile.resolve("DevToolsActivePort");
      await("Chromium's DevTools port", 30_000, () -> Files.exists(portFile) && lines(portFile) >= 2,
          () -> log(profile));
      int devtools = Integer.parseInt(Files.readAllLines(portFile).get(0).trim());
      HttpClient http = HttpClient.newHttpClient();
      HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + devtools
          + "/json/new?" + "http://127.0.0.1:" + port + "/")).PUT(HttpRequest.BodyPublishers.noBody()).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, created.statusCode(), created.body());
      String pageWs = MAPPER.readTree(created.body()).path("webSocketDebuggerUrl").asText();
      try (Cdp cdp = new Cdp(pageWs)) {
        await("the page's stream is live", 20_000, () -> "live".equals(cdp.eval("document.body.dataset.stream")));
        await("FLASH-DROP-1 shows 100", 20_000, () -> "100".equals(count(cdp, "FLASH-DROP-1")));

        Api web = new Api(port, "demo-web");
        expect(web.post("/v1/reservations", "{\"id\":\"browser-1\",\"channel\":\"web\",\"ttlSeconds\":300,"
            + "\"lines\":[{\"sku\":\"FLASH-DROP-1\",\"qty\":3}]}"), 201);
        await("the page shows 97 without a reload", 20_000, () -> "97".equals(count(cdp, "FLASH-DROP-1")));

        String before = count(cdp, "MUG-LOGO");
        cdp.eval("document.querySelector('[data-sku=\"MUG-LOGO\"] button').click(), 'clicked'");
        long expected = Long.parseLong(before) - 1;
        await("Buy reserved and committed one mug", 20_000, () -> String.valueOf(expected).equals(count(cdp, "MUG-LOGO")));
        Api reader = web.as("demo-reader");
        await("the page committed its hold", 20_000, () -> expect(reader.get("/v1/skus/MUG-LOGO"), 200).json()
            .path("locations").path("main").path("committed").asLong() == 1);

        // The operator panel names a webhook endpoint that cannot be reached as failing.
        int closed = dev.allot.store.RedisProcess.freePort();
        expect(web.as("demo-admin").put("/v1/webhooks/erp", "{\"url\":\"http://127.0.0.1:" + closed
            + "/hook\",\"types\":[\"reservation.committed\"]}"), 200);
        expect(web.post("/v1/reservations", "{\"id\":\"browser-2\",\"channel\":\"web\",\"lines\":[{\"sku\":"
            + "\"MUG-LOGO\",\"qty\":1}]}"), 201);
        expect(web.post("/v1/reservations/browser-2/commit", null), 200);
        await("the panel shows the endpoint failing", 20_000, () -> "failing".equals(cdp.eval(
            "(document.querySelector('#sync-list [data-endpoint=\"erp\"]') || {dataset: {}}).dataset.state || ''")));
        cdp.eval("document.getElementById('ops').open = true, 'opened'");

        JsonNode shot = cdp.call("Page.captureScreenshot", MAPPER.createObjectNode().put("format", "png"));
        byte[] png = Base64.getDecoder().decode(shot.path("data").asText());
        Path out = Path.of("target", "live-page.png");
        Files.write(out, png);
        assertTrue(png.length > 10_000, "a real screenshot was taken: " + out.toAbsolutePath());
      }
    } finally {
      browser.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
      browser.destroyForcibly();
      browser.waitFor(10, TimeUnit.SECONDS);
      server.stop();
    }
  }

  static String count(Cdp cdp, String sku) {
    return cdp.eval("(document.querySelector('[data-sku=\"" + sku + "\"] .count') || {}).textContent || ''");
  }

  static int lines(Path p) {
    try {
      return Files.readAllLines(p).size();
    } catch (Exception e) {
      return 0;
    }
  }

  static String log(Path profile) {
    try {
      return Files.readString(profile.resolve("chromium.log"));
    } catch (Exception e) {
      return "";
    }
  }

  /** A minimal Chrome DevTools protocol client for one page. */
  static final class Cdp implements AutoCloseable {
    private final WebSocket ws;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<JsonNode>> waiting = new ConcurrentHashMap<>();

    Cdp(String url) {
      StringBuilder partial = new StringBuilder();
      ws = HttpClient.newHttpClient().newWebSocketBuilder().buildAsync(URI.create(url), new WebSocket.Listener() {
        @Override
        public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
          partial.append(data);
          if (last) {
            try {
              JsonNode msg = MAPPER.readTree(partial.toString());
              CompletableFuture<JsonNode> f = msg.has("id") ? waiting.remove(msg.get("id").asInt()) : null;
              if (f != null) {
                f.complete(msg);
              }
            } catch (Exception ignored) {
              // events we do not follow
            }
            partial.setLength(0);
          }
          w.request(1);
          return null;
        }
      }).join();
    }

    JsonNode call(String method, ObjectNode params) {
      int id = ids.incrementAndGet();
      CompletableFuture<JsonNode> f = new CompletableFuture<>();
      waiting.put(id, f);
      ObjectNode msg = MAPPER.createObjectNode().put("id", id).put("method", method);
      msg.set("params", params);
      ws.sendText(msg.toString(), true).join();
      try {
        JsonNode r = f.get(20, TimeUnit.SECONDS);
        if (r.has("error")) {
          throw new AssertionError(method + ": " + r.get("error"));
        }
        return r.path("result");
      } catch (Exception e) {
        throw new AssertionError(method + " failed: " + e, e);
      }
    }

    String eval(String expression) {
      JsonNode r = call("Runtime.evaluate", MAPPER.createObjectNode().put("expression", expression)
          .put("returnByValue", true));
      return r.path("result").path("value").asText("");
    }

    @Override
    public void close() {
      ws.abort();
    }
  }
}
