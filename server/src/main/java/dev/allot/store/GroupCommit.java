package dev.allot.store;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.Context;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.function.ToIntFunction;

/**
 * Group commit: one queue per event loop, and at most as many calls under way at once as the
 * instance's {@link InFlight} allows, across all its loops; whatever is submitted meanwhile waits
 * and goes to Redis together in the next call, at most {@code cap} of weight a call (an item's
 * weight is the work it brings, such as its stock lines: a script blocks Redis while it runs, so a
 * call of a few big carts is cut as short as one of many small ones; an item heavier than the cap
 * goes alone). Nothing ever waits on a timer: on an idle instance a submission is sent at once, so
 * an idle box answers as fast as before, and a busy one sends fewer, fuller calls (TigerBeetle's
 * clients do the same).
 *
 * <p>The call answers one outcome per item, in order; a failed call fails every item in it (the
 * script is atomic, so either all of the batch happened or none of it did, and a caller told 503
 * may find its change made, as with any single call). A queue sends on its own event loop (its
 * Redis client's): a slot another loop frees is handed over with one task on this loop, once per
 * call, never per item. Thread-safe.
 */
final class GroupCommit<I, O> {
  private static final System.Logger LOG = System.getLogger(GroupCommit.class.getName());

  private record Waiting<I, O>(I item, Promise<O> promise) {
  }

  private final Function<List<I>, Future<List<O>>> call;
  private final ToIntFunction<I> weight;
  private final int cap;
  private final InFlight inFlight;
  /** Runs a task on this queue's event loop (at once when there is none, as in unit tests). */
  private final Executor loop;
  private final ArrayDeque<Waiting<I, O>> queue = new ArrayDeque<>();

  /** call: sends one batch and answers one outcome per item, in order. */
  GroupCommit(int cap, InFlight inFlight, ToIntFunction<I> weight, Function<List<I>, Future<List<O>>> call) {
    if (cap < 1) {
      throw new IllegalArgumentException("cap must be at least 1");
    }
    this.cap = cap;
    this.weight = weight;
    this.inFlight = inFlight;
    this.call = call;
    // The loop is known by its thread: a request's handlers and the Redis replies to the calls they
    // make run on duplicates of the verticle's context, never the very same object, but always on
    // its thread, where running at once is right (and keeps the next call ahead of the answers).
    Context context = Vertx.currentContext();
    Thread owner = Thread.currentThread();
    this.loop = context == null ? Runnable::run : task -> {
      if (Thread.currentThread() == owner) {
        task.run();
      } else {
        context.runOnContext(v -> task.run());
      }
    };
  }

  Future<O> submit(I item) {
    Promise<O> promise = Promise.promise();
    synchronized (this) {
      queue.add(new Waiting<>(item, promise));
    }
    if (inFlight.acquire(this)) {
      next();
    }
    return promise.future();
  }

  /** With a slot: sends what waits (up to the cap), or passes the slot on when nothing does. */
  private void next() {
    List<Waiting<I, O>> batch;
    boolean more;
    synchronized (this) {
      batch = new ArrayList<>(Math.min(cap, queue.size()));
      int load = 0;
      while (!queue.isEmpty() && (batch.isEmpty() || load + weight.applyAsInt(queue.peek().item()) <= cap)) {
        Waiting<I, O> next = queue.poll();
        load += weight.applyAsInt(next.item());
        batch.add(next);
      }
      more = !queue.isEmpty();
    }
    if (batch.isEmpty()) {
      passOn();
      return;
    }
    List<I> items = new ArrayList<>(batch.size());
    batch.forEach(w -> items.add(w.item()));
    Future<List<O>> sent;
    try {
      sent = call.apply(items);
    } catch (RuntimeException e) {
      sent = Future.failedFuture(e);
    }
    if (more && inFlight.acquire(this)) {
      // More than a call's cap waits here and a slot is free: it goes in a call of its own as well,
      // after this one (arrival order).
      loop.execute(this::next);
    }
    sent.onComplete(ar -> {
      // The next call goes out before this one's callers are answered: Redis works on it while
      // this loop writes the answers.
      passOn();
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

  /**
   * A call of this queue ended (or it had nothing to send): its slot goes to the queue that waited
   * longest, on that queue's own loop; this one lines up behind it when it has items waiting, and
   * keeps the slot when no other queue waits.
   */
  private void passOn() {
    boolean waiting;
    synchronized (this) {
      waiting = !queue.isEmpty();
    }
    GroupCommit<?, ?> next = inFlight.handOver(this, waiting);
    if (next != null) {
      next.loop.execute(next::next);
    }
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
