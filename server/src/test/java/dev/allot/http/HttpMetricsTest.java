package dev.allot.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.allot.AllotServer;
import dev.allot.Api;
import dev.allot.TestRedis;
import dev.allot.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The HTTP server's request series (HttpMetrics) under parallel requests: the counts, times and
 * byte sums add up request by request, under the names and labels Vert.x gives them, and every
 * request leaves the active count.
 */
class HttpMetricsTest {
  static AllotServer server;
  static Api admin;
  static Api web;
  static Api anon;

  /** The route label vertx-web reports for POST /v1/reservations: the routes it passed, joined with '>'. */
  static final String RESERVE = "code=\"201\",method=\"POST\",route=\"/v1/>/v1/>/v1/reservations\"";
  static final String UNAUTHORIZED_POST = "code=\"401\",method=\"POST\",route=\"/v1/\"";
  static final String MADE_UP = "code=\"401\",method=\"OTHER\",route=\"/v1/\"";

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start(TestRedis.url(), Map.of("ALLOT_API_KEYS", TestServer.keys("web")));
    admin = new Api(server.port(), TestServer.ADMIN);
    web = admin.as("t-web");
    anon = new Api(server.port(), null);
  }

  @AfterAll
  static void stop() throws Exception {
    server.stop();
  }

  static double value(String metrics, String series) {
    for (String line : metrics.split("\n")) {
      if (line.startsWith(series + " ")) {
        return Double.parseDouble(line.substring(series.length() + 1).trim());
      }
    }
    return 0;
  }

  @Test
  @DisplayName("parallel requests: each counted once with its time and bytes by method, route, code; none left active")
  void countsAddUp() {
    String sku = Api.sku("metrics");
    admin.location("main");
    admin.channel("web", "[\"main\"]", 0);
    admin.receive(sku, "main", 100);
    String before = Api.expect(anon.get("/metrics"), 200).text();

    int n = 40;
    List<CompletableFuture<Api.Res>> calls = new ArrayList<>();
    List<String> bodies = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String body = "{\"id\":\"" + Api.id("m") + "\",\"channel\":\"web\",\"ttlSeconds\":60,\"lines\":[{\"sku\":\"" + sku
          + "\",\"qty\":1}]}";
      bodies.add(body);
      calls.add(web.async("POST", "/v1/reservations", body));
    }
    calls.add(anon.async("POST", "/v1/reservations", "{}"));
    // A made-up method straight through the JDK's client (the contract check knows only real ones).
    CompletableFuture<java.net.http.HttpResponse<Void>> madeUp = java.net.http.HttpClient.newHttpClient().sendAsync(
        java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + server.port() + "/v1/skus/" + sku))
            .method("MADEUP", java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
        java.net.http.HttpResponse.BodyHandlers.discarding());
    long answered = 0;
    for (int i = 0; i < calls.size(); i++) {
      Api.Res r = calls.get(i).join();
      assertEquals(i < n ? 201 : 401, r.status(), r.toString());
      if (i < n) {
        answered += r.raw().body().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
      }
    }
    assertEquals(401, madeUp.join().statusCode());
    long sent = bodies.stream().mapToLong(b -> b.getBytes(java.nio.charset.StandardCharsets.UTF_8).length).sum();

    String after = Api.expect(anon.get("/metrics"), 200).text();
    assertEquals(n, delta(before, after, "vertx_http_server_requests_total{" + RESERVE + "}"), after);
    assertEquals(n, delta(before, after, "vertx_http_server_response_time_seconds_count{" + RESERVE + "}"));
    assertTrue(delta(before, after, "vertx_http_server_response_time_seconds_sum{" + RESERVE + "}") > 0);
    assertEquals(answered, delta(before, after, "vertx_http_server_response_bytes_sum{" + RESERVE + "}"));
    assertEquals(1, delta(before, after, "vertx_http_server_requests_total{" + UNAUTHORIZED_POST + "}"));
    assertEquals(1, delta(before, after, "vertx_http_server_requests_total{" + MADE_UP + "}"),
        "a made-up method is OTHER");
    assertEquals(n + 1, delta(before, after, "vertx_http_server_request_bytes_count{method=\"POST\"}"));
    assertEquals(sent + 2, delta(before, after, "vertx_http_server_request_bytes_sum{method=\"POST\"}"));
    assertTrue(after.contains("vertx_http_server_active_requests{method=\"POST\"} "), "the gauge is there");
    assertEquals(0, value(after, "vertx_http_server_active_requests{method=\"POST\"}"), "every POST left the count");
    assertEquals(1, value(after, "vertx_http_server_active_requests{method=\"GET\"}"),
        "the scrape itself is under way");
    assertTrue(value(after, "vertx_http_server_bytes_read_total") > 0, "Vert.x's connection series are still there");
    assertTrue(after.contains("vertx_http_server_active_connections"), "Vert.x's connection series are still there");
  }

  static double delta(String before, String after, String series) {
    return value(after, series) - value(before, series);
  }

  @Test
  @DisplayName("a request's routes joined: the same text for every request on the same routes, made once")
  void routesJoined() {
    HttpMetrics.Request first = new HttpMetrics.Request(null);
    HttpMetrics.Request second = new HttpMetrics.Request(null);
    for (HttpMetrics.Request r : List.of(first, second)) {
      r.addRoute("/v1/");
      r.addRoute(null);
      r.addRoute("/v1/");
      r.addRoute("/v1/reservations");
    }
    assertEquals("/v1/>/v1/>/v1/reservations", first.route());
    assertSame(first.route(), second.route(), "made once");
    HttpMetrics.Request none = new HttpMetrics.Request(null);
    assertEquals("", none.route());
  }
}
