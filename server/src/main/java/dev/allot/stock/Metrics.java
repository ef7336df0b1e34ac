package dev.allot.stock;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Allot's own counters, beside the HTTP and pool metrics Vert.x records. */
public final class Metrics {
  private final MeterRegistry registry;
  private final Map<String, Counter> reservations = new ConcurrentHashMap<>();
  private final Map<String, Counter> transitions = new ConcurrentHashMap<>();
  private final Map<String, Counter> movements = new ConcurrentHashMap<>();
  private final Counter holdsExpired;
  private final Counter sweeperErrors;
  private final Counter driftCounts;
  private final Counter driftUnits;
  private final Counter shortfallUnits;
  private final Counter shipShortfallUnits;

  public Metrics(MeterRegistry registry) {
    this.registry = registry;
    this.holdsExpired = Counter.builder("allot_holds_expired").description("reservations expired by deadline")
        .register(registry);
    this.sweeperErrors = Counter.builder("allot_sweeper_errors").description("sweeper passes that failed")
        .register(registry);
    this.driftCounts = Counter.builder("allot_count_drifts").description("physical counts that disagreed with the books")
        .register(registry);
    this.driftUnits = Counter.builder("allot_count_drift_units").description("units counts disagreed by (absolute)")
        .register(registry);
    this.shortfallUnits = Counter.builder("allot_count_shortfall_units")
        .description("units a count found missing that were already promised (reserved or committed)")
        .register(registry);
    this.shipShortfallUnits = Counter.builder("allot_ship_shortfall_units")
        .description("units shipped from a location whose onHand did not have them (onHand stopped at 0)")
        .register(registry);
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** Outcome of a create: held, insufficient_stock, replay, conflict, unavailable, ... */
  public void reservation(String outcome) {
    reservations.computeIfAbsent(outcome, o -> Counter.builder("allot_reservations")
        .description("reservation creations by outcome").tag("outcome", o).register(registry)).increment();
  }

  /** A reservation transition (commit, release, ...) and its outcome. */
  public void transition(String op, String outcome) {
    transitions.computeIfAbsent(op + "/" + outcome, k -> Counter.builder("allot_reservation_transitions")
        .description("reservation transitions by operation and outcome").tag("op", op).tag("outcome", outcome)
        .register(registry)).increment();
  }

  public void movement(String status) {
    movements.computeIfAbsent(status, s -> Counter.builder("allot_movements")
        .description("stock movements by result").tag("status", s).register(registry)).increment();
  }

  /** A count that disagreed with the books by {@code drift} units, leaving {@code shortfall} units promised but missing. */
  public void drift(long drift, long shortfall) {
    driftCounts.increment();
    driftUnits.increment(Math.abs(drift));
    shortfallUnits.increment(shortfall);
  }

  public void shipShortfall(long units) {
    shipShortfallUnits.increment(units);
  }

  public void holdExpired() {
    holdsExpired.increment();
  }

  public void sweeperError() {
    sweeperErrors.increment();
  }
}
