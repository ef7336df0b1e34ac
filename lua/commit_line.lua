--[[ commit_line: turn one reservation's hold on one SKU into committed units (sold, not shipped).
  Runs before the reservation record is marked committed; if the record then ends any other
  way, release_line gives the units back.
  KEYS[1] allot:{SKU}:stock    hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver
  KEYS[2] allot:{SKU}:holds    hash  reservation id -> "h|deadline|channel|alloc" or "c|0|channel|alloc"
  KEYS[3] allot:{SKU}:expiry   zset  reservation id scored by deadline (held entries only)
  ARGV[1] reservation id   ARGV[2] now_ms
  Returns {1, version}  committed now
          {2, version}  already committed (replay)
          {0, version}  no live hold: it expired or was released; nothing changed
  Events  PUBLISH allot:{SKU}:ev "version|loc=available,..." whenever the SKU changed (expired holds too) ]]
local rcall = redis.call
local K_STOCK, K_HOLDS, K_EXPIRY = KEYS[1], KEYS[2], KEYS[3]
local rid = ARGV[1]
local now = tonumber(ARGV[2])
if not now then return redis.error_reply('ERR commit_line: bad arguments') end

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

drop_expired()
local h = rcall('HGET', K_HOLDS, rid)
local ver = function() return tonumber(rcall('HGET', K_STOCK, 'ver')) or 0 end
if not h then return finish({0, ver()}) end
local st, channel, alloc = string.match(h, '^(%a)|%d+|([^|]*)|(.*)$')
if st == 'c' then return finish({2, ver()}) end
for loc, q in string.gmatch(alloc, '([^=,]+)=(%d+)') do
  rcall('HINCRBY', K_STOCK, loc .. '|res', -tonumber(q))
  rcall('HINCRBY', K_STOCK, loc .. '|com', tonumber(q))
end
rcall('HSET', K_HOLDS, rid, 'c|0|' .. channel .. '|' .. alloc)
rcall('ZREM', K_EXPIRY, rid)
changed = true
return finish({1, rcall('HINCRBY', K_STOCK, 'ver', 1)})
