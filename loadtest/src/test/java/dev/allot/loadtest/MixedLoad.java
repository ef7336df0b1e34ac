package dev.allot.loadtest;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.OpenInjectionStep;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.asLongAsDuring;
import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.bodyString;
import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.doIf;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.feed;
import static io.gatling.javaapi.core.CoreDsl.pause;
import static io.gatling.javaapi.core.CoreDsl.percent;
import static io.gatling.javaapi.core.CoreDsl.rampUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.randomSwitch;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

/**
 * A catalogue of many SKUs with skewed popularity (a few hot, a long tail), carts of 1-5 lines
 * from a feeder, several channels with buffers competing for the same stock, and the journey
 * reserve -> (extend) -> commit / release / abandon. Shared by {@link CheckoutSimulation} and
 * {@link SoakSimulation}, which differ in rate and duration. The verifier checks every SKU's truth
 * at the end: never oversold, committed equals what the carts committed, nothing left held.
 */
public abstract class MixedLoad extends Simulation {
  final int skuCount;
  final int unitsPerSku;
  final int maxLines = Load.integer("maxLines", 5);
  final double skew = Load.dbl("skew", 3.0);
  final double extendPercent = Load.dbl("extendPercent", 30);
  final double commitPercent = Load.dbl("commitPercent", 50);
  final double releasePercent = Load.dbl("releasePercent", 25);
  final int ttlSeconds = Load.integer("ttlSeconds", 5);
  final int p99Millis = Load.integer("p99Millis", 250);
  final double maxErrorPercent = Load.dbl("maxErrorPercent", 1.0);
  final List<String> channels = List.of(Load.str("channels", "web,marketplace").split(","));
  final String location = Load.str("location", "main");
  final List<String> skus;

  final Map<String, LongAdder> committedBySku = new ConcurrentHashMap<>();
  final AtomicLong carts = new AtomicLong();
  final AtomicLong refused = new AtomicLong();
  final AtomicLong committedCarts = new AtomicLong();
  double heapAtStart = -1;

  protected MixedLoad(String name, int defaultSkus, int defaultUnits, double defaultRate, int defaultRamp,
                      int defaultSeconds) {
    skuCount = Load.integer("skus", defaultSkus);
    unitsPerSku = Load.integer("unitsPerSku", defaultUnits);
    double rate = Load.dbl("rate", defaultRate);
    int ramp = Load.integer("rampSeconds", defaultRamp);
    int seconds = Load.integer("durationSeconds", defaultSeconds);
    skus = Load.skus("CAT", skuCount);

    HttpProtocolBuilder protocol = http.baseUrls(Load.bases())
        .contentTypeHeader("application/json").acceptHeader("application/json");

    Iterator<Map<String, Object>> feeder = new Iterator<>() {
      @Override
      public boolean hasNext() {
        return true;
      }

      @Override
      public Map<String, Object> next() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        String channel = channels.get(r.nextInt(channels.size()));
        int lines = 1 + r.nextInt(maxLines);
        Map<String, Integer> cart = new java.util.LinkedHashMap<>();
        while (cart.size() < lines) {
          // Skewed popularity: index = n * u^skew puts most carts on the first few SKUs.
          cart.putIfAbsent(skus.get((int) (skuCount * Math.pow(r.nextDouble(), skew))), 1 + r.nextInt(2));
        }
        StringBuilder body = new StringBuilder();
        cart.forEach((sku, qty) -> body.append(body.length() == 0 ? "" : ",")
            .append("{\"sku\":\"").append(sku).append("\",\"qty\":").append(qty).append('}'));
        String rid = "co-" + UUID.randomUUID();
        return Map.of("rid", rid, "channel", channel, "key", Load.channelKey(channel), "cart", cart,
            "body", "{\"id\":\"" + rid + "\",\"channel\":\"" + channel + "\",\"ttlSeconds\":" + ttlSeconds
                + ",\"lines\":[" + body + "]}");
      }
    };

