--[[ commit_line: turn one reservation's hold on one SKU into committed units (sold, not shipped).
  Runs before the reservation record is marked committed; if the record then ends any other
  way, release_line gives the units back. Backordered units stay recorded on the entry.
  KEYS[1] allot:{SKU}:stock      hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver, lseq, limit, backordered
  KEYS[2] allot:{SKU}:holds      hash  reservation id -> "state|deadline|channel|alloc|customer|backordered"
  KEYS[3] allot:{SKU}:expiry     zset  reservation id scored by deadline (held entries only)
  KEYS[4] allot:{SKU}:ledger     list  newest first, JSON entries, at most ARGV[2]
  KEYS[5] allot:{SKU}:customers  hash  customer -> units held or committed
  KEYS[6] the outbox             stream  allot:{SKU}:out on a cluster, allot:{events}:feed standalone
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] event channel allot:{SKU}:ev   (every SKU script's prefix)
  ARGV[4] reservation id
  Returns {1, version}  committed now
          {2, version}  already committed (replay)
          {0, version}  no live hold: it expired or was released; nothing changed
  Events  SPUBLISH (Redis 7+; PUBLISH before) allot:{SKU}:ev (ARGV[3]) "version|loc=available,..." whenever the SKU changed (expired holds too),
          and a 'stock' entry in the outbox (KEYS[6]) ]]
--- @include "include/stock_prelude"
local rid = ARGV[4]
if not PREFIX_OK or not rid then return redis.error_reply('ERR commit_line: bad arguments') end

local function ver()
  return tonumber(rcall('HGET', K_STOCK, 'ver')) or 0
end

drop_expired()
local e = rcall('HGET', K_HOLDS, rid)
if not e then return finish({0, ver()}) end
if parse_entry(e) == 'c' then return finish({2, ver()}) end
commit_entry(rid, e)
return finish({1, rcall('HINCRBY', K_STOCK, 'ver', 1)})
