package dev.allot;

import dev.allot.config.Settings;

import java.util.concurrent.CountDownLatch;

/** {@code java -jar allot-server.jar [--config FILE]}: starts one server and stops it cleanly on SIGTERM. */
public final class Main {
  /**
   * Vert.x registers one "active connections" gauge per network client; Micrometer warns, once,
   * that the second (the stream's Redis subscriber) was not registered again. Harmless, and a
   * WARNING at every start teaches operators to ignore warnings: keep only its errors. (Held in a
   * field: java.util.logging forgets the level of a logger nobody references.)
   */
  private static final java.util.logging.Logger MICROMETER_REGISTRY =
      java.util.logging.Logger.getLogger("io.micrometer.core.instrument.MeterRegistry");

  private Main() {
  }

  public static void main(String[] args) throws Exception {
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tLZ %4$-7s %3$s - %5$s%6$s%n");
    }
    MICROMETER_REGISTRY.setLevel(java.util.logging.Level.SEVERE);
    Settings settings;
    try {
      settings = Settings.load(args, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("allot: bad configuration: " + e.getMessage());
      System.exit(2);
      return;
    }
    AllotServer server;
    try {
      server = AllotServer.start(settings);
    } catch (Exception e) {
      System.err.println("allot: could not start: " + e);
      System.exit(1);
      return;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.getLogger(Main.class.getName()).log(System.Logger.Level.INFO,
          "stopping: no new connections, finishing requests in flight");
      server.stop();
      // JUL may already be shut down by its own hook at this point: say it plainly.
      System.err.println("allot: stopped");
      stopped.countDown();
    }, "allot-shutdown"));
    stopped.await();
  }
}
