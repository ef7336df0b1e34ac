package dev.allot.loadtest;

/**
 * Checkout traffic over a catalogue: thousands of SKUs with a few hot ones, carts of 1-5 lines,
 * reserve -> extend -> commit / release / abandon, channels with buffers competing. Defaults: 2000
 * SKUs, 100 carts/s for 40 s after a 10 s ramp (see {@link MixedLoad} and loadtest/README.md).
 */
public class CheckoutSimulation extends MixedLoad {
  public CheckoutSimulation() {
    super("checkout", 2000, 40, 100, 10, 40);
  }
}
