package dev.allot.outbound;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The webhook endpoints' series ({@link Deliveries}; deploy/ alerts on them), written by the
 * instance that holds an endpoint's lease: {@code allot_webhook_deliveries_total{endpoint,outcome}},
 * {@code allot_webhook_lag_seconds{endpoint}} (age of the oldest event the endpoint has not had) and
 * {@code allot_sync_stale_skus{endpoint,channel}} (SKUs whose availability it has not confirmed for
 * longer than ALLOT_SYNC_STALE_SECONDS).
 */
final class DeliveryMetrics {
  private final MeterRegistry registry;
  private final LongSupplier clock;
  private final long staleMillis;
  /** Per endpoint: the ms of the oldest event it has not had (0: none). */
  private final Map<String, Long> lag = new ConcurrentHashMap<>();
  /** Per endpoint: "channel|SKU" -> since when its availability is unconfirmed. */
  private final Map<String, Map<String, Long>> unconfirmed = new ConcurrentHashMap<>();
  private final Set<String> staleGauges = ConcurrentHashMap.newKeySet();

  DeliveryMetrics(MeterRegistry registry, LongSupplier clock, long staleSeconds) {
    this.registry = registry;
    this.clock = clock;
    this.staleMillis = staleSeconds * 1000;
  }

  /** One delivery attempt to the endpoint. */
  void attempt(String endpoint, boolean ok) {
    Counter.builder("allot_webhook_deliveries_total").description("Webhook delivery attempts by outcome")
        .tag("endpoint", endpoint).tag("outcome", ok ? "delivered" : "failed").register(registry).increment();
  }

  /** This instance delivers to the endpoint now: its lag gauge reads from here. */
  void watch(String endpoint) {
    if (lag.putIfAbsent(endpoint, 0L) == null) {
      Gauge.builder("allot_webhook_lag_seconds", lag, m -> {
        Long since = m.get(endpoint);
        return since == null || since == 0 ? 0 : Math.max(0, (clock.getAsLong() - since) / 1000.0);
      }).description("Age of the oldest event the endpoint has not had (0: none)").tag("endpoint", endpoint)
          .register(registry);
    }
  }

  /** The endpoint is disabled or gone: no lag of its own any more. */
  void forget(String endpoint) {
    lag.remove(endpoint);
  }

  /** The endpoint has every event: no lag, nothing unconfirmed. */
  void caughtUp(String endpoint) {
    lag.put(endpoint, 0L);
    unconfirmed.remove(endpoint);
  }

  /** The oldest event the endpoint has not had (ms), and since when each channel and SKU is unconfirmed. */
  void behind(String endpoint, long oldestMillis, Map<String, Long> since) {
    lag.put(endpoint, oldestMillis);
    unconfirmed.put(endpoint, since);
    since.keySet().forEach(k -> staleGauge(endpoint, k.substring(0, k.indexOf('|'))));
  }

  private void staleGauge(String endpoint, String channel) {
    if (staleGauges.add(endpoint + "|" + channel)) {
      Gauge.builder("allot_sync_stale_skus", unconfirmed, m -> {
        Map<String, Long> u = m.get(endpoint);
        if (u == null) {
          return 0;
        }
        long now = clock.getAsLong();
        return u.entrySet().stream().filter(x -> x.getKey().startsWith(channel + "|")
            && now - x.getValue() > staleMillis).count();
      }).description("SKUs whose availability the endpoint has not confirmed for longer than ALLOT_SYNC_STALE_SECONDS")
          .tag("endpoint", endpoint).tag("channel", channel).register(registry);
    }
  }
}
