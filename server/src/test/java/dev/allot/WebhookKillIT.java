package dev.allot;

import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.store.RedisProcess;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static dev.allot.Api.expect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two server processes share a webhook endpoint's deliveries; the one delivering is killed with SIGKILL
 * half-way through a slow receiver's backlog. The other takes over when the lease lapses: every event
 * arrives, and an event that arrives twice is the same event with the same webhook-id.
 */
class WebhookKillIT {
  @Test
  @DisplayName("the delivering instance SIGKILLed mid-delivery: nothing lost, duplicates only with the same webhook-id")
  void killedMidDelivery() throws Exception {
    try (RedisProcess redis = RedisProcess.start(); Receiver receiver = new Receiver()) {
      Map<String, String> env = Map.of("ALLOT_REDIS_URL", redis.url(), "ALLOT_API_KEYS", "k-admin=admin");
      JarIT.Running first = JarIT.launch(env);
      JarIT.Running second = null;
      try {
        Api a = new Api(first.port(), "k-admin");
        a.location("main");
        a.channel("web", "[\"main\"]", 0);
        receiver.secret(expect(a.put("/v1/webhooks/erp", "{\"url\":\"" + receiver.url()
            + "\",\"types\":[\"movement.applied\"]}"), 200).json().path("secret").asText());
        String sku = Api.sku("kill");
        a.receive(sku, "main", 1);
        Predicate<JsonNode> mine = e -> sku.equals(e.path("sku").asText());
        // The first instance, alone, holds the endpoint's lease once it delivered.
        ExpiryTest.await("the first delivery", 15_000, () -> receiver.accepted(mine).size() == 1);

        second = JarIT.launch(env);
        receiver.delay(150);
        Api b = new Api(second.port(), "k-admin");
        for (int i = 0; i < 30; i++) {
          b.receive(sku, "main", 1);
        }
        ExpiryTest.await("deliveries under way", 20_000, () -> receiver.accepted(mine).size() >= 6);
        first.process().destroyForcibly(); // SIGKILL
        assertTrue(first.process().waitFor(10, TimeUnit.SECONDS), "the first instance is gone");
        int atKill = receiver.accepted(mine).size();
        assertTrue(atKill < 31, "killed before the backlog was through (" + atKill + " of 31)");

        ExpiryTest.await("every event, through the second instance", 60_000,
            () -> new HashSet<>(receiver.accepted(mine).stream().map(Receiver.Delivery::webhookId).toList()).size() == 31,
            () -> receiver.accepted(mine).size() + " accepted");
        Map<String, String> bodies = new HashMap<>();
        Set<Long> onHand = new HashSet<>();
        for (Receiver.Delivery d : receiver.accepted(mine)) {
          assertTrue(d.verified(), "signed: " + d);
          String before = bodies.putIfAbsent(d.webhookId(), d.body());
          assertTrue(before == null || before.equals(d.body()), "a duplicate is the same event: " + d.webhookId());
          onHand.add(d.event().path("data").path("onHand").asLong());
        }
        assertEquals(31, onHand.size(), "31 movements, each its own event: onHand 1 to 31");
        // Each event's first arrival is in order; what the new owner sends again comes after, same ids.
        List<Receiver.Delivery> all = receiver.accepted(mine);
        Set<String> seen = new HashSet<>();
        long lastFirst = 0;
        for (Receiver.Delivery d : all) {
          if (seen.add(d.webhookId())) {
            long v = d.event().path("data").path("onHand").asLong();
            assertTrue(v > lastFirst, "first arrivals in order: " + all.stream()
                .map(x -> x.event().path("data").path("onHand").asLong()).toList());
            lastFirst = v;
          }
        }
      } finally {
        if (first.process().isAlive()) {
          first.process().destroyForcibly();
        }
        if (second != null) {
          JarIT.terminate(second);
        }
      }
    }
  }
}
