package dev.allot.stream;

import dev.allot.stock.Bundle;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A SKU watched by at least one local socket: its latest version and per-location availability,
 * and its watchers by channel. Touched on the hub's event loop only.
 */
final class SkuWatch {
  final String sku;
  boolean ready;
  long version = -1;
  Map<String, Long> available = Map.of();
  long pendingVersion = -1;             // an event that arrived while the snapshot was being read
  Map<String, Long> pendingAvailable;
  final Map<String, ChannelWatch> channels = new HashMap<>();
  /** For a bundle: its definition and its components' watches (a bundle has no stock and no events of its own). */
  Bundle bundle;
  final List<SkuWatch> components = new ArrayList<>();
  /** For a stock SKU: the bundles being watched that it is a component of. */
  final Set<SkuWatch> dependents = new LinkedHashSet<>();

  SkuWatch(String sku) {
    this.sku = sku;
  }

  boolean idle() {
    return channels.isEmpty() && dependents.isEmpty();
  }
}
