package dev.allot.store;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The queueing of group commit on its own, with calls the test answers by hand (what the calls
 * do to Redis is CreationsTest's and the API tests'): which items travel together, and when.
 */
class GroupCommitTest {
  /** The calls made so far: their items, and the promise that answers each. */
  final List<List<Integer>> calls = new ArrayList<>();
  final List<Promise<List<String>>> answers = new ArrayList<>();

  GroupCommit<Integer, String> group(int cap, int inFlight) {
    return group(cap, new InFlight(inFlight));
  }

  GroupCommit<Integer, String> group(int cap, InFlight inFlight) {
    return new GroupCommit<>(cap, inFlight, i -> i, items -> {
      calls.add(List.copyOf(items));
      Promise<List<String>> p = Promise.promise();
      answers.add(p);
      return p.future();
    });
  }

  void answer(int call) {
    answers.get(call).complete(calls.get(call).stream().map(i -> "r" + i).toList());
  }

  @Test
  @DisplayName("idle: sent at once; busy: what waits goes together in the next call, each answered its own")
  void batchesWhileInFlight() {
    GroupCommit<Integer, String> g = group(100, 1);
    Future<String> first = g.submit(1);
    assertEquals(List.of(List.of(1)), calls, "nothing in flight: sent at once, no timer");
    Future<String> second = g.submit(2);
    Future<String> third = g.submit(3);
    assertEquals(1, calls.size(), "one call in flight: the others wait");
    answer(0);
    assertEquals("r1", first.result());
    assertEquals(List.of(2, 3), calls.get(1), "what waited goes in one call");
    answer(1);
    assertEquals("r2", second.result());
    assertEquals("r3", third.result());
    g.submit(4);
    assertEquals(List.of(4), calls.get(2), "idle again: sent at once");
  }

  @Test
  @DisplayName("a call carries at most cap of weight; an item heavier than the cap goes alone")
  void capByWeight() {
    GroupCommit<Integer, String> g = group(10, 1);
    g.submit(1);
    g.submit(4);
    g.submit(5);
    g.submit(3);
    g.submit(12);
    g.submit(2);
    answer(0);
    assertEquals(List.of(4, 5), calls.get(1), "4 + 5 fit in 10, 3 more would not");
    answer(1);
    assertEquals(List.of(3), calls.get(2), "12 would not fit beside 3");
    answer(2);
    assertEquals(List.of(12), calls.get(3), "heavier than the cap: alone");
    answer(3);
    assertEquals(List.of(2), calls.get(4));
  }

  @Test
  @DisplayName("a failed call fails each of its items, and the queue goes on; two calls may be in flight")
  void failureAndInFlight() {
    GroupCommit<Integer, String> g = group(100, 2);
    Future<String> a = g.submit(1);
    Future<String> b = g.submit(2);
    assertEquals(2, calls.size(), "two in flight allowed: both sent at once");
    Future<String> c = g.submit(3);
    Future<String> d = g.submit(4);
    answers.get(0).fail(new IllegalStateException("boom"));
    assertTrue(a.failed());
    assertEquals(List.of(3, 4), calls.get(2), "the next call went out when the first ended");
    answer(1);
    answer(2);
    assertEquals("r2", b.result());
    assertEquals("r3", c.result());
    assertEquals("r4", d.result());
  }

  @Test
  @DisplayName("queues sharing one limit (an instance's event loops): one call in flight in all; what waits on every loop goes in the next call, in arrival order")
  void sharedLimit() {
    InFlight limit = new InFlight(1);
    GroupCommit<Integer, String> a = group(100, limit);
    GroupCommit<Integer, String> b = group(100, limit);
    Future<String> a1 = a.submit(1);
    Future<String> b1 = b.submit(2);
    Future<String> b2 = b.submit(3);
    assertEquals(List.of(List.of(1)), calls, "b waits for the instance's one slot");
    Future<String> a2 = a.submit(4);
    answer(0);
    assertEquals("r1", a1.result());
    assertEquals(List.of(2, 3, 4), calls.get(1), "b's items and a's new one together, first come first");
    assertEquals(1, limit.used(), "still one call in flight");
    answer(1);
    assertEquals("r2", b1.result());
    assertEquals("r3", b2.result());
    assertEquals("r4", a2.result());
    assertEquals(0, limit.used(), "idle: the slot is back");
    b.submit(5);
    assertEquals(List.of(5), calls.get(2), "idle: sent at once, whichever queue");
  }

