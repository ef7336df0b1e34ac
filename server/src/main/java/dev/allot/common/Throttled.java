package dev.allot.common;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * A warning that may come from every call during an outage, logged at most once per interval,
 * with how many were left out since the last one. Thread-safe; the message is built only when
 * the line is written.
 */
public final class Throttled {
  private final System.Logger log;
  private final long intervalMillis;
  private final AtomicLong last = new AtomicLong(Long.MIN_VALUE / 2);
  private final AtomicLong skipped = new AtomicLong();

  public Throttled(System.Logger log, long intervalMillis) {
    this.log = log;
    this.intervalMillis = intervalMillis;
  }

  public void warn(Supplier<String> message) {
    log(System.Logger.Level.WARNING, message, null);
  }

  public void warn(Supplier<String> message, Throwable err) {
    log(System.Logger.Level.WARNING, message, err);
  }

  /** Logs the line unless one was logged less than the interval ago; then only counts it. */
  public void log(System.Logger.Level level, Supplier<String> message, Throwable err) {
    long now = System.currentTimeMillis();
    long prev = last.get();
    if (now - prev < intervalMillis || !last.compareAndSet(prev, now)) {
      skipped.incrementAndGet();
      return;
    }
    long left = skipped.getAndSet(0);
    String text = message.get() + (left > 0 ? " (and " + left + " more like it since the last such line)" : "");
    if (err == null) {
      log.log(level, text);
    } else {
      log.log(level, text, err);
    }
  }
}
