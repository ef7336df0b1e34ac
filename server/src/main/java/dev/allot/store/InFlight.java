package dev.allot.store;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * One instance's group commit for one kind of call ({@link GroupCommit}; one for creations, one for
 * commits and releases): the queue every event loop's submissions wait in, in arrival order, and how
 * many calls may be under way at once. Whichever loop holds a slot sends what waits, from every loop,
 * in arrival order (a customer's limit sees the instance's order, not one loop's): a call that ends
 * sends the next one from the loop its answer came in on, at once, with no hop to another loop first
 * (docs/benchmarks.md, eleventh pass: level in throughput with the per-loop queues it replaced). So
 * the instance sends few, full calls however many event loops it runs: a call's
 * fixed cost in Redis (the script's start, its per-SKU reads and writes, the event) is spread over
 * more reservations, and Redis never has more than this many of them queued. Thread-safe.
 */
public final class InFlight {
  private final int max;
  private int used;
  private final ArrayDeque<Object> queue = new ArrayDeque<>();

  public InFlight(int max) {
    if (max < 1) {
      throw new IllegalArgumentException("at least one call must be allowed in flight");
    }
    this.max = max;
  }

  /** Queues an item; true when a slot was free and the caller now holds it (and must send). */
  synchronized boolean add(Object waiting) {
    queue.add(waiting);
    if (used < max) {
      used++;
      return true;
    }
    return false;
  }

  /**
   * For a slot's holder: the items that wait, first come first, up to {@code cap} of weight (at least
   * one, however heavy); empty when nothing waits.
   */
  @SuppressWarnings("unchecked")
  synchronized <W> List<W> take(int cap, ToIntFunction<W> weight) {
    List<W> batch = new ArrayList<>(Math.min(cap, queue.size()));
    int load = 0;
    while (!queue.isEmpty()) {
      int w = weight.applyAsInt((W) queue.peek());
      if (!batch.isEmpty() && load + w > cap) {
        break;
      }
      load += w;
      batch.add((W) queue.poll());
    }
    return batch;
  }

  /** A holder whose call ended: keeps its slot when items wait (true: send them), else gives it back. */
  synchronized boolean keepOrRelease() {
    if (!queue.isEmpty()) {
      return true;
    }
    used--;
    return false;
  }

  /** Another slot for items still waiting after a full call (true: the caller holds it and must send). */
  synchronized boolean acquireIfWaiting() {
    if (!queue.isEmpty() && used < max) {
      used++;
      return true;
    }
    return false;
  }

  synchronized int used() {
    return used;
  }
}
