--[[ movement: apply one back-office stock movement to one SKU at one location, exactly once.
  KEYS[1] allot:{SKU}:stock      hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver, lseq, limit, backordered
  KEYS[2] allot:{SKU}:holds      hash  reservation id -> entry (expired holds are dropped first)
  KEYS[3] allot:{SKU}:expiry     zset  reservation id scored by deadline
  KEYS[4] allot:{SKU}:ledger     list  newest first, JSON entries, at most ARGV[2]
  KEYS[5] allot:{SKU}:customers  hash  customer -> units held or committed
  KEYS[6] allot:{SKU}:moves      hash  movement id -> "fingerprint|onHand|available|shortfall|drift|quarantine"
  KEYS[7] allot:{SKU}:movetimes  zset  movement id scored by when it was applied (retention)
  KEYS[8] the outbox             stream  allot:{SKU}:out on a cluster, allot:{events}:feed standalone
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] event channel allot:{SKU}:ev   (every SKU script's prefix)
  ARGV[4] movement id   ARGV[5] fingerprint of the movement's body   ARGV[6] type
  ARGV[7] location      ARGV[8] qty   ARGV[9] retention_ms
  Types   receive (onHand += qty, qty > 0), adjust (onHand += qty, signed, not 0), count (onHand := qty,
          the drift from the previous onHand recorded), return (quarantine += qty), inspect_pass
          (quarantine -= qty, onHand += qty), inspect_fail (quarantine -= qty)
  Returns {1, onHand, available, version, shortfall, drift, quarantine}  applied
          {2, onHand, available, version, shortfall, drift, quarantine}  duplicate: the first outcome, nothing changed
          {3}                                                            same id, different movement: refused
          {0, code}                                                      rejected, nothing changed
  shortfall = reserved + committed + unused allocations - onHand when a movement takes onHand below
  what is promised or set aside; available = what the location can still give any channel.
  Events  SPUBLISH (Redis 7+; PUBLISH before) allot:{SKU}:ev (ARGV[3]) "version|loc=available,..." whenever the SKU changed (expired holds too)
          outbox (KEYS[8]): a 'move' entry for an applied movement, then the 'stock' entry ]]
--- @include "include/stock_prelude"
local K_MOVES, K_MOVETIMES = KEYS[6], KEYS[7]
local id, fp, kind, loc = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local qty = tonumber(ARGV[8])
local retention = tonumber(ARGV[9])
if not PREFIX_OK or not qty or not retention then
  return redis.error_reply('ERR movement: bad arguments')
end

local seen = rcall('HGET', K_MOVES, id)
if seen then
  local sfp, on, av, sf, dr, q = string.match(seen, '^([^|]*)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)$')
  if sfp ~= fp then return {3} end
  return {2, tonumber(on), tonumber(av), tonumber(rcall('HGET', K_STOCK, 'ver')) or 0, tonumber(sf), tonumber(dr),
          tonumber(q)}
end

local on = tonumber(rcall('HGET', K_STOCK, loc .. '|on')) or 0
local q = tonumber(rcall('HGET', K_STOCK, loc .. '|q')) or 0
local new_on, new_q, drift = on, q, nil
if kind == 'receive' then
  if qty <= 0 then return {0, 'invalid_quantity'} end
  new_on = on + qty
elseif kind == 'adjust' then
  if qty == 0 then return {0, 'invalid_quantity'} end
  new_on = on + qty
  if new_on < 0 then return {0, 'negative_on_hand'} end
elseif kind == 'count' then
  if qty < 0 then return {0, 'invalid_quantity'} end
  new_on = qty
  drift = qty - on
elseif kind == 'return' then
  if qty <= 0 then return {0, 'invalid_quantity'} end
  new_q = q + qty
elseif kind == 'inspect_pass' or kind == 'inspect_fail' then
  if qty <= 0 then return {0, 'invalid_quantity'} end
  if qty > q then return {0, 'insufficient_quarantine'} end
  new_q = q - qty
  if kind == 'inspect_pass' then new_on = on + qty end
else
  return {0, 'invalid_type'}
end

drop_expired()
rcall('HSET', K_STOCK, loc .. '|on', new_on, loc .. '|q', new_q)
ledger(kind, loc, id, drift)
local v = rcall('HMGET', K_STOCK, loc .. '|res', loc .. '|com', loc .. '|ar')
local available, shortfall = location_available(new_on, v[1], v[2], v[3])
local ver = rcall('HINCRBY', K_STOCK, 'ver', 1)
drift = drift or 0
rcall('HSET', K_MOVES, id, fp .. '|' .. new_on .. '|' .. available .. '|' .. shortfall .. '|' .. drift .. '|' .. new_q)
rcall('ZADD', K_MOVETIMES, now, id)
rcall('XADD', K_OUT, '*', 't', 'move', 's', sku_code(), 'm', id, 'k', kind, 'l', loc, 'q', qty, 'on', new_on,
  'a', available, 'sf', shortfall, 'dr', drift, 'qu', new_q, 'v', ver)
local old = rcall('ZRANGEBYSCORE', K_MOVETIMES, '-inf', now - retention, 'LIMIT', 0, 20)
for _, oid in ipairs(old) do
  rcall('HDEL', K_MOVES, oid)
  rcall('ZREM', K_MOVETIMES, oid)
end
changed = true
return finish({1, new_on, available, ver, shortfall, drift, new_q})
