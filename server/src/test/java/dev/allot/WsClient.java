package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A stream client for tests (JDK WebSocket): every server message lands in a queue, parsed. */
public final class WsClient implements AutoCloseable {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private final BlockingQueue<JsonNode> messages = new LinkedBlockingQueue<>();
  private final CompletableFuture<Integer> closed = new CompletableFuture<>();
  private final WebSocket ws;

  private WsClient(int port, String key) {
    WebSocket.Builder b = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5));
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    StringBuilder partial = new StringBuilder();
    ws = b.buildAsync(URI.create("ws://127.0.0.1:" + port + "/v1/stream"), new WebSocket.Listener() {
      @Override
      public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
        partial.append(data);
        if (last) {
          try {
            messages.add(MAPPER.readTree(partial.toString()));
          } catch (Exception e) {
            messages.add(MAPPER.createObjectNode().put("type", "unparseable").put("text", partial.toString()));
          }
          partial.setLength(0);
        }
        w.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onClose(WebSocket w, int statusCode, String reason) {
        closed.complete(statusCode);
        return null;
      }

      @Override
      public void onError(WebSocket w, Throwable error) {
        closed.completeExceptionally(error);
      }
    }).join();
  }

  public static WsClient connect(int port, String key) {
    return new WsClient(port, key);
  }

  public void send(String json) {
    ws.sendText(json, true).join();
  }

  public void subscribe(String channel, String... skus) {
    send("{\"op\":\"subscribe\",\"channel\":\"" + channel + "\",\"skus\":[\"" + String.join("\",\"", skus) + "\"]}");
  }

  public void unsubscribe(String channel, String... skus) {
    send("{\"op\":\"unsubscribe\",\"channel\":\"" + channel + "\",\"skus\":[\"" + String.join("\",\"", skus) + "\"]}");
  }

  /** The next message, or an AssertionError after the timeout. */
  public JsonNode next(long timeoutMillis) {
    try {
      JsonNode m = messages.poll(timeoutMillis, TimeUnit.MILLISECONDS);
      if (m == null) {
        throw new AssertionError("no stream message within " + timeoutMillis + " ms");
      }
      return m;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Reads messages until one matches (the ones before it are passed to {@code seen}, if given). */
  public JsonNode until(long timeoutMillis, Predicate<JsonNode> match, java.util.function.Consumer<JsonNode> seen) {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    while (true) {
      long left = deadline - System.currentTimeMillis();
      if (left <= 0) {
        throw new AssertionError("no matching stream message within " + timeoutMillis + " ms");
      }
      JsonNode m = next(left);
      if (seen != null) {
        seen.accept(m);
      }
      if (match.test(m)) {
        return m;
      }
    }
  }

  public JsonNode until(long timeoutMillis, Predicate<JsonNode> match) {
    return until(timeoutMillis, match, null);
  }

  private final java.util.Map<String, JsonNode> latest = new java.util.HashMap<>();

  /**
   * Waits until the latest availability seen for (channel, SKU) is {@code available}; messages for
   * other SKUs and channels met on the way are remembered too, so the order they come in does not matter.
   */
  public JsonNode awaitAvailable(String channel, String sku, long available, long timeoutMillis) {
    String key = channel + "|" + sku;
    JsonNode known = latest.get(key);
    if (known != null && known.path("available").asLong() == available) {
      return known;
    }
    return until(timeoutMillis, m -> key.equals(m.path("channel").asText() + "|" + m.path("sku").asText())
        && m.path("available").asLong() == available, m -> {
          if ("availability".equals(m.path("type").asText())) {
            latest.put(m.path("channel").asText() + "|" + m.path("sku").asText(), m);
          }
        });
  }

  public CompletableFuture<Integer> closed() {
    return closed;
  }

  @Override
  public void close() {
    try {
      ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(2, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      ws.abort();
    }
  }
}
