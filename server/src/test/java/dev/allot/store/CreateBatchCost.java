package dev.allot.store;

import dev.allot.store.Creations.Creation;
import dev.allot.store.Creations.NewReservation;
import dev.allot.store.RecordStore.StockLine;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * How much Redis time one create_batch call takes, per call and per reservation, by the number of
 * reservations it carries: the fixed part of a call and the part each reservation adds, the two
 * figures group commit trades (docs/benchmarks.md). A benchmark, not a test: it prints figures.
 * Fresh ids on one hot SKU, one location, the 201 template the server writes (its head marked, as
 * ReservationDocs marks it); the time is Redis's own ({@code INFO commandstats}, EVALSHA), so the
 * client and this JVM do not count. Its own redis-server child (redis-server on the PATH), so
 * nothing else runs on it.
 * <pre>
 * mvn -q -B -pl server test-compile
 * mvn -q -B -f server/pom.xml exec:java -Dexec.classpathScope=test -Dexec.mainClass=dev.allot.store.CreateBatchCost \
 *     [-Dsizes=1,6,12,24] [-Dcalls=1000] [-Drounds=3]
 * </pre>
 * Sizes alternate within each round (1 6 12 24 1 6 12 24 ...); the median of the rounds is printed.
 */
public final class CreateBatchCost {
  private CreateBatchCost() {
  }

  public static void main(String[] args) throws Exception {
    int[] sizes = java.util.Arrays.stream(System.getProperty("sizes", "1,6,12,24").split(",")).map(String::trim)
        .mapToInt(Integer::parseInt).toArray();
    int calls = Integer.getInteger("calls", 1000);
    int rounds = Integer.getInteger("rounds", 3);
    Vertx vertx = Vertx.vertx();
    try (RedisProcess process = RedisProcess.start()) {
      RedisStore redis = RedisStore.create(vertx, process.url(), List.of(), 4);
      await(redis.loadScripts());
      Store store = new Store(redis, 1000);
      Creations creations = new Creations(redis, 1000, new InFlight(1));
      String sku = "COST-HOT";
      long now = System.currentTimeMillis();
      await(store.movement("cost-receive", "fp", "receive", sku, "main", 900_000_000L, now, 1000));
      double[][] perReservation = new double[sizes.length][rounds];
      double[][] perCall = new double[sizes.length][rounds];
      int n = 0;
      for (int round = 0; round < rounds; round++) {
        for (int s = 0; s < sizes.length; s++) {
          await(redis.send(Command.CONFIG, "RESETSTAT"));
          for (int c = 0; c < calls; c++) {
            List<NewReservation> batch = new ArrayList<>(sizes[s]);
            long t = System.currentTimeMillis();
            for (int j = 0; j < sizes[s]; j++) {
              String id = "cost-" + round + "-" + s + "-" + (n++);
              long deadline = t + 900_000;
              batch.add(new NewReservation(id, t, Long.toHexString(id.hashCode()) + "0123456789abcdef0123456789",
                  "web", deadline, 0, null, false, List.of("main"), List.of(new StockLine(sku, 1)),
                  "{\"id\":\"" + id + "\",\"channel\":\"web\",\"state\":\"held\",\"expiresAt\":\""
                      + Instant.ofEpochMilli(deadline) + "\"" + Creations.HEAD_END + ",\"lines\":[{\"sku\":\"" + sku
                      + "\",\"qty\":1,\"allocations\":\u00010\u0001}]}", 600));
            }
            for (Creation made : await(creations.send(batch))) {
              if (made.result() != Creations.Result.CREATED) {
                throw new IllegalStateException("a reservation was not held: " + made);
              }
            }
          }
          double usPerCall = evalshaMicros(await(redis.send(Command.INFO, "commandstats")).toString());
          perCall[s][round] = usPerCall;
          perReservation[s][round] = usPerCall / sizes[s];
        }
      }
      System.out.printf("create_batch inside Redis (%d calls of each size, %d rounds; median [range])%n", calls, rounds);
      for (int s = 0; s < sizes.length; s++) {
        System.out.printf("  %3d a call: %7.1f us a call  %6.1f us a reservation  [%.1f - %.1f]%n", sizes[s],
            median(perCall[s]), median(perReservation[s]), min(perReservation[s]), max(perReservation[s]));
      }
      await(redis.close());
    } finally {
      vertx.close();
    }
  }

  static double evalshaMicros(String info) {
    for (String line : info.split("\r?\n")) {
      if (line.startsWith("cmdstat_evalsha:")) {
        for (String part : line.substring(line.indexOf(':') + 1).split(",")) {
          if (part.startsWith("usec_per_call=")) {
            return Double.parseDouble(part.substring("usec_per_call=".length()));
          }
        }
      }
    }
    throw new IllegalStateException("no EVALSHA in INFO commandstats");
  }

  static double median(double[] xs) {
    double[] s = xs.clone();
    java.util.Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  static double min(double[] xs) {
    return java.util.Arrays.stream(xs).min().orElse(Double.NaN);
  }

  static double max(double[] xs) {
    return java.util.Arrays.stream(xs).max().orElse(Double.NaN);
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
