package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A real webhook receiver for the tests: the JDK's HTTP server on a free port. It verifies each
 * delivery's Standard Webhooks signature with its own HMAC code (written from the spec, not shared
 * with the server's), records what came, and answers the status the test sets.
 */
final class Receiver implements AutoCloseable {
  /** One delivery as received. {@code verified}: the signature matched the secret and the timestamp is fresh. */
  record Delivery(String webhookId, long timestamp, String signature, String body, JsonNode event, boolean verified,
                  int answered) {
  }

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private final HttpServer server;
  private final List<Delivery> received = new ArrayList<>();
  private final AtomicInteger status = new AtomicInteger(200);
  private volatile long delayMillis;
  private volatile String secret;

  Receiver() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/hook", exchange -> {
      try (InputStream in = exchange.getRequestBody()) {
        String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        String id = exchange.getRequestHeaders().getFirst("webhook-id");
        String ts = exchange.getRequestHeaders().getFirst("webhook-timestamp");
        String sig = exchange.getRequestHeaders().getFirst("webhook-signature");
        int answer = status.get();
        if (delayMillis > 0) {
          Thread.sleep(delayMillis); // a slow receiver, on purpose: deliveries are under way when a test acts
        }
        JsonNode event = MAPPER.readTree(body);
        boolean ok = verify(secret, id, ts, sig, body);
        synchronized (received) {
          received.add(new Delivery(id, ts == null ? 0 : Long.parseLong(ts), sig, body, event, ok, answer));
        }
        exchange.sendResponseHeaders(answer, -1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        exchange.close();
      }
    });
    server.start();
  }

  String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/hook";
  }

  void secret(String s) {
    this.secret = s;
  }

  /** What the receiver answers from now on (200, 500, 410 ...). */
  void answer(int code) {
    status.set(code);
  }

  /** How long it takes to answer each delivery from now on. */
  void delay(long millis) {
    this.delayMillis = millis;
  }

  List<Delivery> received() {
    synchronized (received) {
      return List.copyOf(received);
    }
  }

  /** The deliveries it answered with a 2xx, of the events {@code mine} picks. */
  List<Delivery> accepted(Predicate<JsonNode> mine) {
    return received().stream().filter(d -> d.answered() / 100 == 2 && mine.test(d.event())).toList();
  }

  /**
   * Standard Webhooks: HMAC-SHA256 over "id.timestamp.body" with the base64 part of "whsec_..." as the
   * key; the header holds space-separated "v1,<base64>" signatures; the timestamp within 5 minutes.
   */
  static boolean verify(String secret, String id, String ts, String header, String body) {
    if (secret == null || id == null || ts == null || header == null) {
      return false;
    }
    try {
      long t = Long.parseLong(ts);
      if (Math.abs(System.currentTimeMillis() / 1000 - t) > 300) {
        return false;
      }
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(Base64.getDecoder().decode(secret.substring("whsec_".length())), "HmacSHA256"));
      byte[] expected = mac.doFinal((id + "." + ts + "." + body).getBytes(StandardCharsets.UTF_8));
      for (String part : header.split(" ")) {
        if (part.startsWith("v1,")
            && MessageDigest.isEqual(expected, Base64.getDecoder().decode(part.substring(3)))) {
          return true;
        }
      }
      return false;
    } catch (Exception e) {
      return false;
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
