package dev.allot.stream;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The stream's slot computation agrees with Redis Cluster's (CRC16-XMODEM mod 16384). */
class SlotsTest {

  @Test
  void slotsAsRedisComputesThem() {
    // Values from Redis 7.0's CLUSTER KEYSLOT: "foo" 12182, "123456789" 12739 (the CRC16 check
    // value 0x31C3), and a SKU's event channel "allot:{SKU-1}:ev", which hashes on the tag: 10389.
    assertEquals(12182, Slots.of("foo"));
    assertEquals(12739, Slots.of("123456789"));
    assertEquals(10389, Slots.of("SKU-1"));
  }
}
