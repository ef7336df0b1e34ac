package dev.allot.store;

import java.util.ArrayDeque;

/**
 * How many group-committed calls of one kind the whole instance may have under way at once, shared
 * by the queues of its event loops ({@link GroupCommit}; one for creations, one for commits and
 * releases). A queue that finds no free slot waits in line; a slot that frees up goes to the queue
 * that waited longest, else back to the pool. So the instance sends few, full calls however many
 * event loops it runs: a call's fixed cost in Redis (the script's start, its per-SKU reads and
 * writes, the event) is spread over more reservations, and Redis never has more than this many of
 * them queued.
 */
public final class InFlight {
  private final int max;
  private int used;
  private final ArrayDeque<GroupCommit<?, ?>> waiting = new ArrayDeque<>();

  public InFlight(int max) {
    if (max < 1) {
      throw new IllegalArgumentException("at least one call must be allowed in flight");
    }
    this.max = max;
  }

  /** A slot for this queue now (true), or it waits in line for one (false; in line once). */
  synchronized boolean acquire(GroupCommit<?, ?> queue) {
    if (used < max) {
      used++;
      waiting.remove(queue);
      return true;
    }
    if (!waiting.contains(queue)) {
      waiting.add(queue);
    }
    return false;
  }

  /**
   * The slot of a call of {@code from} that ended: answers the queue that gets it (the one that waited
   * longest; {@code from} itself when it has items and nobody else waits), which must send or pass it
   * on, or null when it goes back to the pool. {@code from} lines up when it has items and another
   * queue gets the slot.
   */
  synchronized GroupCommit<?, ?> handOver(GroupCommit<?, ?> from, boolean fromHasItems) {
    GroupCommit<?, ?> next = waiting.poll();
    if (next == null) {
      if (fromHasItems) {
        return from;
      }
      used--;
      return null;
    }
    if (fromHasItems && next != from && !waiting.contains(from)) {
      waiting.add(from);
    }
    return next;
  }

  synchronized int used() {
    return used;
  }
}
