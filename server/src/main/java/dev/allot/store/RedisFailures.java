package dev.allot.store;

import dev.allot.common.StoreUnavailableException;
import dev.allot.common.Throttled;
import io.vertx.redis.client.impl.types.ErrorType;

import java.util.List;

/**
 * What a failed Redis call means for the caller: "try later" (a {@link StoreUnavailableException},
 * 503 with Retry-After) or a refused command (500), told apart the same way for a single command
 * and for a batch; and the client's own log of dropped connections, kept to one line.
 */
final class RedisFailures {
  private static final System.Logger LOG = System.getLogger(RedisStore.class.getName());
  /** Error replies meaning "not now" (a command that did not run, or a node not serving): 503. */
  private static final List<String> UNAVAILABLE_CODES = List.of("OOM", "CONNECTION_CLOSED", "LOADING", "MASTERDOWN",
      "CLUSTERDOWN", "TRYAGAIN", "BUSY", "READONLY", "MOVED", "ASK", "NOREPLICAS");

  /**
   * The client logs every pooled connection that drops (a Redis restart, a failover) as SEVERE
   * "Unhandled Error" with a stack trace, several times per restart; an operator learns nothing
   * more from that than from one line. Those records become one warning, at most every 10 s; the
   * requests they failed answer 503 on their own. (Held in a field: JUL forgets the filter of a
   * logger nobody references.)
   */
  private static final java.util.logging.Logger CLIENT_LOG =
      java.util.logging.Logger.getLogger("io.vertx.redis.client.impl.RedisConnectionManager");
  private static final Throttled DROPPED = new Throttled(LOG, 10_000);

  private RedisFailures() {
  }

  static void quietenClientLog() {
    CLIENT_LOG.setFilter(r -> {
      if (!"Unhandled Error".equals(r.getMessage())) {
        return true;
      }
      Throwable t = r.getThrown();
      DROPPED.warn(() -> "a Redis connection dropped (" + (t == null ? "no cause given" : t.toString())
          + "); the client connects again for the next command");
      return false;
    });
  }

  /** A failed call as the caller should see it: StoreUnavailableException for "try later", else a refusal. */
  static Throwable translate(Throwable err) {
    if (err instanceof StoreUnavailableException) {
      return err;
    }
    if (err instanceof ErrorType e) {
      String msg = String.valueOf(e.getMessage());
      if (msg.startsWith("ERR [") || msg.startsWith("[")) {
        return batchError(e, msg);
      }
      for (String code : UNAVAILABLE_CODES) {
        if (e.is(code)) {
          return new StoreUnavailableException("Redis is not ready: " + e.getMessage(), e);
        }
      }
      if (e.getMessage() != null && e.getMessage().contains("OOM command not allowed")) {
        // Out of memory inside a script (its first write refused, nothing applied): not ready, like a full Redis.
        return new StoreUnavailableException("Redis is full (maxmemory, noeviction): " + e.getMessage(), e);
      }
      return new IllegalStateException("Redis refused a command: " + e.getMessage(), e);
    }
    return new StoreUnavailableException("Redis cannot be reached: " + err, err);
  }

  /**
   * A batch folds its failed entries into one "ERR [i] CODE ..." error (also when an entry failed
   * because the socket went away), so a pipelined read's "try later" is told by the text after
   * the index, exactly as a single command's by its code.
   */
  private static Throwable batchError(ErrorType e, String msg) {
    for (String code : UNAVAILABLE_CODES) {
      if (msg.contains("] " + code)) {
        return new StoreUnavailableException("Redis is not ready: " + msg, e);
      }
    }
    if (msg.contains("OOM command not allowed")) {
      return new StoreUnavailableException("Redis is full (maxmemory, noeviction): " + msg, e);
    }
    if (msg.contains("Exception") || msg.contains("Connection is closed") || msg.contains("CONNECTION_CLOSED")) {
      return new StoreUnavailableException("Redis cannot be reached: " + msg, e);
    }
    return new IllegalStateException("Redis refused a command: " + msg, e);
  }
}
