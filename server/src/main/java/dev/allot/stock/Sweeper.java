package dev.allot.stock;

import dev.allot.config.Settings;
import dev.allot.common.Throttled;
import dev.allot.store.Keys;
import dev.allot.store.RecordStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Finds reservations whose deadline or lease has come (expired holds, creations a dead instance
 * left pending, decisions whose stock clean-up did not finish) and settles them. Each claim leases
 * the reservation to this sweeper, so with many instances each one is worked on by one at a time,
 * and settling is idempotent, so nothing is released twice.
 */
public final class Sweeper extends VerticleBase {
  private static final System.Logger LOG = System.getLogger(Sweeper.class.getName());
  private static final int BATCH = 200;
  /** At most this many due entries moved out of the buckets' indexes a pass (due_adopt.lua). */
  private static final int ADOPT_LIMIT = 1600;

  private final Reservations reservations;
  private final Settings.Reservations settings;
  private final Metrics metrics;
  private final LongSupplier clock;
  private final RecordStore records;
  private volatile boolean stopped;
  private long timer = -1;
  private final Throttled errors = new Throttled(LOG, 10_000);
  // Guarded by this: the Redis client's answers may come on another loop than the sweeper's.
  private long adoptedUnlogged;
  private long adoptLoggedAt = Long.MIN_VALUE / 2;

  public Sweeper(RecordStore records, Reservations reservations, Settings.Reservations settings, Metrics metrics,
                 LongSupplier clock) {
    this.records = records;
    this.reservations = reservations;
    this.settings = settings;
    this.metrics = metrics;
    this.clock = clock;
  }

  @Override
  public Future<?> start() {
    schedule();
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    stopped = true;
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
    return Future.succeededFuture();
  }

  private void schedule() {
    if (!stopped) {
      timer = vertx.setTimer(settings.sweepIntervalMillis(), t -> sweepOnce().onComplete(ar -> schedule()));
    }
  }

  /**
   * One pass: first the due entries an older version left in the buckets' indexes of a standalone
   * Redis are moved into the one index (usually there are none: one EXISTS), then the claims. On a
   * cluster, a claim per lane (its bucket's index), all at once. On a standalone Redis every lane
   * claims from the one index, each its own entries: the first lane's claim goes alone, and the
   * others only when more is due (a backlog, such as a flash sale's carts expiring together: then
   * the same claims as a cluster's, one round trip later), so a pass at rest is two script
   * calls and a ZCOUNT, not seventeen script calls. Completes when every claimed reservation is
   * settled (or failed).
   */
  public Future<Void> sweepOnce() {
    return records.adoptBucketDues(ADOPT_LIMIT).transform(adopted -> {
      if (adopted.succeeded() && adopted.result() > 0) {
        noteAdopted(adopted.result());
      }
      List<Future<Void>> lanes = new ArrayList<>(Keys.BUCKETS + 1);
      if (adopted.failed()) {
        lanes.add(Future.failedFuture(adopted.cause()));
      }
      if (records.cluster()) {
        for (int lane = 0; lane < Keys.BUCKETS; lane++) {
          lanes.add(sweepLane(lane));
        }
      } else {
        lanes.add(sweepOneIndex());
      }
      return Future.join(lanes);
    }).transform(ar -> {
      if (ar.failed()) {
        metrics.sweeperError();
        errors.warn(() -> "sweeper pass failed (will retry): " + ar.cause());
      }
      return Future.succeededFuture();
    });
  }

  /**
   * Counts due entries moved out of the buckets' indexes and says so at most every ten seconds: while
   * an older instance still runs, nearly every pass moves a few.
   */
  private synchronized void noteAdopted(long moved) {
    adoptedUnlogged += moved;
    long now = clock.getAsLong();
    if (now - adoptLoggedAt >= 10_000) {
      LOG.log(System.Logger.Level.INFO, "moved " + adoptedUnlogged + " due entries from the buckets' indexes"
          + " (written by an older version, or an older instance still running) into " + Keys.DUE_ALL);
      adoptedUnlogged = 0;
      adoptLoggedAt = now;
    }
  }

  private Future<Void> sweepLane(int lane) {
    return claim(lane).compose(this::settleAll);
  }

  /**
   * A standalone Redis's one index: the first claim alone, the other lanes' with it only when more is
   * due: the claim came back full, or something is still due after it (a claim opens at most four
   * rounds of groups, and a flash sale's groups whose records were all committed give it nothing to
   * claim: the other lanes open the rest in the same pass).
   */
  private Future<Void> sweepOneIndex() {
    long now = clock.getAsLong();
    return claim(0).compose(ids -> {
      Future<Boolean> more = ids.size() >= BATCH ? Future.succeededFuture(true) : records.anyDue(0, now);
      Future<Void> first = settleAll(ids);
      return more.transform(again -> {
        List<Future<Void>> work = new ArrayList<>(Keys.BUCKETS);
        work.add(first);
        if (again.failed()) {
          work.add(Future.failedFuture(again.cause()));
        } else if (again.result()) {
          for (int lane = 1; lane < Keys.BUCKETS; lane++) {
            work.add(sweepLane(lane));
          }
        }
        return Future.join(work).mapEmpty();
      });
    });
  }

  private Future<List<String>> claim(int lane) {
    return records.claimDue(lane, clock.getAsLong(), settings.cleanupLeaseMillis(), BATCH);
  }

  private Future<Void> settleAll(List<String> ids) {
    if (ids.isEmpty()) {
      return Future.succeededFuture();
    }
    List<Future<Void>> settled = new ArrayList<>(ids.size());
    ids.forEach(id -> settled.add(reservations.settle(id)));
    return Future.join(settled).mapEmpty();
  }
}