    ChainBuilder reserve = feed(feeder)
        .exec(http("reserve").post("/v1/reservations").header("Authorization", "Bearer #{key}")
            .body(StringBody("#{body}")).check(status().in(201, 409), status().saveAs("reserved")))
        .exec(session -> {
          carts.incrementAndGet();
          if (session.getInt("reserved") != 201) {
            refused.incrementAndGet();
          }
          return session;
        });
    ChainBuilder extend = exec(http("extend").post("/v1/reservations/#{rid}/extend")
        .header("Authorization", "Bearer #{key}").body(StringBody("{\"ttlSeconds\":" + ttlSeconds + "}"))
        .check(status().is(200)));
    ChainBuilder commit = exec(http("commit").post("/v1/reservations/#{rid}/commit")
        .header("Authorization", "Bearer #{key}").body(StringBody("{}"))
        .check(status().is(200), status().saveAs("committed")))
        .exec(session -> {
          if (session.contains("committed") && session.getInt("committed") == 200) {
            committedCarts.incrementAndGet();
            Map<String, Integer> cart = session.get("cart");
            cart.forEach((sku, qty) -> committedBySku.computeIfAbsent(sku, k -> new LongAdder()).add(qty));
          }
          return session;
        });
    ChainBuilder release = exec(http("release").post("/v1/reservations/#{rid}/release")
        .header("Authorization", "Bearer #{key}").check(status().is(200)));

    ScenarioBuilder shoppers = scenario(name + " shoppers").exec(reserve).doIf(s -> s.getInt("reserved") == 201).then(
        exec(randomSwitch().on(percent(extendPercent).then(pause(Duration.ofMillis(200)).exec(extend))))
            .exec(randomSwitch().on(percent(commitPercent).then(commit), percent(releasePercent).then(release))));

    ScenarioBuilder verifier = scenario("verifier")
        .exec(pause(Duration.ofSeconds(ttlSeconds)))
        // Abandoned holds expire at their deadline and the sweeper returns them within about a second.
        .exec(asLongAsDuring(session -> anyReserved(), Duration.ofSeconds(20)).on(pause(Duration.ofMillis(500))))
        .exec(http("verify invariants").get("/health/live")
            .check(bodyString().transform(body -> problems()).is("ok")));

    List<OpenInjectionStep> steps = new ArrayList<>();
    if (ramp > 0) {
      steps.add(rampUsersPerSec(1).to(rate).during(Duration.ofSeconds(ramp)));
    }
    steps.add(constantUsersPerSec(rate).during(Duration.ofSeconds(seconds)));
    setUp(shoppers.injectOpen(steps).andThen(verifier.injectOpen(atOnceUsers(1))))
        .protocols(protocol)
        .assertions(
            details("reserve").failedRequests().percent().lte(maxErrorPercent),
            details("reserve").responseTime().percentile(99.0).lte(p99Millis),
            details("commit").failedRequests().percent().lte(maxErrorPercent),
            details("commit").responseTime().percentile(99.0).lte(p99Millis),
            details("verify invariants").failedRequests().count().is(0L));
  }

  /** Whether any SKU of the run still has units held (the verifier waits for none, with a deadline). */
  boolean anyReserved() {
    for (String sku : skus) {
      if (Load.totals(sku).reserved() > 0) {
        return true;
      }
    }
    return false;
  }

  /** "ok", or every SKU whose truth breaks an invariant. */
  String problems() {
    List<String> p = new ArrayList<>();
    long oversells = 0;
    for (String sku : skus) {
      Load.Totals t = Load.totals(sku);
      long expected = committedBySku.getOrDefault(sku, new LongAdder()).sum();
      if (t.reserved() + t.committed() > t.onHand()) {
        oversells += t.reserved() + t.committed() - t.onHand();
        p.add(sku + " OVERSOLD: reserved " + t.reserved() + " + committed " + t.committed() + " > onHand " + t.onHand());
      }
      if (t.committed() != expected) {
        p.add(sku + ": committed " + t.committed() + " != " + expected + " committed by the carts");
      }
      if (t.reserved() != 0) {
        p.add(sku + ": still reserved " + t.reserved());
      }
      if (t.onHand() != unitsPerSku) {
        p.add(sku + ": onHand " + t.onHand() + " != " + unitsPerSku);
      }
    }
    System.out.printf("%d carts, %d refused for stock, %d committed over %d SKUs; oversells: %d; server heap %.0f MiB at"
            + " start, %.0f MiB at the end%n", carts.get(), refused.get(), committedCarts.get(), skus.size(), oversells,
        heapAtStart, Load.serverHeapMiB());
    return p.isEmpty() ? "ok" : String.join("; ", p.subList(0, Math.min(20, p.size())));
  }

  /** Sets up this run's stock before any user starts. */
  @Override
  public void before() {
    Load.ensureLocation(location);
    channels.forEach(c -> Load.ensureChannel(c, location));
    Load.receive(skus, location, unitsPerSku);
    heapAtStart = Load.serverHeapMiB();
  }
}
