package dev.allot.stream;

import io.vertx.core.Context;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * The watchers of one SKU on one channel, grouped by the event loop they live on, and their
 * coalescing state. Touched on the hub's event loop only.
 */
final class ChannelWatch {
  final String channel;
  /** channel|SKU: what a slow socket keeps the newest message of (StreamSocket#deliver). */
  final String key;
  private final Map<Context, Set<StreamSocket>> byContext = new HashMap<>();
  /** An immutable copy of byContext for the event loops to iterate; rebuilt only when watchers come or go. */
  private Map<Context, StreamSocket[]> frozen;
  int size;
  long lastSentAt;
  long lastSentVersion = -1;
  long timer = -1;

  ChannelWatch(String channel, String sku) {
    this.channel = channel;
    this.key = channel + '|' + sku;
  }

  boolean add(StreamSocket s) {
    boolean added = byContext.computeIfAbsent(s.context, c -> new LinkedHashSet<>()).add(s);
    if (added) {
      size++;
      frozen = null;
    }
    return added;
  }

  boolean remove(StreamSocket s) {
    Set<StreamSocket> set = byContext.get(s.context);
    if (set == null || !set.remove(s)) {
      return false;
    }
    if (set.isEmpty()) {
      byContext.remove(s.context);
    }
    size--;
    frozen = null;
    return true;
  }

  Map<Context, StreamSocket[]> frozen() {
    if (frozen == null) {
      Map<Context, StreamSocket[]> m = new HashMap<>();
      byContext.forEach((c, set) -> m.put(c, set.toArray(new StreamSocket[0])));
      frozen = m;
    }
    return frozen;
  }
}
