--[[ release_line: give back whatever one reservation holds or has committed on one SKU.
  Used for release, expiry, cancel, a refused cart and the clean-up of an abandoned one; the
  reservation record has already decided, so a held or a committed entry is dropped alike.
  KEYS[1] allot:{SKU}:stock      hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver, lseq, limit, backordered
  KEYS[2] allot:{SKU}:holds      hash  reservation id -> "state|deadline|channel|alloc|customer|backordered"
  KEYS[3] allot:{SKU}:expiry     zset  reservation id scored by deadline (held entries only)
  KEYS[4] allot:{SKU}:ledger     list  newest first, JSON entries, at most ARGV[2]
  KEYS[5] allot:{SKU}:customers  hash  customer -> units held or committed
  KEYS[6] the outbox             stream  allot:{SKU}:out on a cluster, allot:{events}:feed standalone
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] event channel allot:{SKU}:ev   (every SKU script's prefix)
  ARGV[4] reservation id   ARGV[5] why, for the ledger: release | expire | cancel | reject | abort (default release)
  Returns {1, version, units}  returned that many units to availability
          {0, version, 0}      nothing held for this reservation (already released: a replay)
  Events  SPUBLISH (Redis 7+; PUBLISH before) allot:{SKU}:ev (ARGV[3]) "version|loc=available,..." whenever the SKU changed (expired holds too),
          and a 'stock' entry in the outbox (KEYS[6]) ]]
--- @include "include/stock_prelude"
local rid = ARGV[4]
local why = ARGV[5] or 'release'
if not PREFIX_OK or not rid then return redis.error_reply('ERR release_line: bad arguments') end

drop_expired()
local e = rcall('HGET', K_HOLDS, rid)
if not e then return finish({0, tonumber(rcall('HGET', K_STOCK, 'ver')) or 0, 0}) end
local units = give_back(rid, e, why)
return finish({1, rcall('HINCRBY', K_STOCK, 'ver', 1), units})
