package dev.allot.store;

/**
 * The Lua scripts in lua/, each with the number of KEYS it takes (its header lists them); -1 for
 * create_batch and decide_at_once, whose KEYS grow with their batch or the reservation's SKUs.
 */
public enum Script {
  RESERVE_LINE("reserve_line", 5),
  COMMIT_LINE("commit_line", 5),
  RELEASE_LINE("release_line", 5),
  EXTEND_LINE("extend_line", 5),
  SHIP_LINE("ship_line", 5),
  MOVEMENT("movement", 7),
  RESERVATION("reservation", 3),
  CREATE_BATCH("create_batch", -1),
  DECIDE_AT_ONCE("decide_at_once", -1),
  SWEEP_CLAIM("sweep_claim", 1);

  public final String file;
  public final int keyCount;

  Script(String name, int keyCount) {
    this.file = name + ".lua";
    this.keyCount = keyCount;
  }
}
