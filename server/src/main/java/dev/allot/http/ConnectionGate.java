package dev.allot.http;

import dev.allot.common.Throttled;
import dev.allot.config.Settings;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The bounds on HTTP connections (#15): at most {@code ALLOT_HTTP_MAX_CONNECTIONS} open on this
 * instance (a connection past it is closed as soon as it is accepted), and each connection must
 * send a complete request head within {@code ALLOT_HTTP_HEADER_TIMEOUT_MILLIS} of being accepted
 * (slowloris: a client that opens connections and trickles or never sends its head). Idle
 * connections are the HTTP server's own idle timeout. One gate per instance, shared by its event
 * loops; {@link Loop} is the part each event loop keeps to itself.
 */
public final class ConnectionGate {
  private static final System.Logger LOG = System.getLogger(ConnectionGate.class.getName());
  private final int max;
  private final long headerTimeoutMillis;
  private final AtomicInteger open = new AtomicInteger();
  private final Counter refused;
  private final Counter headerTimeouts;
  private final Throttled refusals = new Throttled(LOG, 10_000);

  public ConnectionGate(Settings.Http http, MeterRegistry registry) {
    this.max = http.maxConnections();
    this.headerTimeoutMillis = http.headerTimeoutMillis();
    Gauge.builder("allot_http_connections", open, AtomicInteger::get)
        .description("HTTP connections open on this instance (stream sockets included)").register(registry);
    this.refused = Counter.builder("allot_http_connections_refused")
        .description("connections closed at accept: ALLOT_HTTP_MAX_CONNECTIONS were open").register(registry);
    this.headerTimeouts = Counter.builder("allot_http_header_timeouts")
        .description("connections closed for not sending a request head in ALLOT_HTTP_HEADER_TIMEOUT_MILLIS")
        .register(registry);
  }

  /** The gate as one event loop uses it: its connections still waiting for their first request head. */
  final class Loop {
    private final Vertx vertx;
    private final Map<HttpConnection, Long> awaitingHead = new HashMap<>();

    Loop(Vertx vertx) {
      this.vertx = vertx;
    }

    /** A connection was accepted (before any of its bytes are read): counted, or closed at once. */
    void accepted(HttpConnection conn) {
      if (open.incrementAndGet() > max) {
        open.decrementAndGet();
        refused.increment();
        refusals.warn(() -> "refusing connections: " + max + " are open (ALLOT_HTTP_MAX_CONNECTIONS)");
        conn.close();
        return;
      }
      long timer = vertx.setTimer(headerTimeoutMillis, t -> {
        if (awaitingHead.remove(conn) != null) {
          headerTimeouts.increment();
          LOG.log(System.Logger.Level.DEBUG, () -> "closing " + conn.remoteAddress() + ": no request head in "
              + headerTimeoutMillis + " ms");
          conn.close();
        }
      });
      awaitingHead.put(conn, timer);
      conn.closeHandler(v -> {
        open.decrementAndGet();
        Long pending = awaitingHead.remove(conn);
        if (pending != null) {
          vertx.cancelTimer(pending);
        }
      });
    }

    /** A request head arrived on the connection: its deadline is met. */
    void headSeen(HttpConnection conn) {
      if (!awaitingHead.isEmpty()) {
        Long pending = awaitingHead.remove(conn);
        if (pending != null) {
          vertx.cancelTimer(pending);
        }
      }
    }
  }
}
