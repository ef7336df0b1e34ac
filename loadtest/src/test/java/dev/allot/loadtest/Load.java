package dev.allot.loadtest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What every simulation shares: its parameters (system properties with small defaults), and the
 * plain HTTP calls that set up stock before a run and read the server's truth after it.
 */
public final class Load {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();

  private Load() {
  }

  // ---- parameters -------------------------------------------------------------------------

  public static String str(String name, String dflt) {
    String v = System.getProperty(name);
    return v == null || v.isBlank() ? dflt : v.trim();
  }

  public static int integer(String name, int dflt) {
    return Integer.parseInt(str(name, Integer.toString(dflt)));
  }

  public static double dbl(String name, double dflt) {
    return Double.parseDouble(str(name, Double.toString(dflt)));
  }

  /** The first of -Dbase (comma-separated when several instances share the load). */
  public static String base() {
    return bases().get(0);
  }

  /** Every base URL: the simulations spread their users over them (Gatling's baseUrls). */
  public static List<String> bases() {
    return List.of(str("base", "http://127.0.0.1:8080").split(","));
  }

  public static String wsBase() {
    return base().replaceFirst("^http", "ws");
  }

  public static String adminKey() {
    return str("adminKey", "demo-admin");
  }

  /** The key a channel's buyers use: -DchannelKey.web=..., else -DchannelKey=..., else demo-&lt;channel&gt;. */
  public static String channelKey(String channel) {
    return str("channelKey." + channel, str("channelKey", "demo-" + channel));
  }

  public static String readerKey() {
    return str("readerKey", "demo-reader");
  }

  /** A fresh SKU code per run, so runs never share stock. */
  public static String runSku(String prefix) {
    return (prefix + "-" + Long.toString(System.currentTimeMillis(), 36) + "-"
        + Integer.toString((int) (Math.random() * 46656), 36)).toUpperCase(Locale.ROOT);
  }

  // ---- set-up and truth, over plain HTTP -----------------------------------------------------

  public static JsonNode call(String method, String path, String key, String body) {
    try {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(60))
          .header("Authorization", "Bearer " + key)
          .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
      if (body != null) {
        b.header("content-type", "application/json");
      }
      HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() >= 300) {
        throw new IllegalStateException(method + " " + path + " answered " + r.statusCode() + ": " + r.body());
      }
      return r.body().isEmpty() ? null : MAPPER.readTree(r.body());
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(method + " " + path + " failed: " + e, e);
    }
  }

  /** Creates the location unless the server already has it (an existing one is left as it is). */
  public static void ensureLocation(String id) {
    for (JsonNode l : call("GET", "/v1/locations", adminKey(), null).path("locations")) {
      if (id.equals(l.path("id").asText())) {
        return;
      }
    }
    call("PUT", "/v1/locations/" + id, adminKey(), "{\"name\":\"" + id + "\"}");
  }

  /**
   * Makes sure the channel exists and draws from the location (created as [location] with no
   * buffer when missing; an existing channel is never changed, only checked).
   */
  public static void ensureChannel(String id, String location) {
    JsonNode ch = null;
    for (JsonNode c : call("GET", "/v1/channels", adminKey(), null).path("channels")) {
      if (id.equals(c.path("id").asText())) {
        ch = c;
      }
    }
    if (ch == null) {
      call("PUT", "/v1/channels/" + id, adminKey(), "{\"locations\":[\"" + location + "\"],\"buffer\":0}");
      return;
    }
    for (JsonNode l : ch.path("locations")) {
      if (location.equals(l.asText())) {
        return;
      }
    }
    throw new IllegalStateException("channel " + id + " does not draw from location " + location
        + ": pick another -Dlocation or -Dchannel");
  }

  /** Receives stock in batches of at most 1000 movements; every one must be applied. */
  public static void receive(List<String> skus, String location, int qtyEach) {
    for (int from = 0; from < skus.size(); from += 1000) {
      StringBuilder sb = new StringBuilder("{\"movements\":[");
      for (int i = from; i < Math.min(skus.size(), from + 1000); i++) {
        sb.append(i == from ? "" : ",").append("{\"id\":\"load-").append(skus.get(i)).append('-').append(location)
            .append("\",\"sku\":\"").append(skus.get(i)).append("\",\"location\":\"").append(location)
            .append("\",\"type\":\"receive\",\"qty\":").append(qtyEach).append(",\"reason\":\"load test set-up\"}");
      }
      JsonNode r = call("POST", "/v1/movements", adminKey(), sb.append("]}").toString());
      for (JsonNode res : r.path("results")) {
        if (!"applied".equals(res.path("status").asText())) {
          throw new IllegalStateException("set-up movement not applied: " + res);
        }
      }
    }
  }

  /** A SKU's totals over every location: onHand, reserved, committed. */
  public record Totals(long onHand, long reserved, long committed) {
  }

  public static Totals totals(String sku) {
    JsonNode r = call("GET", "/v1/skus/" + sku, readerKey(), null);
    long on = 0;
    long res = 0;
    long com = 0;
    var it = r.path("locations").elements();
    while (it.hasNext()) {
      JsonNode l = it.next();
      on += l.path("onHand").asLong();
      res += l.path("reserved").asLong();
      com += l.path("committed").asLong();
    }
    return new Totals(on, res, com);
  }

  /** Heap in use on the server, from its metrics (for the soak's "memory stays flat"). */
  public static double serverHeapMiB() {
    try {
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString());
      double sum = 0;
      for (String l : r.body().split("\n")) {
        if (l.startsWith("jvm_memory_used_bytes{") && l.contains("area=\"heap\"")) {
          sum += Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
        }
      }
      return sum / 1048576.0;
    } catch (Exception e) {
      return -1;
    }
  }

  public static List<String> skus(String prefix, int n) {
    String run = runSku(prefix);
    List<String> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(run + "-" + i);
    }
    return out;
  }
}
