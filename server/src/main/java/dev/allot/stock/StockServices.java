package dev.allot.stock;

import dev.allot.store.EventLog;
import dev.allot.store.WebhookStore;
import io.vertx.core.Future;

import java.util.function.Supplier;

/**
 * The stock services one HTTP event loop works with, over a Redis client of its own (built on
 * that event loop by the server's wiring, so a request and its Redis round trips stay on one
 * thread). {@code events}: the feed over the same client; {@code webhooks}: the webhook endpoints' keys. {@code close} lets go of that client.
 */
public record StockServices(Reservations reservations, Movements movements, Inventory inventory,
                            Allocations allocations, EventLog events,
                            WebhookStore webhooks, Supplier<Future<Void>> close) {
}
