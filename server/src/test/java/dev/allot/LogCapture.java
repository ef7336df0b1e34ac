package dev.allot;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** Collects every java.util.logging record that reaches the root logger while it is open. */
final class LogCapture extends Handler implements AutoCloseable {
  private final List<LogRecord> records = new CopyOnWriteArrayList<>();

  LogCapture() {
    Logger.getLogger("").addHandler(this);
  }

  /** Records whose logger name and (unformatted) message contain these texts. */
  long count(String logger, String message) {
    return records.stream().filter(r -> String.valueOf(r.getLoggerName()).contains(logger)
        && String.valueOf(r.getMessage()).contains(message)).count();
  }

  List<LogRecord> records() {
    return records;
  }

  @Override
  public void publish(LogRecord record) {
    records.add(record);
  }

  @Override
  public void flush() {
  }

  @Override
  public void close() {
    Logger.getLogger("").removeHandler(this);
  }
}
