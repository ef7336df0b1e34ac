package dev.allot.loadtest;

/**
 * A steady mixed load for a while (default 3 minutes at 50 carts/s over 500 SKUs), to show that
 * latency and memory stay flat: compare the report's response-time-over-time chart from start to
 * end, and the server heap printed at start and end. Same journeys and checks as checkout.
 */
public class SoakSimulation extends MixedLoad {
  public SoakSimulation() {
    super("soak", 500, 1000, 50, 0, 180);
  }
}
