--[[ movement: apply one back-office stock movement to one SKU at one location, exactly once.
  KEYS[1] allot:{SKU}:stock      hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver, lseq, limit, backordered
  KEYS[2] allot:{SKU}:holds      hash  reservation id -> entry (expired holds are dropped first)
  KEYS[3] allot:{SKU}:expiry     zset  reservation id scored by deadline
  KEYS[4] allot:{SKU}:ledger     list  newest first, JSON entries, at most ARGV[8]
  KEYS[5] allot:{SKU}:customers  hash  customer -> units held or committed
  KEYS[6] allot:{SKU}:moves      hash  movement id -> "fingerprint|onHand|available|shortfall|drift|quarantine"
  KEYS[7] allot:{SKU}:movetimes  zset  movement id scored by when it was applied (retention)
  ARGV[1] movement id   ARGV[2] fingerprint of the movement's body   ARGV[3] type
  ARGV[4] location      ARGV[5] qty   ARGV[6] now_ms   ARGV[7] retention_ms   ARGV[8] ledger max entries
  Types   receive (onHand += qty, qty > 0), adjust (onHand += qty, signed, not 0), count (onHand := qty,
          the drift from the previous onHand recorded), return (quarantine += qty), inspect_pass
          (quarantine -= qty, onHand += qty), inspect_fail (quarantine -= qty)
  Returns {1, onHand, available, version, shortfall, drift, quarantine}  applied
          {2, onHand, available, version, shortfall, drift, quarantine}  duplicate: the first outcome, nothing changed
          {3}                                                            same id, different movement: refused
          {0, code}                                                      rejected, nothing changed
  shortfall = reserved + committed - onHand when a movement takes onHand below what is promised.
  Events  SPUBLISH (Redis 7+; PUBLISH before) allot:{SKU}:ev "version|loc=available,..." whenever the SKU changed (expired holds too) ]]
local rcall = redis.call
local K_STOCK, K_HOLDS, K_EXPIRY, K_LEDGER, K_CUSTOMERS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local K_MOVES, K_MOVETIMES = KEYS[6], KEYS[7]
local id, fp, kind, loc = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local qty = tonumber(ARGV[5])
local now = tonumber(ARGV[6])
local retention = tonumber(ARGV[7])
local LEDGER_MAX = tonumber(ARGV[8])
if not qty or not now or not retention or not LEDGER_MAX then
  return redis.error_reply('ERR movement: bad arguments')
end

local seen = rcall('HGET', K_MOVES, id)
if seen then
  local sfp, on, av, sf, dr, q = string.match(seen, '^([^|]*)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)$')
  if sfp ~= fp then return {3} end
  return {2, tonumber(on), tonumber(av), tonumber(rcall('HGET', K_STOCK, 'ver')) or 0, tonumber(sf), tonumber(dr),
          tonumber(q)}
end

-- common:begin (the same in every SKU script; LuaScriptsTest checks that they agree)
local changed = false

-- One ledger entry per location a change touched: its cause and that location's numbers after it.
local function ledger(kind, loc, ref, drift)
  local v = rcall('HMGET', K_STOCK, loc .. '|on', loc .. '|res', loc .. '|com', loc .. '|q')
  local entry = {seq = rcall('HINCRBY', K_STOCK, 'lseq', 1), at = now, type = kind, location = loc, ref = ref,
    onHand = tonumber(v[1]) or 0, reserved = tonumber(v[2]) or 0, committed = tonumber(v[3]) or 0,
    quarantine = tonumber(v[4]) or 0}
  if drift then entry.drift = drift end
  rcall('LPUSH', K_LEDGER, cjson.encode(entry))
  rcall('LTRIM', K_LEDGER, 0, LEDGER_MAX - 1)
end

-- A reservation's entry on this SKU: state|deadline|channel|loc=qty,...|customer|backordered
-- (state h: held, units in <loc>|res; state c: committed, units in <loc>|com).
local function parse_entry(e)
  return string.match(e, '^(%a)|(%d+)|([^|]*)|([^|]*)|([^|]*)|(%d+)$')
end

