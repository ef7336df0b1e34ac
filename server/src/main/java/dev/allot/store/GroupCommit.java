package dev.allot.store;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.function.ToIntFunction;

/**
 * Group commit, one per event loop, over the instance's one queue ({@link InFlight}): at most as
 * many calls under way at once as it allows, across all the loops; whatever is submitted meanwhile,
 * on any loop, waits and goes to Redis together in the next call, at most {@code cap} of weight a call
 * (an item's weight is the work it brings, such as its stock lines: a script blocks Redis while it
 * runs, so a call of a few big carts is cut as short as one of many small ones; an item heavier than
 * the cap goes alone). Nothing ever waits on a timer: a submission that finds a slot free is sent at
 * the end of its event loop's turn, with whatever else that turn read (the requests that arrived
 * together: one call, not one alone and the rest behind it), so an idle box answers as fast as
 * before, and a busy one sends fewer, fuller calls (TigerBeetle's clients do the same).
 *
 * <p>A call goes out on the loop that holds the slot, through that loop's {@code call} (its Redis
 * client), and the next one goes out on the loop the answer came in on, before anyone is answered:
 * Redis works on it while the loops write the answers. Each item is answered on the loop that
 * submitted it: this loop's at once, another loop's in one task for all of its items of the call.
 * The call answers one outcome per item, in order; a failed call fails every item in it (the script
 * is atomic, so either all of the batch happened or none of it did, and a caller told 503 may find its
 * change made, as with any single call). Thread-safe.
 */
final class GroupCommit<I, O> {
  private static final System.Logger LOG = System.getLogger(GroupCommit.class.getName());

  private record Waiting<I, O>(I item, Promise<O> promise, GroupCommit<I, O> owner) {
  }

  private final Function<List<I>, Future<List<O>>> call;
  private final ToIntFunction<Waiting<I, O>> weight;
  private final int cap;
  private final InFlight inFlight;
  /** Runs a task on this queue's event loop (at once when there is none, as in unit tests). */
  private final Executor loop;
  /**
   * Runs a task on this queue's event loop once the loop has done what it is doing now (the rest of
   * its turn: the other connections' reads it woke up for); at once when there is no loop.
   */
  private final Executor afterTurn;

  /** call: sends one batch through this loop's client and answers one outcome per item, in order. */
  GroupCommit(int cap, InFlight inFlight, ToIntFunction<I> weight, Function<List<I>, Future<List<O>>> call) {
    if (cap < 1) {
      throw new IllegalArgumentException("cap must be at least 1");
    }
    this.cap = cap;
    this.weight = w -> weight.applyAsInt(w.item());
    this.inFlight = inFlight;
    this.call = call;
    // The loop is known by its thread: a request's handlers and the Redis replies to the calls they
    // make run on duplicates of the verticle's context, never the very same object, but always on
    // its thread, where running at once is right (and keeps the next call ahead of the answers).
    Context context = Vertx.currentContext();
    Thread owner = Thread.currentThread();
    // A loop's tasks run after the reads of its turn, in order: never a timer.
    this.afterTurn = context == null ? Runnable::run : task -> context.runOnContext(v -> task.run());
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
    if (inFlight.add(new Waiting<>(item, promise, this))) {
      // The slot is this submission's: it goes out when the loop's turn ends, with what the turn's
      // other reads submit meanwhile (in a closed loop, four calls in ten carried one reservation
      // when it went at once: docs/benchmarks.md, twelfth pass).
      afterTurn.execute(this::next);
    }
    return promise.future();
  }

  /** With a slot: sends what waits on any loop (up to the cap), or gives the slot back when nothing does. */
  private void next() {
    List<Waiting<I, O>> batch;
    do {
      batch = inFlight.take(cap, weight);
    } while (batch.isEmpty() && inFlight.keepOrRelease());
    if (batch.isEmpty()) {
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
    if (inFlight.acquireIfWaiting()) {
      // More than a call's cap waits and a slot is free: it goes in a call of its own as well, after
      // this one (arrival order).
      loop.execute(this::next);
    }
    List<Waiting<I, O>> sentBatch = batch;
    sent.onComplete(ar -> {
      // The next call goes out before this one's callers are answered, from this loop: Redis works on
      // it while the loops write the answers.
      if (inFlight.keepOrRelease()) {
        next();
      }
      answer(sentBatch, ar);
    });
  }

  /** Answers each item of a call on the loop that submitted it: another loop's in one task for all of them. */
  private void answer(List<Waiting<I, O>> batch, AsyncResult<List<O>> ar) {
    Throwable failure = ar.failed() ? ar.cause() : null;
    List<O> outcomes = ar.succeeded() ? ar.result() : null;
    if (failure == null && outcomes.size() != batch.size()) {
      failure = new IllegalStateException("a batch of " + batch.size() + " answered " + outcomes.size() + " outcomes");
      LOG.log(System.Logger.Level.ERROR, failure.getMessage());
    }
    Map<GroupCommit<I, O>, List<Integer>> elsewhere = null;
    for (int i = 0; i < batch.size(); i++) {
      GroupCommit<I, O> owner = batch.get(i).owner();
      if (owner != this) {
        if (elsewhere == null) {
          elsewhere = new IdentityHashMap<>(4);
        }
        elsewhere.computeIfAbsent(owner, o -> new ArrayList<>()).add(i);
      }
    }
    Throwable failed = failure;
    if (elsewhere != null) {
      elsewhere.forEach((owner, indexes) -> owner.loop.execute(() -> {
        for (int i : indexes) {
          settle(batch.get(i), failed == null ? outcomes.get(i) : null, failed);
        }
      }));
    }
    for (int i = 0; i < batch.size(); i++) {
      if (batch.get(i).owner() == this) {
        settle(batch.get(i), failed == null ? outcomes.get(i) : null, failed);
      }
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
