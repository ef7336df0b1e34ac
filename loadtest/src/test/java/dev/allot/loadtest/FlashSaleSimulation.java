package dev.allot.loadtest;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.asLongAsDuring;
import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.bodyString;
import static io.gatling.javaapi.core.CoreDsl.constantConcurrentUsers;
import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.doIf;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.pause;
import static io.gatling.javaapi.core.CoreDsl.percent;
import static io.gatling.javaapi.core.CoreDsl.rampUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.randomSwitch;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.core.CoreDsl.responseTimeInMillis;
import static io.gatling.javaapi.http.HttpDsl.status;

/**
 * One hot SKU with {@code units} units; buyers arrive at an open-model rate (ramp to
 * {@code peakRate}, then hold); each reserves 1..{@code maxQty} and commits
 * ({@code commitPercent}), releases ({@code releasePercent}) or abandons the hold to expire. A 409
 * sold-out is a normal outcome, counted. When the buyers are done, a verifier waits for the
 * abandoned holds to expire and checks the server's truth: nothing oversold, committed equals the
 * commits the buyers saw, nothing still held. A violated invariant fails the run.
 */
public class FlashSaleSimulation extends Simulation {
  final int units = Load.integer("units", 1000);
  final double peakRate = Load.dbl("peakRate", 200);
  final int rampSeconds = Load.integer("rampSeconds", 15);
  final int holdSeconds = Load.integer("holdSeconds", 35);
  final double commitPercent = Load.dbl("commitPercent", 60);
  final double releasePercent = Load.dbl("releasePercent", 20);
  final int maxQty = Load.integer("maxQty", 1);
  final int ttlSeconds = Load.integer("ttlSeconds", 5);
  final int p99Millis = Load.integer("p99Millis", 250);
  /** Above 0: a closed model instead, this many buyers at once for holdSeconds (finds the throughput ceiling). */
  final int concurrency = Load.integer("concurrency", 0);
  final double maxErrorPercent = Load.dbl("maxErrorPercent", 1.0);
  final String channel = Load.str("channel", "web");
  final String location = Load.str("location", "main");
  /** 1 (default): the classic hot SKU. More: buyers spread uniformly over that many SKUs of `units` each. */
  final int skuCount = Load.integer("skus", 1);
  final List<String> skus = Load.skus("FLASH", skuCount);
  final String sku = skus.get(0);

  final AtomicLong committedUnits = new AtomicLong();
  final AtomicLong heldUnits = new AtomicLong();
  final AtomicLong soldOut = new AtomicLong();
  final AtomicLong reservations = new AtomicLong();
  /** Response times as the buyers saw them, for the benchmark's percentiles (Gatling's report has them too). */
  final java.util.Queue<Long> reserveMillis = new java.util.concurrent.ConcurrentLinkedQueue<>();
  final java.util.Queue<Long> commitMillis = new java.util.concurrent.ConcurrentLinkedQueue<>();
  volatile long firstReserveAt;
  volatile long lastReserveAt;

  final HttpProtocolBuilder protocol = http.baseUrls(Load.bases())
      .contentTypeHeader("application/json").acceptHeader("application/json")
      .header("Authorization", "Bearer " + Load.channelKey(channel));

  final ChainBuilder reserve = exec(session -> session
      .set("rid", "fs-" + UUID.randomUUID())
      .set("sku", skus.get(ThreadLocalRandom.current().nextInt(skuCount)))
      .set("qty", 1 + ThreadLocalRandom.current().nextInt(maxQty)))
      .exec(http("reserve").post("/v1/reservations")
          .body(StringBody(s -> "{\"id\":\"" + s.getString("rid") + "\",\"channel\":\"" + channel + "\",\"ttlSeconds\":"
              + ttlSeconds + ",\"lines\":[{\"sku\":\"" + s.getString("sku") + "\",\"qty\":" + s.getInt("qty") + "}]}"))
          .check(status().in(201, 409), status().saveAs("reserved"), responseTimeInMillis().saveAs("rt")))
      .exec(session -> {
        long now = System.nanoTime();
        if (firstReserveAt == 0) {
          firstReserveAt = now;
        }
        lastReserveAt = now;
        reserveMillis.add((long) session.getInt("rt"));
        if (session.getInt("reserved") == 201) {
          reservations.incrementAndGet();
          heldUnits.addAndGet(session.getInt("qty"));
        } else {
          soldOut.incrementAndGet();
        }
        return session;
      });

  final ChainBuilder commit = exec(http("commit").post("/v1/reservations/#{rid}/commit")
      .body(StringBody("{\"orderId\":\"order-#{rid}\"}"))
      .check(status().is(200), status().saveAs("committed"), responseTimeInMillis().saveAs("rt")))
      .exec(session -> {
        commitMillis.add((long) session.getInt("rt"));
        if (session.contains("committed") && session.getInt("committed") == 200) {
          committedUnits.addAndGet(session.getInt("qty"));
        }
        return session;
      });

  final ChainBuilder release = exec(http("release").post("/v1/reservations/#{rid}/release").check(status().is(200)));

  final ChainBuilder decide = doIf(session -> session.getInt("reserved") == 201).then(
      randomSwitch().on(percent(commitPercent).then(commit), percent(releasePercent).then(release)));
  // The rest abandon their hold: it expires by itself after ttlSeconds.

  final ScenarioBuilder buyers = scenario("flash sale buyers").exec(reserve, decide);

