package dev.allot.loadtest;

import dev.allot.AllotServer;
import dev.allot.TestRedis;
import dev.allot.TestServer;
import io.gatling.app.Gatling$;
import io.gatling.shared.cli.GatlingCliOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A few seconds of each simulation with tiny numbers against a real server and Redis, so the
 * suites never rot: each must pass its own assertions, the invariant checks among them.
 */
class SmokeTest {
  static AllotServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start(TestRedis.url(), Map.of("ALLOT_API_KEYS",
        "demo-admin=admin,demo-reader=reader,demo-web=channel:web,demo-marketplace=channel:marketplace"));
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  static void run(Class<?> simulation, Map<String, String> params) {
    Map<String, String> all = new HashMap<>(params);
    all.put("base", "http://127.0.0.1:" + server.port());
    all.put("ttlSeconds", "5");
    Map<String, String> previous = new HashMap<>();
    all.forEach((k, v) -> previous.put(k, System.setProperty(k, v)));
    try {
      String results = new File("target/gatling-smoke").getAbsolutePath();
      int status = Gatling$.MODULE$.fromArgs(new String[] {
          GatlingCliOptions.Simulation.longOption(), simulation.getName(),
          GatlingCliOptions.ResultsFolder.longOption(), results,
          GatlingCliOptions.NoReports.longOption()});
      assertEquals(0, status, simulation.getSimpleName() + " failed its assertions (see the output above)");
    } finally {
      previous.forEach((k, v) -> {
        if (v == null) {
          System.clearProperty(k);
        } else {
          System.setProperty(k, v);
        }
      });
    }
  }

  @Test
  @DisplayName("flash sale: a few seconds, 100 units, zero oversells, commits counted exactly")
  void flashSale() {
    run(FlashSaleSimulation.class, Map.of("units", "100", "peakRate", "60", "rampSeconds", "1", "holdSeconds", "3",
        "p99Millis", "10000"));
  }

  @Test
  @DisplayName("checkout: carts over 50 SKUs on two channels, every SKU's truth checked")
  void checkout() {
    run(CheckoutSimulation.class, Map.of("skus", "50", "unitsPerSku", "10", "rate", "30", "rampSeconds", "1",
        "durationSeconds", "3", "p99Millis", "10000"));
  }

  @Test
  @DisplayName("soak: the same journeys at a steady rate")
  void soak() {
    run(SoakSimulation.class, Map.of("skus", "20", "unitsPerSku", "100", "rate", "20", "durationSeconds", "3",
        "p99Millis", "10000"));
  }

  @Test
  @DisplayName("watchers: WebSocket watchers see versions only go up while buyers buy")
  void watchers() {
    run(WatchersSimulation.class, Map.of("watchers", "20", "skus", "2", "buyRate", "30", "durationSeconds", "4",
        "batch", "2"));
  }
}
