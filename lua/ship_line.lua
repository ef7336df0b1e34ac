--[[ ship_line: committed units of one reservation leave the building (onHand and committed fall).
  Backordered units on the entry are settled too (they were fulfilled from elsewhere).
  KEYS[1] allot:{SKU}:stock      hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver, lseq, limit, backordered
  KEYS[2] allot:{SKU}:holds      hash  reservation id -> "state|deadline|channel|alloc|customer|backordered"
  KEYS[3] allot:{SKU}:expiry     zset  reservation id scored by deadline (held entries only)
  KEYS[4] allot:{SKU}:ledger     list  newest first, JSON entries, at most ARGV[2]
  KEYS[5] allot:{SKU}:customers  hash  customer -> units held or committed
  KEYS[6] the outbox             stream  allot:{SKU}:out on a cluster, allot:{events}:feed standalone
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] event channel allot:{SKU}:ev   (every SKU script's prefix)
  ARGV[4] reservation id
  Returns {1, version, loc, units, shortfall, ...}  shipped now; a (loc, units, shortfall) triple
                for each location whose onHand had fewer units than shipped (onHand stops at 0)
          {0, version}  nothing committed for this reservation here (already shipped: a replay)
          {3, version}  the entry is still a hold, not a commitment: refused, nothing changed
  Events  SPUBLISH (Redis 7+; PUBLISH before) allot:{SKU}:ev (ARGV[3]) "version|loc=available,..." whenever the SKU changed (expired holds too),
          and a 'stock' entry in the outbox (KEYS[6]) ]]
--- @include "include/stock_prelude"
local rid = ARGV[4]
if not PREFIX_OK or not rid then return redis.error_reply('ERR ship_line: bad arguments') end

drop_expired()
local e = rcall('HGET', K_HOLDS, rid)
local ver = tonumber(rcall('HGET', K_STOCK, 'ver')) or 0
if not e then return finish({0, ver}) end
if parse_entry(e) ~= 'c' then return finish({3, ver}) end
local _, short = drop_entry(rid, e, 'ship', {'|com', '|on'})
local out = {1, rcall('HINCRBY', K_STOCK, 'ver', 1)}
for _, s in ipairs(short) do
  out[#out + 1] = s[1]
  out[#out + 1] = s[2]
  out[#out + 1] = s[3]
end
return finish(out)
