--[[ reserve_line: hold qty units of one SKU for one reservation, drawing the channel's
  locations in order, all or nothing for this SKU; a backorder channel holds what the shelf
  has and records the rest as backordered; a per-customer limit is enforced here, atomically.
  KEYS[1] allot:{SKU}:stock      hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver, lseq,
                                       limit (per-customer limit), backordered
  KEYS[2] allot:{SKU}:holds      hash  reservation id -> "h|deadline|channel|loc=qty,...|customer|backordered"
  KEYS[3] allot:{SKU}:expiry     zset  reservation id scored by deadline (held entries only)
  KEYS[4] allot:{SKU}:ledger     list  newest first, JSON entries, at most ARGV[2]
  KEYS[5] allot:{SKU}:customers  hash  customer -> units held or committed (only with a limit or a customer)
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] event channel allot:{SKU}:ev   (every SKU script's prefix)
  ARGV[4] reservation id   ARGV[5] qty   ARGV[6] deadline_ms   ARGV[7] channel buffer   ARGV[8] channel id
  ARGV[9] customer ('' for none)   ARGV[10] backorder 0/1   ARGV[11..] channel locations, in draw order
  Returns {1, version, available_after, backordered, loc, qty, ...}  held
          {2, version, available, backordered, loc, qty, ...}        replay: this reservation already holds this SKU
          {0, version, available}                                    insufficient (nothing held)
          {3, version, allowed}                                      the customer's limit: at most `allowed` more
  Events  SPUBLISH (Redis 7+; PUBLISH before) allot:{SKU}:ev (ARGV[3]) "version|loc=available,..." whenever the SKU changed (expired holds too) ]]
--- @include "include/stock_prelude"
local rid = ARGV[4]
local qty = tonumber(ARGV[5])
local deadline = tonumber(ARGV[6])
local buffer = tonumber(ARGV[7])
local channel = ARGV[8]
local customer = ARGV[9] or ''
local backorder = ARGV[10] == '1'
local FIRST_LOC = 11
if not PREFIX_OK or not qty or qty < 1 or not deadline or not buffer or #ARGV < FIRST_LOC then
  return redis.error_reply('ERR reserve_line: bad arguments')
end

-- Each of the channel's locations' availability, and the channel's: their sum less the buffer,
-- never below 0.
local function channel_view()
  local avail, total = {}, 0
  for i = FIRST_LOC, #ARGV do
    local loc = ARGV[i]
    local v = rcall('HMGET', K_STOCK, loc .. '|on', loc .. '|res', loc .. '|com')
    local a = location_available(v[1], v[2], v[3])
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

local more_expired = drop_expired()

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
  -- Never refuse for units that expired holds of this customer would give back.
  while has + qty > limit and more_expired do
    more_expired = drop_expired()
    has = tonumber(rcall('HGET', K_CUSTOMERS, customer)) or 0
  end
  if has + qty > limit then
    local allowed = limit - has
    if allowed < 0 then allowed = 0 end
    return finish({3, ver(), allowed})
  end
end

local avail, total = channel_view()
-- Never refuse a sale that expired holds would allow: a flash sale whose carts share one TTL can
-- leave more than a batch of them behind.
while qty > total and more_expired do
  more_expired = drop_expired()
  avail, total = channel_view()
end
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
for i = FIRST_LOC, #ARGV do
  if remaining == 0 then break end
  local a = avail[i - FIRST_LOC + 1]
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
