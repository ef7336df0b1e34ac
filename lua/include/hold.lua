--[[ hold: deciding and making holds of one SKU, shared by reserve_line (one hold, the saga's
  step) and create_batch (many reservations in one call). Works on the SKU stock_prelude has
  bound. The SKU's counts are read once and written back once per script (hold_flush): a batch
  of a hundred holds on a hot SKU reads and writes its stock hash, holds, expiry, ledger and
  customer counts once each, not a hundred times. Anything that reads those keys directly
  (drop_expired, publish) runs only after hold_flush.
  Provides
    decide_hold(rid, qty, buffer, customer, backorder, locs, more_expired, check_replay)
        decides without changing anything but expired holds; answers the decision and whether
        more expired holds may be left (drop_expired's answer, carried between calls):
          {code = 1, avail, total, take, bo}  it can be held: take units now, bo backordered
          {code = 2, entry, total}            this reservation already holds this SKU (a replay;
                                              looked for only with check_replay)
          {code = 0, total}                   not enough units (total: what the channel has)
          {code = 3, allowed}                 the customer's limit: at most `allowed` more
    apply_hold(rid, d, qty, deadline, channel, customer, locs)
        makes decision d (code 1): reserves its units location by location in `locs` order with
        a ledger line each, the holds entry and its expiry; answers the allocations as a flat
        {loc, qty, ...} list and the SKU's version after it
    hold_flush()                       writes what the holds changed back to the bound SKU's keys
    sku_version()                      the bound SKU's version (as held so far) ]]
--- @include "stock_prelude"

-- Per SKU (by its stock key): the counts read so far and what the holds add.
local caches = {}

local function cache()
  local c = caches[K_STOCK]
  if c then return c end
  local v = rcall('HMGET', K_STOCK, 'limit', 'ver', 'lseq', 'backordered')
  c = {limit = tonumber(v[1]), ver = tonumber(v[2]), lseq = tonumber(v[3]) or 0, bo = tonumber(v[4]) or 0,
       bo_read = tonumber(v[4]) or 0,
       locs = {}, customers = {}, holds = {}, expiry = {}, entries = {}, dirty = false}
  caches[K_STOCK] = c
  return c
end

local function loc_counts(c, loc)
  local n = c.locs[loc]
  if n then return n end
  local v = rcall('HMGET', K_STOCK, loc .. '|on', loc .. '|res', loc .. '|com', loc .. '|q')
  n = {on = tonumber(v[1]) or 0, res = tonumber(v[2]) or 0, com = tonumber(v[3]) or 0, q = tonumber(v[4]) or 0,
       dirty = false}
  c.locs[loc] = n
  return n
end

local function sku_version()
  return cache().ver or 0
end

local function hold_flush()
  local c = caches[K_STOCK]
  caches[K_STOCK] = nil
  if not c or not c.dirty then return end
  local fields = {'ver', c.ver, 'lseq', c.lseq}
  if c.bo ~= c.bo_read then
    fields[#fields + 1] = 'backordered'
    fields[#fields + 1] = c.bo
  end
  for loc, n in pairs(c.locs) do
    if n.dirty then
      fields[#fields + 1] = loc .. '|res'
      fields[#fields + 1] = n.res
    end
  end
  rcall('HSET', K_STOCK, unpack(fields))
  rcall('HSET', K_HOLDS, unpack(c.holds))
  rcall('ZADD', K_EXPIRY, unpack(c.expiry))
  -- A hold wholly backordered takes no units from any location: no ledger line.
  if #c.entries > 0 then
    rcall('LPUSH', K_LEDGER, unpack(c.entries))
    rcall('LTRIM', K_LEDGER, 0, LEDGER_MAX - 1)
  end
  local counts = {}
  for customer, units in pairs(c.customers) do
    counts[#counts + 1] = customer
    counts[#counts + 1] = units
  end
  if #counts > 0 then rcall('HSET', K_CUSTOMERS, unpack(counts)) end
  changed = true
end

local function channel_view(c, locs, buffer)
  local avail, total = {}, 0
  for i = 1, #locs do
    local n = loc_counts(c, locs[i])
    local a = location_available(n.on, n.res, n.com)
    avail[i] = a
    total = total + a
  end
  total = total - buffer
  if total < 0 then total = 0 end
  return avail, total
end

-- Expired holds give their units back (drop_expired works on the keys themselves, so what the
-- cache holds is written first and read again after).
local function expire_more()
  hold_flush()
  return drop_expired(), cache()
end

local function customer_has(c, customer)
  local has = c.customers[customer]
  if has == nil then has = tonumber(rcall('HGET', K_CUSTOMERS, customer)) or 0 end
  return has
end

local function decide_hold(rid, qty, buffer, customer, backorder, locs, more_expired, check_replay)
  local c = cache()
  if check_replay then
    local existing = rcall('HGET', K_HOLDS, rid)
    if existing then
      local _, total = channel_view(c, locs, buffer)
      return {code = 2, entry = existing, total = total}, more_expired
    end
  end
  if c.limit and customer ~= '' then
    local has = customer_has(c, customer)
    -- Never refuse for units that expired holds of this customer would give back.
    while has + qty > c.limit and more_expired do
      more_expired, c = expire_more()
      has = customer_has(c, customer)
    end
    if has + qty > c.limit then
      local allowed = c.limit - has
      if allowed < 0 then allowed = 0 end
      return {code = 3, allowed = allowed}, more_expired
    end
  end
  local avail, total = channel_view(c, locs, buffer)
  -- Never refuse a sale that expired holds would allow: a flash sale whose carts share one TTL can
  -- leave more than a batch of them behind.
  while qty > total and more_expired do
    more_expired, c = expire_more()
    avail, total = channel_view(c, locs, buffer)
  end
  local take, bo = qty, 0
  if qty > total then
    -- A SKU this Redis has never seen cannot be backordered: most likely a mistyped code.
    if not backorder or c.ver == nil then
      return {code = 0, total = total}, more_expired
    end
    take, bo = total, qty - total
  end
  return {code = 1, avail = avail, total = total, take = take, bo = bo}, more_expired
end

local function apply_hold(rid, d, qty, deadline, channel, customer, locs)
  local c = cache()
  local allocs, parts, remaining = {}, {}, d.take
  for i = 1, #locs do
    if remaining == 0 then break end
    local t = d.avail[i]
    if t > remaining then t = remaining end
    if t > 0 then
      local loc = locs[i]
      local n = loc_counts(c, loc)
      n.res = n.res + t
      n.dirty = true
      parts[#parts + 1] = loc .. '=' .. t
      allocs[#allocs + 1] = loc
      allocs[#allocs + 1] = t
      remaining = remaining - t
      c.lseq = c.lseq + 1
      c.entries[#c.entries + 1] = ledger_entry(c.lseq, 'hold', loc, rid, n.on, n.res, n.com, n.q)
    end
  end
  local h = c.holds
  h[#h + 1] = rid
  h[#h + 1] = 'h|' .. deadline .. '|' .. channel .. '|' .. table.concat(parts, ',') .. '|' .. customer .. '|' .. d.bo
  c.expiry[#c.expiry + 1] = deadline
  c.expiry[#c.expiry + 1] = rid
  c.bo = c.bo + d.bo
  if customer ~= '' then c.customers[customer] = customer_has(c, customer) + qty end
  c.ver = (c.ver or 0) + 1
  c.dirty = true
  return allocs, c.ver
end