  final ScenarioBuilder verifier = scenario("verifier")
      .exec(asLongAsDuring(session -> totals().reserved() > 0, Duration.ofSeconds(ttlSeconds + 20L))
          .on(pause(Duration.ofMillis(500))))
      .exec(http("verify invariants").get("/health/live")
          .check(bodyString().transform(body -> problems()).is("ok")));

  /** Every SKU of the run summed; a SKU oversold on its own would show in oversoldSkus. */
  Load.Totals totals() {
    long on = 0;
    long res = 0;
    long com = 0;
    oversoldSkus = 0;
    for (String s : skus) {
      Load.Totals t = Load.totals(s);
      on += t.onHand();
      res += t.reserved();
      com += t.committed();
      if (t.reserved() + t.committed() > t.onHand()) {
        oversoldSkus++;
      }
    }
    return new Load.Totals(on, res, com);
  }

  volatile int oversoldSkus;

  /** "ok", or every invariant the server's truth breaks. */
  String problems() {
    Load.Totals t = totals();
    List<String> p = new ArrayList<>();
    if (t.onHand() != (long) units * skuCount) {
      p.add("onHand " + t.onHand() + " != received " + (long) units * skuCount);
    }
    if (oversoldSkus > 0) {
      p.add("OVERSOLD: " + oversoldSkus + " SKU(s)");
    }
    if (t.reserved() + t.committed() > t.onHand()) {
      p.add("OVERSOLD: reserved " + t.reserved() + " + committed " + t.committed() + " > onHand " + t.onHand());
    }
    if (t.committed() != committedUnits.get()) {
      p.add("committed " + t.committed() + " != commits the buyers saw " + committedUnits.get());
    }
    if (t.reserved() != 0) {
      p.add("still reserved after the holds' TTL: " + t.reserved());
    }
    writeSummary(t);
    System.out.printf("flash sale %s: %d units, %d held by buyers, %d committed, %d sold-out answers; server: onHand %d,"
            + " committed %d, reserved %d; oversells: %d%n", sku, units, heldUnits.get(), committedUnits.get(),
        soldOut.get(), t.onHand(), t.committed(), t.reserved(), Math.max(0, t.reserved() + t.committed() - t.onHand()));
    return p.isEmpty() ? "ok" : String.join("; ", p);
  }

  static String percentiles(java.util.Collection<Long> millis) {
    long[] a = millis.stream().mapToLong(Long::longValue).sorted().toArray();
    java.util.function.IntFunction<Long> p = q -> a.length == 0 ? 0 : a[Math.min(a.length - 1,
        (int) Math.ceil(q / 100.0 * a.length) - 1)];
    return String.format(java.util.Locale.ROOT, "{\"n\":%d,\"p50\":%d,\"p95\":%d,\"p99\":%d,\"max\":%d}", a.length,
        p.apply(50), p.apply(95), p.apply(99), a.length == 0 ? 0 : a[a.length - 1]);
  }

  /** For the benchmark command: what this run did, as JSON in target/ (or -DsummaryFile). */
  void writeSummary(Load.Totals t) {
    String json = String.format(java.util.Locale.ROOT, "{\"sku\":\"%s\",\"units\":%d,\"reservationsHeld\":%d,"
            + "\"unitsHeld\":%d,\"unitsCommitted\":%d,\"soldOutAnswers\":%d,\"buyersSeconds\":%.3f,"
            + "\"serverOnHand\":%d,\"serverCommitted\":%d,\"serverReserved\":%d,\"oversells\":%d,"
            + "\"reserve\":%s,\"commit\":%s}", sku, units,
        reservations.get(), heldUnits.get(), committedUnits.get(), soldOut.get(),
        (lastReserveAt - firstReserveAt) / 1e9, t.onHand(), t.committed(), t.reserved(),
        Math.max(0, t.reserved() + t.committed() - t.onHand()), percentiles(reserveMillis), percentiles(commitMillis));
    try {
      java.nio.file.Path f = java.nio.file.Path.of(Load.str("summaryFile", "target/flash-sale-summary.json"));
      if (f.getParent() != null) {
        java.nio.file.Files.createDirectories(f.getParent());
      }
      java.nio.file.Files.writeString(f, json);
    } catch (java.io.IOException e) {
      System.err.println("could not write the run summary: " + e);
    }
  }

  {
    var load = concurrency > 0
        ? buyers.injectClosed(constantConcurrentUsers(concurrency).during(Duration.ofSeconds(holdSeconds)))
        : buyers.injectOpen(
            rampUsersPerSec(1).to(peakRate).during(Duration.ofSeconds(rampSeconds)),
            constantUsersPerSec(peakRate).during(Duration.ofSeconds(holdSeconds)));
    setUp(load.andThen(verifier.injectOpen(atOnceUsers(1))))
        .protocols(protocol)
        .assertions(
            details("reserve").failedRequests().percent().lte(maxErrorPercent),
            details("reserve").responseTime().percentile(99.0).lte(p99Millis),
            details("commit").failedRequests().percent().lte(maxErrorPercent),
            details("commit").responseTime().percentile(99.0).lte(p99Millis),
            details("verify invariants").failedRequests().count().is(0L));
  }

  /** Sets up this run's stock before any user starts. */
  @Override
  public void before() {
    Load.ensureLocation(location);
    Load.ensureChannel(channel, location);
    Load.receive(skus, location, units);
  }
}
