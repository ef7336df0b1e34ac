package dev.allot.outbound;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.allot.stock.Json;

import java.time.Instant;

/**
 * One webhook delivery attempt ({@link Deliveries}), as the delivery log keeps it
 * (GET /v1/webhooks/{id}/deliveries). status 0: no answer (connection refused, timeout).
 */
record Attempt(String eventId, String type, int attempt, int status, boolean ok, String error, long ms) {
  /** The log entry's JSON; an error is cut at 300 characters. */
  String log() {
    ObjectNode o = Json.object();
    o.put("eventId", eventId);
    o.put("type", type);
    o.put("attempt", attempt);
    o.put("at", Instant.now().toString());
    if (status > 0) {
      o.put("status", status);
    } else {
      o.putNull("status");
    }
    if (error != null) {
      o.put("error", error.length() > 300 ? error.substring(0, 300) : error);
    }
    o.put("durationMs", ms);
    o.put("outcome", ok ? "delivered" : "failed");
    return Json.write(o);
  }
}
