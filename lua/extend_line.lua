--[[ extend_line: move the deadline of one reservation's live hold on one SKU.
  Runs before the reservation record takes the new deadline; a hold extended for a record
  that then expires is released by the record's clean-up like any other.
  KEYS[1] allot:{SKU}:stock    hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver
  KEYS[2] allot:{SKU}:holds    hash  reservation id -> "h|deadline|channel|alloc"
  KEYS[3] allot:{SKU}:expiry   zset  reservation id scored by deadline (held entries only)
  ARGV[1] reservation id   ARGV[2] now_ms   ARGV[3] new deadline_ms
  Returns {1, version}  extended
          {2, version}  the entry is already committed (a commit is under way): nothing changed
          {0, version}  no live hold (expired or released): nothing changed
  Events  PUBLISH allot:{SKU}:ev when expired holds of this SKU were dropped (a deadline move itself changes no count) ]]
local rcall = redis.call
local K_STOCK, K_HOLDS, K_EXPIRY = KEYS[1], KEYS[2], KEYS[3]
local rid = ARGV[1]
local now = tonumber(ARGV[2])
local deadline = tonumber(ARGV[3])
if not now or not deadline then return redis.error_reply('ERR extend_line: bad arguments') end

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
local ver = tonumber(rcall('HGET', K_STOCK, 'ver')) or 0
local h = rcall('HGET', K_HOLDS, rid)
if not h then return finish({0, ver}) end
if string.sub(h, 1, 2) ~= 'h|' then return finish({2, ver}) end
local channel, alloc = string.match(h, '^h|%d+|([^|]*)|(.*)$')
rcall('HSET', K_HOLDS, rid, 'h|' .. deadline .. '|' .. channel .. '|' .. alloc)
rcall('ZADD', K_EXPIRY, deadline, rid)
return finish({1, ver})