-- Gives back everything an entry holds or has committed, with its ledger lines; drops the entry.
local function give_back(id, e, kind)
  local st, _, _, alloc, customer, bo = parse_entry(e)
  local field = '|res'
  if st == 'c' then field = '|com' end
  local units = 0
  for loc, q in string.gmatch(alloc, '([^=,]+)=(%d+)') do
    rcall('HINCRBY', K_STOCK, loc .. field, -tonumber(q))
    units = units + tonumber(q)
    ledger(kind, loc, id)
  end
  bo = tonumber(bo) or 0
  if bo > 0 then rcall('HINCRBY', K_STOCK, 'backordered', -bo) end
  if customer ~= '' then
    if rcall('HINCRBY', K_CUSTOMERS, customer, -(units + bo)) <= 0 then rcall('HDEL', K_CUSTOMERS, customer) end
  end
  rcall('HDEL', K_HOLDS, id)
  rcall('ZREM', K_EXPIRY, id)
  changed = true
  return units
end

-- Expired holds of this SKU give their units back before anything is decided.
local function drop_expired()
  local ids = rcall('ZRANGEBYSCORE', K_EXPIRY, '-inf', now, 'LIMIT', 0, 200)
  local dropped = 0
  for _, id in ipairs(ids) do
    local e = rcall('HGET', K_HOLDS, id)
    if e and string.sub(e, 1, 2) == 'h|' then
      give_back(id, e, 'expire')
      dropped = dropped + 1
    else
      rcall('ZREM', K_EXPIRY, id)
    end
  end
  if dropped > 0 then rcall('HINCRBY', K_STOCK, 'ver', 1) end
end

-- Every change is told to its watchers in the same atomic step: the SKU's version and each
-- location's available units, on the SKU's own pub/sub channel (same hash tag as its keys).
local EV_CHANNEL = (string.gsub(K_STOCK, ':stock$', ':ev'))
-- Redis 7+ (and Valkey) have sharded pub/sub: the event stays on the SKU's own shard, where the
-- server listens with SSUBSCRIBE. Older Redis: classic PUBLISH (the server uses SUBSCRIBE there).
local PUBLISH_CMD = (tonumber(redis.REDIS_VERSION_NUM) or 0) >= 0x070000 and 'SPUBLISH' or 'PUBLISH'
local function publish()
  local f = rcall('HGETALL', K_STOCK)
  local ver, avail, order = 0, {}, {}
  for i = 1, #f, 2 do
    local name, v = f[i], tonumber(f[i + 1]) or 0
    if name == 'ver' then
      ver = v
    else
      local loc, kind = string.match(name, '^(.*)|(%a+)$')
      if loc and kind ~= 'q' then
        if avail[loc] == nil then avail[loc] = 0; order[#order + 1] = loc end
        if kind == 'on' then avail[loc] = avail[loc] + v else avail[loc] = avail[loc] - v end
      end
    end
  end
  local parts = {}
  for _, loc in ipairs(order) do
    local a = avail[loc]
    if a < 0 then a = 0 end
    parts[#parts + 1] = loc .. '=' .. a
  end
  rcall(PUBLISH_CMD, EV_CHANNEL, ver .. '|' .. table.concat(parts, ','))
end

local function finish(result)
  if changed then publish() end
  return result
end
-- common:end

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
local v = rcall('HMGET', K_STOCK, loc .. '|res', loc .. '|com')
local promised = (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0)
local available = new_on - promised
local shortfall = 0
if available < 0 then shortfall = -available; available = 0 end
local ver = rcall('HINCRBY', K_STOCK, 'ver', 1)
drift = drift or 0
rcall('HSET', K_MOVES, id, fp .. '|' .. new_on .. '|' .. available .. '|' .. shortfall .. '|' .. drift .. '|' .. new_q)
rcall('ZADD', K_MOVETIMES, now, id)
local old = rcall('ZRANGEBYSCORE', K_MOVETIMES, '-inf', now - retention, 'LIMIT', 0, 20)
for _, oid in ipairs(old) do
  rcall('HDEL', K_MOVES, oid)
  rcall('ZREM', K_MOVETIMES, oid)
end
changed = true
return finish({1, new_on, available, ver, shortfall, drift, new_q})
