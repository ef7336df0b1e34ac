--[[ reserve_line: hold qty units of one SKU for one reservation, drawing the channel's
  locations in order, all or nothing for this SKU.
  KEYS[1] allot:{SKU}:stock    hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver
  KEYS[2] allot:{SKU}:holds    hash  reservation id -> "h|deadline_ms|channel|loc=qty,loc=qty"
  KEYS[3] allot:{SKU}:expiry   zset  reservation id scored by deadline (held entries only)
  ARGV[1] reservation id   ARGV[2] qty   ARGV[3] now_ms   ARGV[4] deadline_ms
  ARGV[5] channel buffer   ARGV[6] channel id   ARGV[7..] channel locations, in draw order
  Returns {1, version, available_after, loc, qty, ...}  held
          {0, version, available}                      insufficient (nothing changed but expired holds)
          {2, version, available, loc, qty, ...}       replay: this reservation already holds this SKU
  Events  PUBLISH allot:{SKU}:ev "version|loc=available,..." whenever the SKU changed (expired holds too) ]]
local rcall = redis.call
local K_STOCK, K_HOLDS, K_EXPIRY = KEYS[1], KEYS[2], KEYS[3]
local rid = ARGV[1]
local qty = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local deadline = tonumber(ARGV[4])
local buffer = tonumber(ARGV[5])
local channel = ARGV[6]
if not qty or qty < 1 or not now or not deadline or not buffer or #ARGV < 7 then
  return redis.error_reply('ERR reserve_line: bad arguments')
end

local changed = false

-- Expired holds of this SKU give their units back before anything is decided.
local function drop_expired()
  local ids = rcall('ZRANGEBYSCORE', K_EXPIRY, '-inf', now, 'LIMIT', 0, 200)
  local dropped = 0
  for _, id in ipairs(ids) do
    local h = rcall('HGET', K_HOLDS, id)
    if h and string.sub(h, 1, 2) == 'h|' then
      local alloc = string.match(h, '^h|%d+|[^|]*|(.*)$') or ''
      for loc, q in string.gmatch(alloc, '([^=,]+)=(%d+)') do
        rcall('HINCRBY', K_STOCK, loc .. '|res', -tonumber(q))
      end
      rcall('HDEL', K_HOLDS, id)
      dropped = dropped + 1
    end
    rcall('ZREM', K_EXPIRY, id)
  end
  if dropped > 0 then
    rcall('HINCRBY', K_STOCK, 'ver', 1)
    changed = true
  end
end

-- Every change is told to its watchers in the same atomic step: the SKU's version and each
-- location's available units, on the SKU's own pub/sub channel (same hash tag as its keys).
local EV_CHANNEL = (string.gsub(K_STOCK, ':stock$', ':ev'))
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
  rcall('PUBLISH', EV_CHANNEL, ver .. '|' .. table.concat(parts, ','))
end
local function finish(result)
  if changed then publish() end
  return result
end

local function channel_view()
  local avail, total = {}, 0
  for i = 7, #ARGV do
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

drop_expired()

local existing = rcall('HGET', K_HOLDS, rid)
if existing then
  local _, total = channel_view()
  local out = {2, tonumber(rcall('HGET', K_STOCK, 'ver')) or 0, total}
  local alloc = string.match(existing, '^%a|%d+|[^|]*|(.*)$') or ''
  for loc, q in string.gmatch(alloc, '([^=,]+)=(%d+)') do
    out[#out + 1] = loc
    out[#out + 1] = tonumber(q)
  end
  return finish(out)
end

local avail, total = channel_view()
if qty > total then
  return finish({0, tonumber(rcall('HGET', K_STOCK, 'ver')) or 0, total})
end

local out = {1, 0, total - qty}
local parts = {}
local remaining = qty
for i = 7, #ARGV do
  if remaining == 0 then break end
  local a = avail[i - 6]
  local take = a
  if take > remaining then take = remaining end
  if take > 0 then
    local loc = ARGV[i]
    rcall('HINCRBY', K_STOCK, loc .. '|res', take)
    parts[#parts + 1] = loc .. '=' .. take
    out[#out + 1] = loc
    out[#out + 1] = take
    remaining = remaining - take
  end
end
rcall('HSET', K_HOLDS, rid, 'h|' .. deadline .. '|' .. channel .. '|' .. table.concat(parts, ','))
rcall('ZADD', K_EXPIRY, deadline, rid)
out[2] = rcall('HINCRBY', K_STOCK, 'ver', 1)
changed = true
return finish(out)
