--[[ reserve_line: hold qty units of one SKU for one reservation, drawing the channel's
  locations in order, all or nothing for this SKU; a backorder channel holds what the shelf
  has and records the rest as backordered; a per-customer limit is enforced here, atomically.
  KEYS[1] allot:{SKU}:stock      hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver, lseq,
                                       limit (per-customer limit), backordered
  KEYS[2] allot:{SKU}:holds      hash  reservation id -> "h|deadline|channel|loc=qty,...|customer|backordered"
  KEYS[3] allot:{SKU}:expiry     zset  reservation id scored by deadline (held entries only)
  KEYS[4] allot:{SKU}:ledger     list  newest first, JSON entries, at most ARGV[7]
  KEYS[5] allot:{SKU}:customers  hash  customer -> units held or committed (only with a limit or a customer)
  ARGV[1] reservation id   ARGV[2] qty   ARGV[3] now_ms   ARGV[4] deadline_ms   ARGV[5] channel buffer
  ARGV[6] channel id   ARGV[7] ledger max entries   ARGV[8] customer ('' for none)
  ARGV[9] backorder 0/1   ARGV[10..] channel locations, in draw order
  Returns {1, version, available_after, backordered, loc, qty, ...}  held
          {2, version, available, backordered, loc, qty, ...}        replay: this reservation already holds this SKU
          {0, version, available}                                    insufficient (nothing held)
          {3, version, allowed}                                      the customer's limit: at most `allowed` more
  Events  SPUBLISH (Redis 7+; PUBLISH before) allot:{SKU}:ev "version|loc=available,..." whenever the SKU changed (expired holds too) ]]
local rcall = redis.call
local K_STOCK, K_HOLDS, K_EXPIRY, K_LEDGER, K_CUSTOMERS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local rid = ARGV[1]
local qty = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local deadline = tonumber(ARGV[4])
local buffer = tonumber(ARGV[5])
local channel = ARGV[6]
local LEDGER_MAX = tonumber(ARGV[7])
local customer = ARGV[8] or ''
local backorder = ARGV[9] == '1'
if not qty or qty < 1 or not now or not deadline or not buffer or not LEDGER_MAX or #ARGV < 10 then
  return redis.error_reply('ERR reserve_line: bad arguments')
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

local function channel_view()
  local avail, total = {}, 0
  for i = 10, #ARGV do
    local loc = ARGV[i]
    local v = rcall('HMGET', K_STOCK, loc .. '|on', loc .. '|res', loc .. '|com')
    local a = (tonumber(v[1]) or 0) - (tonumber(v[2]) or 0) - (tonumber(v[3]) or 0)
    if a < 0 then a = 0 end
    avail[#avail + 1] = a
    total = total + a
  end
  total = total - buffer
  if total < 0 then total = 0 end
  return avail, total
end

local function ver()
  return tonumber(rcall('HGET', K_STOCK, 'ver')) or 0
end

drop_expired()

local existing = rcall('HGET', K_HOLDS, rid)
if existing then
  local _, total = channel_view()
  local _, _, _, alloc, _, bo = parse_entry(existing)
  local out = {2, ver(), total, tonumber(bo) or 0}
  for loc, q in string.gmatch(alloc or '', '([^=,]+)=(%d+)') do
    out[#out + 1] = loc
    out[#out + 1] = tonumber(q)
  end
  return finish(out)
end

local limit = tonumber(rcall('HGET', K_STOCK, 'limit'))
if limit and customer ~= '' then
  local has = tonumber(rcall('HGET', K_CUSTOMERS, customer)) or 0
  if has + qty > limit then
    local allowed = limit - has
    if allowed < 0 then allowed = 0 end
    return finish({3, ver(), allowed})
  end
end

local avail, total = channel_view()
local take, bo = qty, 0
if qty > total then
  -- A SKU this Redis has never seen cannot be backordered: most likely a mistyped code.
  if not backorder or rcall('HEXISTS', K_STOCK, 'ver') == 0 then
    return finish({0, ver(), total})
  end
  take, bo = total, qty - total
end

local out = {1, 0, total - take, bo}
local parts = {}
local remaining = take
for i = 10, #ARGV do
  if remaining == 0 then break end
  local a = avail[i - 9]
  local t = a
  if t > remaining then t = remaining end
  if t > 0 then
    local loc = ARGV[i]
    rcall('HINCRBY', K_STOCK, loc .. '|res', t)
    parts[#parts + 1] = loc .. '=' .. t
    out[#out + 1] = loc
    out[#out + 1] = t
    remaining = remaining - t
    ledger('hold', loc, rid)
  end
end
rcall('HSET', K_HOLDS, rid, 'h|' .. deadline .. '|' .. channel .. '|' .. table.concat(parts, ',') .. '|'
  .. customer .. '|' .. bo)
rcall('ZADD', K_EXPIRY, deadline, rid)
if bo > 0 then rcall('HINCRBY', K_STOCK, 'backordered', bo) end
if customer ~= '' then rcall('HINCRBY', K_CUSTOMERS, customer, qty) end
out[2] = rcall('HINCRBY', K_STOCK, 'ver', 1)
changed = true
return finish(out)
