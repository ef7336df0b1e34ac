package dev.allot.outbound;

import dev.allot.config.Settings;
import dev.allot.common.Throttled;
import dev.allot.store.EventLog;
import dev.allot.store.Outboxes;
import dev.allot.store.RedisStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;

import java.util.function.Supplier;
import java.util.function.LongSupplier;

/**
 * Keeps the feed (docs/outbound.md): trims what is older than ALLOT_EVENTS_RETENTION_SECONDS, and on a
 * Redis Cluster relays the outboxes into it (what this instance wrote, within ALLOT_OUTBOX_RELAY_MILLIS;
 * every known outbox every ALLOT_OUTBOX_SWEEP_MILLIS), and drives the webhook deliveries
 * ({@link Deliveries}, every second). Every instance runs one; each pass is safe to run on several
 * instances at once.
 */
public final class OutboxKeeper extends VerticleBase {
  private static final System.Logger LOG = System.getLogger(OutboxKeeper.class.getName());

  private final RedisStore redis;
  private final EventLog log;
  private final Outboxes outboxes;
  private final Settings.Outbound settings;
  private final LongSupplier clock;
  private final Deliveries deliveries;
  private final Throttled errors = new Throttled(LOG, 10_000);
  private volatile boolean stopped;

  public OutboxKeeper(RedisStore redis, Outboxes outboxes, Settings.Outbound settings, LongSupplier clock,
                      Deliveries deliveries) {
    this.redis = redis;
    this.log = new EventLog(redis);
    this.outboxes = outboxes;
    this.settings = settings;
    this.clock = clock;
    this.deliveries = deliveries;
  }

  @Override
  public Future<?> start() {
    every(settings.trimIntervalMillis(), this::trimOnce);
    every(1000, deliveries::tick);
    if (redis.cluster()) {
      every(settings.relayMillis(), () -> outboxes.relayTouched(redis));
      every(settings.relaySweepMillis(), () -> outboxes.relayAll(redis));
    }
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    stopped = true;
    // Whatever this instance wrote and did not relay yet is left to the other instances' sweeps; its
    // webhook endpoints go to the others at once (their leases are dropped).
    return deliveries.stop();
  }

  /** Runs a pass every {@code millis} after the last one ended: passes never overlap. */
  private void every(long millis, Supplier<Future<?>> pass) {
    if (stopped) {
      return;
    }
    vertx.setTimer(millis, t -> pass.get().onComplete(ar -> {
      if (ar.failed()) {
        errors.warn(() -> "outbound: a pass failed (tried again): " + ar.cause());
      }
      every(millis, pass);
    }));
  }

  /** Drops the events older than the retention, but never one an active webhook endpoint has not had. */
  public Future<?> trimOnce() {
    long byAge = clock.getAsLong() - settings.eventsRetentionSeconds() * 1000;
    return deliveries.oldestNeeded().compose(needed -> log.trimBefore(needed == null ? byAge : Math.min(byAge, needed)))
        .onSuccess(n -> {
      if (n > 0) {
        LOG.log(System.Logger.Level.DEBUG, "outbound: trimmed {0} event entries past the retention", n);
      }
    });
  }
}
