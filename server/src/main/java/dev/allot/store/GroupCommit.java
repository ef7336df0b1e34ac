package dev.allot.store;

import io.vertx.core.Future;
import io.vertx.core.Promise;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.ToIntFunction;

/**
 * Group commit: at most {@code maxInFlight} calls in flight (each on a connection of its own);
 * whatever is submitted meanwhile waits and goes to Redis together in the next call, at most
 * {@code cap} of weight a call (an item's weight is the work it brings, such as its stock lines:
 * a script blocks Redis while it runs, so a call of a few big carts is cut as short as one of
 * many small ones; an item heavier than the cap goes alone). Nothing ever waits on a
 * timer: on an idle queue a submission is sent at once, so an idle box answers as fast as
 * before, and a busy one sends fewer, fuller calls (TigerBeetle's clients do the same).
 *
 * <p>The call answers one outcome per item, in order; a failed call fails every item in it (the
 * script is atomic, so either all of the batch happened or none of it did, and a caller told 503
 * may find its change made, as with any single call). Thread-safe, though each instance is used
 * by the event loop that owns its Redis client.
 */
final class GroupCommit<I, O> {
  private static final System.Logger LOG = System.getLogger(GroupCommit.class.getName());

  private record Waiting<I, O>(I item, Promise<O> promise) {
  }

  private final Function<List<I>, Future<List<O>>> call;
  private final ToIntFunction<I> weight;
  private final int cap;
  private final int maxInFlight;
  private final ArrayDeque<Waiting<I, O>> queue = new ArrayDeque<>();
  private int inFlight;

  /**
   * call: sends one batch and answers one outcome per item, in order. maxInFlight: how many calls may
   * be under way at once (each on a connection of its own).
   */
  GroupCommit(int cap, int maxInFlight, ToIntFunction<I> weight, Function<List<I>, Future<List<O>>> call) {
    if (cap < 1 || maxInFlight < 1) {
      throw new IllegalArgumentException("cap and maxInFlight must be at least 1");
    }
    this.cap = cap;
    this.weight = weight;
    this.maxInFlight = maxInFlight;
    this.call = call;
  }

  Future<O> submit(I item) {
    Promise<O> promise = Promise.promise();
    boolean send;
    synchronized (this) {
      queue.add(new Waiting<>(item, promise));
      send = inFlight < maxInFlight;
      if (send) {
        inFlight++;
      }
    }
    if (send) {
      next();
    }
    return promise.future();
  }

  /** Sends what waits (up to the cap), or marks the queue idle when nothing does. */
  private void next() {
    List<Waiting<I, O>> batch;
    synchronized (this) {
      if (queue.isEmpty()) {
        inFlight--;
        return;
      }
      batch = new ArrayList<>(Math.min(cap, queue.size()));
      int load = 0;
      while (!queue.isEmpty() && (batch.isEmpty() || load + weight.applyAsInt(queue.peek().item()) <= cap)) {
        Waiting<I, O> next = queue.poll();
        load += weight.applyAsInt(next.item());
        batch.add(next);
      }
    }
    List<I> items = new ArrayList<>(batch.size());
    batch.forEach(w -> items.add(w.item()));
    Future<List<O>> sent;
    try {
      sent = call.apply(items);
    } catch (RuntimeException e) {
      sent = Future.failedFuture(e);
    }
    sent.onComplete(ar -> {
      // The next batch goes out before this one's callers are answered: Redis works on it while
      // this loop writes the answers.
      next();
      if (ar.failed()) {
        batch.forEach(w -> settle(w, null, ar.cause()));
      } else if (ar.result().size() != batch.size()) {
        IllegalStateException e = new IllegalStateException("a batch of " + batch.size() + " answered "
            + ar.result().size() + " outcomes");
        LOG.log(System.Logger.Level.ERROR, e.getMessage());
        batch.forEach(w -> settle(w, null, e));
      } else {
        for (int i = 0; i < batch.size(); i++) {
          settle(batch.get(i), ar.result().get(i), null);
        }
      }
    });
  }

  /** Answers one caller; what its listeners throw must not keep the rest of the batch unanswered. */
  private static <I, O> void settle(Waiting<I, O> w, O outcome, Throwable failure) {
    try {
      if (failure != null) {
        w.promise().tryFail(failure);
      } else {
        w.promise().tryComplete(outcome);
      }
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "a group-committed caller's handler failed", e);
    }
  }
}
