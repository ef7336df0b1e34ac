--[[ allocate: sets aside units of one location's stock for one channel (API.md, "Allocations"), or
  lowers or removes that allocation. The channel draws its allocation before the shared pool; every
  other channel's availability leaves the unused part out (include/hold, stock_prelude).
  KEYS[1] allot:{SKU}:stock      hash  alloc:<channel> "<loc>|<allocated>|<used>", <loc>|ar (unused, summed)
  KEYS[2..5]                     the SKU's holds, expiry, ledger, customers (stock_prelude's order)
  KEYS[6] the outbox             stream  allot:{SKU}:out on a cluster, allot:{events}:feed standalone
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] event channel allot:{SKU}:ev   (every SKU script's prefix)
  ARGV[4] channel   ARGV[5] location   ARGV[6] units (the target; 0 removes it)
  Raising needs that many units free at the location (after expired holds went back): otherwise
  nothing changes. Lowering returns unused units to the pool; lowering below what the channel holds
  or has committed against it is refused (the holds' entries say how many of their units count
  against the allocation; release, ship or cancel them first).
  Returns {1, allocated, used, version}  set (a target equal to the current one changes nothing)
          {0, free}                     raising needs more than the `free` units of the location
          {3, location}                 the channel's allocation of this SKU is at another location
          {4, used}                     lowering below the `used` units: refused, nothing changed
  Events  SPUBLISH and a 'stock' outbox entry when it changed, with a ledger line 'allocate' ]]
--- @include "include/stock_prelude"
local channel, loc, target = ARGV[4], ARGV[5], tonumber(ARGV[6])
if not PREFIX_OK or not channel or channel == '' or not loc or loc == '' or not target or target < 0 then
  return redis.error_reply('ERR allocate: bad arguments')
end

local key = 'alloc:' .. channel
local cur = parse_alloc(rcall('HGET', K_STOCK, key))
if cur and cur.loc ~= loc and (cur.a > 0 or cur.u > 0) then return {3, cur.loc} end
local a, u = cur and cur.a or 0, cur and cur.u or 0
local function ver()
  return tonumber(rcall('HGET', K_STOCK, 'ver')) or 0
end
if target == a then return finish({1, a, u, ver()}) end

if target > a then
  -- Expired holds give their units back first: they never stand in the way.
  local more = drop_expired()
  local function free()
    local v = rcall('HMGET', K_STOCK, loc .. '|on', loc .. '|res', loc .. '|com', loc .. '|ar')
    return (location_available(v[1], v[2], v[3], v[4]))
  end
  local f = free()
  while target - a > f and more do
    more = drop_expired()
    f = free()
  end
  if target - a > f then return finish({0, f}) end
end

if target < u then return finish({4, u}) end
local used = u
-- Unused allocation at the location: this channel's changes from a - u to target - used.
rcall('HINCRBY', K_STOCK, loc .. '|ar', (target - used) - (a - u))
if target == 0 then
  rcall('HDEL', K_STOCK, key)
else
  rcall('HSET', K_STOCK, key, encode_alloc({loc = loc, a = target, u = used}))
end
local version = rcall('HINCRBY', K_STOCK, 'ver', 1)
ledger('allocate', loc, channel, nil, ',"channel":"' .. channel .. '","allocated":' .. target .. ',"allocationUsed":' .. used)
changed = true
return finish({1, target, used, version})