  @Test
  @DisplayName("more than a call's cap waiting: each freed slot carries the next cap's worth, nothing stranded")
  void overCapKeepsItsPlace() {
    InFlight limit = new InFlight(2);
    GroupCommit<Integer, String> g = group(5, limit);
    g.submit(1);
    g.submit(2);
    Future<String> last = null;
    for (int i = 0; i < 3; i++) {
      last = g.submit(3);
    }
    assertEquals(2, calls.size(), "both slots busy: the three wait");
    answer(0);
    assertEquals(List.of(3), calls.get(2), "3 + 3 is over the cap of 5");
    answer(1);
    assertEquals(List.of(3), calls.get(3), "the next freed slot takes the next one");
    answer(2);
    assertEquals(List.of(3), calls.get(4));
    answer(3);
    answer(4);
    assertEquals("r3", last.result());
    assertEquals(0, limit.used());
  }

  @Test
  @DisplayName("two event loops: a call that ends sends what waits on both from its own loop at once; each item is answered on the loop that submitted it")
  void nextCallFromTheAnsweringLoop() throws Exception {
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx(new io.vertx.core.VertxOptions().setEventLoopPoolSize(2));
    try {
      io.vertx.core.internal.VertxInternal internal = (io.vertx.core.internal.VertxInternal) vertx;
      io.vertx.core.internal.ContextInternal a = internal.createEventLoopContext();
      io.vertx.core.internal.ContextInternal b = internal.createEventLoopContext();
      assertTrue(a.nettyEventLoop() != b.nettyEventLoop(), "two loops");
      InFlight limit = new InFlight(1);
      List<String> sentFrom = java.util.Collections.synchronizedList(new ArrayList<>());
      List<List<Integer>> sent = java.util.Collections.synchronizedList(new ArrayList<>());
      List<Promise<List<String>>> promises = java.util.Collections.synchronizedList(new ArrayList<>());
      java.util.function.Function<List<Integer>, Future<List<String>>> call = items -> {
        Promise<List<String>> p = Promise.promise();
        synchronized (sent) {
          sent.add(List.copyOf(items));
          sentFrom.add(Thread.currentThread().getName());
          promises.add(p);
        }
        return p.future();
      };
      // Each queue made on its own loop (it sends through that loop's call).
      GroupCommit<Integer, String> onA = onLoop(a, () -> new GroupCommit<>(10, limit, i -> 1, call));
      GroupCommit<Integer, String> onB = onLoop(b, () -> new GroupCommit<>(10, limit, i -> 1, call));
      String threadA = onLoop(a, () -> Thread.currentThread().getName());
      String threadB = onLoop(b, () -> Thread.currentThread().getName());
      Future<String> first = onLoop(b, () -> onB.submit(100));
      onLoop(b, () -> null); // B's turn has ended: its call is out
      List<Future<String>> fromA = onLoop(a, () -> List.of(onA.submit(1), onA.submit(2), onA.submit(3)));
      Future<String> fromB = onLoop(b, () -> onB.submit(4));
      assertEquals(1, sent.size(), "one slot: the rest waits");
      // B's call ends on B's loop: B sends the next call before it returns, with A's items and its own.
      onLoop(b, () -> {
        promises.get(0).complete(List.of("r100"));
        return null;
      });
      assertEquals(List.of(List.of(100), List.of(1, 2, 3, 4)), List.copyOf(sent), "in arrival order, at once");
      assertEquals(threadB, sentFrom.get(1), "sent from the loop the answer came in on");
      assertEquals("r100", first.result());
      List<String> answeredOn = java.util.Collections.synchronizedList(new ArrayList<>());
      java.util.concurrent.CountDownLatch all = new java.util.concurrent.CountDownLatch(4);
      for (Future<String> f : fromA) {
        f.onComplete(ar -> {
          answeredOn.add("A:" + Thread.currentThread().getName());
          all.countDown();
        });
      }
      fromB.onComplete(ar -> {
        answeredOn.add("B:" + Thread.currentThread().getName());
        all.countDown();
      });
      onLoop(b, () -> {
        promises.get(1).complete(List.of("r1", "r2", "r3", "r4"));
        return null;
      });
      assertTrue(all.await(10, java.util.concurrent.TimeUnit.SECONDS));
      assertEquals(List.of("r1", "r2", "r3"), fromA.stream().map(Future::result).toList());
      assertEquals("r4", fromB.result());
      for (String on : answeredOn) {
        assertEquals(on.startsWith("A:") ? "A:" + threadA : "B:" + threadB, on, "answered on the submitting loop");
      }
      assertEquals(0, onLoop(a, limit::used), "idle: the slot is back");
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  @Test
  @DisplayName("on an event loop, a free slot sends when the loop's turn ends: what that turn submits goes in one call, never after a timer")
  void oneCallPerTurn() throws Exception {
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx(new io.vertx.core.VertxOptions().setEventLoopPoolSize(1));
    try {
      io.vertx.core.internal.ContextInternal loop = ((io.vertx.core.internal.VertxInternal) vertx).createEventLoopContext();
      InFlight limit = new InFlight(2);
      List<List<Integer>> sent = java.util.Collections.synchronizedList(new ArrayList<>());
      List<Promise<List<String>>> promises = java.util.Collections.synchronizedList(new ArrayList<>());
      GroupCommit<Integer, String> g = onLoop(loop, () -> new GroupCommit<>(10, limit, i -> 1, items -> {
        Promise<List<String>> p = Promise.promise();
        sent.add(List.copyOf(items));
        promises.add(p);
        return p.future();
      }));
      // One turn reads three requests: two slots are free, yet they travel together.
      int sentInTurn = onLoop(loop, () -> {
        g.submit(1);
        g.submit(2);
        g.submit(3);
        return sent.size();
      });
      assertEquals(0, sentInTurn, "nothing goes out before the turn ends");
      onLoop(loop, () -> null);
      assertEquals(List.of(List.of(1, 2, 3)), List.copyOf(sent), "one call for the turn, one slot used");
      assertEquals(1, onLoop(loop, limit::used));
      // A lone request on an idle loop goes out as soon as its turn ends (no timer to wait for).
      Future<String> lone = onLoop(loop, () -> g.submit(4));
      onLoop(loop, () -> null);
      assertEquals(List.of(4), sent.get(1), "the second slot, at the end of its own turn");
      onLoop(loop, () -> {
        promises.get(0).complete(List.of("r1", "r2", "r3"));
        promises.get(1).complete(List.of("r4"));
        return null;
      });
      assertEquals("r4", lone.result());
      assertEquals(0, onLoop(loop, limit::used), "idle: both slots are back");
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  /** Runs {@code work} on a context's loop and waits for its result. */
  static <T> T onLoop(io.vertx.core.Context context, java.util.function.Supplier<T> work) throws Exception {
    java.util.concurrent.CompletableFuture<T> done = new java.util.concurrent.CompletableFuture<>();
    context.runOnContext(v -> {
      try {
        done.complete(work.get());
      } catch (RuntimeException e) {
        done.completeExceptionally(e);
      }
    });
    return done.get(10, java.util.concurrent.TimeUnit.SECONDS);
  }
}
