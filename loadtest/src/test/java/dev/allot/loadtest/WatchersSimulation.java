package dev.allot.loadtest;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import io.gatling.javaapi.http.WsFrameCheck;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.bodyString;
import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.during;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.jsonPath;
import static io.gatling.javaapi.core.CoreDsl.pause;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;
import static io.gatling.javaapi.http.HttpDsl.ws;

/**
 * Many WebSocket watchers on a few SKUs while buyers buy. Each watcher subscribes to one SKU,
 * then repeatedly waits for the next {@code batch} availability messages and checks that their
 * versions strictly increase; updates are counted. At the end a verifier checks that no
 * watcher saw a version go down and that the stock truth holds (nothing oversold).
 */
public class WatchersSimulation extends Simulation {
  final int watchers = Load.integer("watchers", 500);
  final int skuCount = Load.integer("skus", 3);
  final int units = Load.integer("unitsPerSku", 100_000);
  final double buyRate = Load.dbl("buyRate", 60);
  final int seconds = Load.integer("durationSeconds", 30);
  final int batch = Load.integer("batch", 5);
  final String channel = Load.str("channel", "web");
  final String location = Load.str("location", "main");
  final List<String> skus = Load.skus("WATCH", skuCount);

  final AtomicLong updates = new AtomicLong();
  final AtomicLong wentBack = new AtomicLong();
  final AtomicLong bought = new AtomicLong();

  final HttpProtocolBuilder protocol = http.baseUrls(Load.bases()).wsBaseUrl(Load.wsBase())
      .contentTypeHeader("application/json").acceptHeader("application/json");

  /** Checks for the next `batch` availability messages of the watcher's SKU, saving their versions v0..vN. */
  WsFrameCheck[] nextUpdates() {
    WsFrameCheck[] checks = new WsFrameCheck[batch];
    for (int i = 0; i < batch; i++) {
      checks[i] = ws.checkTextMessage("update " + i)
          .matching(jsonPath("$.sku").isEL("#{sku}"))
          .check(jsonPath("$.version").ofLong().saveAs("v" + i));
    }
    return checks;
  }

  final ChainBuilder watch = exec(session -> session.set("sku", skus.get(ThreadLocalRandom.current().nextInt(skuCount)))
      .set("last", -1L))
      .exec(ws("connect").connect("/v1/stream?access_token=" + Load.readerKey()))
      .exec(ws("subscribe").sendText(StringBody("{\"op\":\"subscribe\",\"channel\":\"" + channel
              + "\",\"skus\":[\"#{sku}\"]}"))
          .await(Duration.ofSeconds(10)).on(ws.checkTextMessage("snapshot").matching(jsonPath("$.sku").isEL("#{sku}"))
              .check(jsonPath("$.version").ofLong().saveAs("last"))))
      .exec(during(Duration.ofSeconds(seconds)).on(
          // Re-sending the same subscribe changes nothing on the server; it only gives the checks a frame to wait on.
          exec(ws("next updates").sendText(StringBody("{\"op\":\"subscribe\",\"channel\":\"" + channel
                  + "\",\"skus\":[\"#{sku}\"]}"))
              .await(Duration.ofSeconds(10)).on(nextUpdates()))
              .exec(session -> {
                long last = session.getLong("last");
                for (int i = 0; i < batch; i++) {
                  if (!session.contains("v" + i)) {
                    return session;
                  }
                  long v = session.getLong("v" + i);
                  if (v <= last) {
                    wentBack.incrementAndGet();
                  }
                  last = v;
                  updates.incrementAndGet();
                }
                return session.set("last", last);
              })))
      .exec(ws("close").close());

  final ScenarioBuilder watcherScenario = scenario("watchers").exec(watch);

  final ScenarioBuilder buyers = scenario("buyers")
      .exec(session -> session.set("rid", "w-" + UUID.randomUUID())
          .set("buySku", skus.get(ThreadLocalRandom.current().nextInt(skuCount))))
      .exec(http("reserve").post("/v1/reservations").header("Authorization", "Bearer " + Load.channelKey(channel))
          .body(StringBody("{\"id\":\"#{rid}\",\"channel\":\"" + channel + "\",\"lines\":[{\"sku\":\"#{buySku}\",\"qty\":1}]}"))
          .check(status().in(201, 409), status().saveAs("reserved")))
      .doIf(s -> s.getInt("reserved") == 201).then(
          exec(http("commit").post("/v1/reservations/#{rid}/commit").header("Authorization", "Bearer "
              + Load.channelKey(channel)).body(StringBody("{}")).check(status().is(200)))
              .exec(session -> {
                bought.incrementAndGet();
                return session;
              }));

  final ScenarioBuilder verifier = scenario("verifier").exec(pause(Duration.ofSeconds(1)))
      .exec(http("verify invariants").get("/health/live").check(bodyString().transform(b -> problems()).is("ok")));

  String problems() {
    List<String> p = new ArrayList<>();
    long committed = 0;
    for (String sku : skus) {
      Load.Totals t = Load.totals(sku);
      committed += t.committed();
      if (t.committed() + t.reserved() > t.onHand()) {
        p.add(sku + " OVERSOLD");
      }
    }
    if (committed != bought.get()) {
      p.add("committed " + committed + " != bought " + bought.get());
    }
    if (wentBack.get() > 0) {
      p.add(wentBack.get() + " updates whose version did not go up");
    }
    if (updates.get() == 0) {
      p.add("no watcher received any update");
    }
    System.out.printf("%d watchers on %d SKUs: %d updates checked, %d out of order; %d units bought%n", watchers,
        skuCount, updates.get(), wentBack.get(), bought.get());
    return p.isEmpty() ? "ok" : String.join("; ", p);
  }

  {
    setUp(
        watcherScenario.injectOpen(rampUsers(watchers).during(Duration.ofSeconds(Math.max(1, Math.min(10, seconds / 3))))),
        buyers.injectOpen(constantUsersPerSec(buyRate).during(Duration.ofSeconds(seconds + 12L)))
            .andThen(verifier.injectOpen(atOnceUsers(1))))
        .protocols(protocol)
        .assertions(
            details("subscribe").failedRequests().count().is(0L),
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
