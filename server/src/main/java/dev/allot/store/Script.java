package dev.allot.store;

/**
 * The Lua scripts in lua/, each with the number of KEYS it takes (its header lists them; the last is
 * always the script's outbox, {@link Keys#outbox}); -1 for
 * create_batch and decide_at_once, whose KEYS grow with their batch or the reservation's SKUs.
 */
public enum Script {
  RESERVE_LINE("reserve_line", 6),
  COMMIT_LINE("commit_line", 6),
  RELEASE_LINE("release_line", 6),
  EXTEND_LINE("extend_line", 6),
  SHIP_LINE("ship_line", 6),
  MOVEMENT("movement", 8),
  ALLOCATE("allocate", 6),
  RESERVATION("reservation", 4),
  CREATE_BATCH("create_batch", -1),
  DECIDE_AT_ONCE("decide_at_once", -1),
  SWEEP_CLAIM("sweep_claim", 1),
  DUE_ADOPT("due_adopt", 1 + Keys.BUCKETS),
  RELAY("relay", 2),
  LEASE("lease", 1),
  ADVANCE("advance", 1);

  public final String file;
  public final int keyCount;

  Script(String name, int keyCount) {
    this.file = name + ".lua";
    this.keyCount = keyCount;
  }
}
