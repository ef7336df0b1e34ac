package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A small blocking/async HTTP client for tests: every call returns status, headers and parsed JSON.
 * Every response is first checked against the server's openapi.yaml ({@link Contract}): a response
 * the document does not describe fails the test, whatever the test itself asserts.
 */
public final class Api {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  private final String base;
  private final String key;

  public Api(int port, String key) {
    this.base = "http://127.0.0.1:" + port;
    this.key = key;
  }

  public Api as(String otherKey) {
    return new Api(Integer.parseInt(base.substring(base.lastIndexOf(':') + 1)), otherKey);
  }

  public record Res(int status, JsonNode json, String text, HttpResponse<String> raw) {
    public String code() {
      return json == null ? null : json.path("code").asText(null);
    }

    @Override
    public String toString() {
      return status + " " + text;
    }
  }

  public Res get(String path) {
    return call("GET", path, null);
  }

  public Res post(String path, String body) {
    return call("POST", path, body);
  }

  public Res put(String path, String body) {
    return call("PUT", path, body);
  }

  public Res call(String method, String path, String body) {
    try {
      return async(method, path, body).join();
    } catch (CompletionException e) {
      // Surface a contract mismatch (or any other failure) as itself, not wrapped.
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw e;
    }
  }

  public CompletableFuture<Res> async(String method, String path, String body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    if (body != null) {
      b.header("content-type", "application/json");
    }
    return CLIENT.sendAsync(b.build(), HttpResponse.BodyHandlers.ofString()).thenApply(r -> {
      Map<String, String> headers = new HashMap<>();
      r.headers().map().forEach((name, values) -> headers.put(name, values.get(0)));
      Contract.get().check(method, path, r.statusCode(), headers, r.body());
      JsonNode json = null;
      try {
        json = r.body().isEmpty() ? null : MAPPER.readTree(r.body());
      } catch (Exception ignored) {
        // not JSON (metrics, yaml): keep the text
      }
      return new Res(r.statusCode(), json, r.body(), r);
    });
  }

  /** A random SKU code, unique per test run. */
  public static String sku(String prefix) {
    return prefix.toUpperCase() + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()).toUpperCase();
  }

  public static String id(String prefix) {
    return prefix + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
  }

  // ---- common set-up calls (admin key) ------------------------------------------------------

  public void location(String id) {
    expect(put("/v1/locations/" + id, "{\"name\":\"" + id + "\"}"), 200);
  }

  public void channel(String id, String locationsJson, int buffer) {
    expect(put("/v1/channels/" + id, "{\"locations\":" + locationsJson + ",\"buffer\":" + buffer + "}"), 200);
  }

  /**
   * Most tests' shop: a "main" location, a "web" channel selling it without a buffer, and a new SKU
   * (named from {@code skuPrefix}) with {@code qty} units there. Answers the SKU.
   */
  public String webShop(String skuPrefix, long qty) {
    location("main");
    channel("web", "[\"main\"]", 0);
    String sku = sku(skuPrefix);
    receive(sku, "main", qty);
    return sku;
  }

  public void receive(String sku, String location, long qty) {
    Res r = post("/v1/movements", "{\"movements\":[{\"id\":\"" + id("rcv") + "\",\"sku\":\"" + sku
        + "\",\"location\":\"" + location + "\",\"type\":\"receive\",\"qty\":" + qty + "}]}");
    expect(r, 200);
    if (!"applied".equals(r.json().path("results").path(0).path("status").asText())) {
      throw new AssertionError("receive not applied: " + r);
    }
  }

  public JsonNode sku(String sku, String location) {
    return expect(get("/v1/skus/" + sku), 200).json().path("locations").path(location);
  }

  public long channelAvailable(String channel, String sku) {
    return expect(get("/v1/availability?channel=" + channel + "&sku=" + sku), 200).json()
        .path("items").path(0).path("available").asLong();
  }

  /**
   * What {@link #parallelBuyers} saw: every id tried, in order, those answered 201, and each of those
   * 201 bodies by id.
   */
  public record Buyers(java.util.List<String> ids, java.util.Set<String> held,
                       java.util.Map<String, String> bodies) {
  }

  /**
   * n buyers at once, the i-th through {@code callers[i % callers.length]}, each POSTing
   * {@code body(id)} to /v1/reservations with a fresh id; every answer must be 201 or 409.
   */
  public static Buyers parallelBuyers(int n, String prefix, java.util.function.Function<String, String> body,
                                      Api... callers) {
    java.util.List<String> ids = new java.util.ArrayList<>();
    java.util.List<CompletableFuture<Res>> calls = new java.util.ArrayList<>();
    for (int i = 0; i < n; i++) {
      String id = id(prefix);
      ids.add(id);
      calls.add(callers[i % callers.length].async("POST", "/v1/reservations", body.apply(id)));
    }
    java.util.Set<String> held = new java.util.HashSet<>();
    java.util.Map<String, String> bodies = new java.util.HashMap<>();
    for (int i = 0; i < n; i++) {
      Res r = calls.get(i).join();
      if (r.status() != 201 && r.status() != 409) {
        throw new AssertionError("expected 201 or 409 but got " + r);
      }
      if (r.status() == 201) {
        held.add(ids.get(i));
        bodies.put(ids.get(i), r.text());
      }
    }
    return new Buyers(ids, held, bodies);
  }

  public static Res expect(Res r, int status) {
    if (r.status() != status) {
      throw new AssertionError("expected " + status + " but got " + r);
    }
    return r;
  }
}
