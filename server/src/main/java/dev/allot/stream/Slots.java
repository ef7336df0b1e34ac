package dev.allot.stream;

import io.vertx.redis.client.Response;

import java.net.URI;

/**
 * Redis Cluster slots for the stream's subscriber: which slot a SKU's event channel is in (the
 * channel {@code allot:{SKU}:ev} hashes on its tag, the SKU, as every key of that SKU does), and
 * which master owns each slot, from {@code CLUSTER SLOTS}.
 */
final class Slots {
  static final int COUNT = 16384;

  private Slots() {
  }

  /** The slot of every key and channel of this SKU: CRC16 (XMODEM) of the SKU, mod 16384. */
  static int of(String sku) {
    int crc = 0;
    for (int i = 0; i < sku.length(); i++) {
      crc ^= (sku.charAt(i) & 0xff) << 8; // SKU codes are ASCII (validated)
      for (int b = 0; b < 8; b++) {
        crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
      }
    }
    return (crc & 0xffff) % COUNT;
  }

  /**
   * Each slot's master as a connection URL, with the seed's scheme and credentials (every node of
   * a cluster takes the same). A node that reports no host (Redis 7 may send "") is on the seed's host.
   * A slot that no master serves at the moment is null.
   */
  static String[] owners(Response clusterSlots, String seed) {
    URI uri = URI.create(seed);
    // A host name java.net.URI does not take as one (an underscore, say) leaves it a bare
    // authority: user info and host are then read from that by hand.
    String authority = uri.getRawAuthority() == null ? "" : uri.getRawAuthority();
    int at = authority.lastIndexOf('@');
    String userInfo = uri.getHost() != null ? uri.getRawUserInfo() : at < 0 ? null : authority.substring(0, at);
    String seedHost = uri.getHost() != null ? uri.getHost()
        : authority.substring(at + 1).replaceFirst(":\\d+$", "");
    String prefix = uri.getScheme() + "://" + (userInfo == null ? "" : userInfo + "@");
    // Options in the query (a password, a protocol) apply to every node, as the credentials do.
    String suffix = uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery();
    String[] owners = new String[COUNT];
    for (int i = 0; i < clusterSlots.size(); i++) {
      Response range = clusterSlots.get(i);
      Response master = range.get(2);
      String host = master.get(0) == null ? "" : master.get(0).toString();
      if (host.isEmpty() || "?".equals(host)) {
        host = seedHost;
      }
      if (host.contains(":") && !host.startsWith("[")) {
        host = "[" + host + "]"; // IPv6
      }
      String url = prefix + host + ":" + master.get(1).toInteger() + suffix;
      for (int s = range.get(0).toInteger(); s <= range.get(1).toInteger(); s++) {
        owners[s] = url;
      }
    }
    return owners; // a slot no master serves (mid-failover) stays null
  }
}
