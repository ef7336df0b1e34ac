--[[ extend_line: move the deadline of one reservation's live hold on one SKU.
  Runs before the reservation record takes the new deadline; a hold extended for a record
  that then expires is released by the record's clean-up like any other.
  KEYS[1] allot:{SKU}:stock      hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver, lseq, limit, backordered
  KEYS[2] allot:{SKU}:holds      hash  reservation id -> "state|deadline|channel|alloc|customer|backordered"
  KEYS[3] allot:{SKU}:expiry     zset  reservation id scored by deadline (held entries only)
  KEYS[4] allot:{SKU}:ledger     list  newest first, JSON entries, at most ARGV[2]
  KEYS[5] allot:{SKU}:customers  hash  customer -> units held or committed
  KEYS[6] the outbox             stream  allot:{SKU}:out on a cluster, allot:{events}:feed standalone
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] event channel allot:{SKU}:ev   (every SKU script's prefix)
  ARGV[4] reservation id   ARGV[5] new deadline_ms
  Returns {1, version}  extended
          {2, version}  the entry is already committed (a commit is under way): nothing changed
          {0, version}  no live hold (expired or released): nothing changed
  Events  SPUBLISH (Redis 7+; PUBLISH before) allot:{SKU}:ev (ARGV[3]) when expired holds of this SKU were dropped (a deadline move itself changes no count),
          with its 'stock' entry in the outbox (KEYS[6]) ]]
--- @include "include/stock_prelude"
local rid = ARGV[4]
local deadline = tonumber(ARGV[5])
if not PREFIX_OK or not rid or not deadline then return redis.error_reply('ERR extend_line: bad arguments') end

drop_expired()
local ver = tonumber(rcall('HGET', K_STOCK, 'ver')) or 0
local e = rcall('HGET', K_HOLDS, rid)
if not e then return finish({0, ver}) end
local st, _, channel, alloc, customer, bo = parse_entry(e)
if st ~= 'h' then return finish({2, ver}) end
rcall('HSET', K_HOLDS, rid, 'h|' .. deadline .. '|' .. channel .. '|' .. alloc .. '|' .. customer .. '|' .. bo)
rcall('ZADD', K_EXPIRY, deadline, rid)
return finish({1, ver})
