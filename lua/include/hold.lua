--[[ hold: a SKU's holds made through one cache of its counts, shared by reserve_line (one hold, the
  saga's step) and create_batch (many reservations in one call); include/settle.lua commits and
  gives them back through the same cache (decide_at_once). Works on the SKU stock_prelude has bound.
  The SKU's counts are read once and written back once per script (hold_flush): a batch of a hundred
  holds (or commits) on a hot SKU reads and writes its stock hash, holds, expiry, ledger and customer
  counts once each, not a hundred times. Anything that reads those keys directly (drop_expired,
  publish) runs only after hold_flush.
  Provides
    decide_hold(rid, qty, buffer, customer, backorder, locs, more_expired, check_replay, channel)
        decides without changing anything but expired holds; answers the decision and whether
        more expired holds may be left (drop_expired's answer, carried between calls):
          {code = 1, avail, total, take, bo, own, own_i}  it can be held: take units now (own of them
                                              from the channel's allocation at locs[own_i]), bo backordered
          {code = 2, entry, total}            this reservation already holds this SKU (a replay;
                                              looked for only with check_replay)
          {code = 0, total}                   not enough units (total: what the channel has)
          {code = 3, allowed}                 the customer's limit: at most `allowed` more
    apply_hold(rid, d, qty, deadline, channel, customer, locs)
        makes decision d (code 1): reserves its units from the channel's allocation first, then
        location by location in `locs` order, the holds entry and its expiry; answers the allocations
        as a flat {loc, qty, ...} list and the SKU's version after it
    hold_plain(rid, qty, buffer, loc, deadline, channel)
        the common hold in one step, decided and made, when nothing but the units decides it: a
        channel of one location and no allocation on this SKU, no customer, and enough units there
        beyond the buffer. Answers the quantity as text when held; nil when that case does not hold
        (nothing changed: decide_hold and apply_hold then decide, the same way they always do)
    book(c, kind, loc, n, rid, qs, k, single)  a change at a location, for the ledger (below)
    hold_flush()                       writes what the cache changed back to the bound SKU's keys
    sku_version()                      the bound SKU's version (as held so far)
    number_text(n)                     a number as text, formatted once per script
  The ledger lines are written by hold_flush: per location, a run of changes of one kind in one
  entry (lua/README.md: one plain entry for one change, one compact entry for several). ]]
--- @include "stock_prelude"

-- Per SKU (by its stock key): the counts read so far and what the holds add.
local caches = {}
-- Numbers as text, each formatted once per script (formatting a number is most of what building a
-- hold's strings costs).
local number_texts = {}
local function number_text(n)
  local t = number_texts[n]
  if not t then
    t = tostring(n)
    number_texts[n] = t
  end
  return t
end

local function cache()
  local c = caches[K_STOCK]
  if c then return c end
  local v = rcall('HMGET', K_STOCK, 'limit', 'ver', 'lseq', 'backordered')
  -- holds: HSET pairs; gone: entries to delete; entries: each entry settle.lua read or wrote (false:
  -- none); expiry / unexpire: ZADD pairs and ZREM members; runs: the ledger's runs in order, open:
  -- each location's last run.
  c = {limit = tonumber(v[1]), ver = tonumber(v[2]), lseq = tonumber(v[3]) or 0, bo = tonumber(v[4]) or 0,
       bo_read = tonumber(v[4]) or 0, locs = {}, customers = {}, holds = {}, gone = {}, entries = {}, expiry = {},
       unexpire = {}, runs = {}, open = {}, allocs = {}, dirty = false}
  caches[K_STOCK] = c
  return c
end

local function loc_counts(c, loc)
  local n = c.locs[loc]
  if n then return n end
  local v = rcall('HMGET', K_STOCK, loc .. '|on', loc .. '|res', loc .. '|com', loc .. '|q', loc .. '|ar')
  n = {on = tonumber(v[1]) or 0, res = tonumber(v[2]) or 0, com = tonumber(v[3]) or 0, q = tonumber(v[4]) or 0,
       ar = tonumber(v[5]) or 0}
  n.res_read, n.com_read, n.ar_read = n.res, n.com, n.ar
  c.locs[loc] = n
  return n
end

-- The channel's allocation on this SKU, read once per script (false: none).
local function alloc_of(c, channel)
  local al = c.allocs[channel]
  if al == nil then
    al = parse_alloc(rcall('HGET', K_STOCK, 'alloc:' .. channel)) or false
    if al then al.dirty = false end
    c.allocs[channel] = al
  end
  return al
end

local function sku_version()
  return cache().ver or 0
end

-- One change of `kind` at a location for reservation rid (qs: its quantity as text), booked for the
-- ledger; called before the change is made to the location's counts n. A change of the same kind
-- as the location's last one joins its run (one compact entry), unless either stands alone
-- (`single`: a give-back of committed units, which the compact form cannot work back). A run ends
-- with the numbers after its last change: those n holds when the next run there starts, or at the
-- flush.
local function book(c, kind, loc, n, rid, qs, k, single)
  local b = c.open[loc]
  if not b or b.kind ~= kind or b.single or single then
    if b then b.on, b.res, b.com, b.q = n.on, n.res, n.com, n.q end
    b = {kind = kind, loc = loc, count = 0, single = single}
    c.open[loc] = b
    c.runs[#c.runs + 1] = b
  end
  b.count = b.count + 1
  b[b.count] = rid .. '=' .. qs
  b.last, b.k = rid, k
end

local function hold_flush()
  local c = caches[K_STOCK]
  caches[K_STOCK] = nil
  if not c or not c.dirty then return end
  -- The ledger: each run, in order, with the next seqs. One change is one plain entry; several are one
  -- compact entry whose numbers are those after the last of them, with "holds": "ref=qty[:k],..." in
  -- order (lua/README.md; the server expands it into one entry per change). A hold wholly
  -- backordered takes no units from any location: no ledger line.
  local entries = {}
  for _, b in ipairs(c.runs) do
    if c.open[b.loc] == b then
      local n = c.locs[b.loc]
      b.on, b.res, b.com, b.q = n.on, n.res, n.com, n.q
    end
    c.lseq = c.lseq + b.count
    local extra
    if b.count == 1 then
      if b.k > 0 then extra = ',"fromAllocation":' .. b.k end
    else
      extra = ',"holds":"' .. table.concat(b, ',') .. '"'
    end
    entries[#entries + 1] = ledger_entry(c.lseq, b.kind, b.loc, b.last, b.on, b.res, b.com, b.q, nil, extra)
  end
  local fields = {'ver', c.ver, 'lseq', c.lseq}
  if c.bo ~= c.bo_read then
    fields[#fields + 1] = 'backordered'
    fields[#fields + 1] = c.bo
  end
  for loc, n in pairs(c.locs) do
    if n.res ~= n.res_read then
      fields[#fields + 1] = loc .. '|res'
      fields[#fields + 1] = n.res
    end
    if n.com ~= n.com_read then
      fields[#fields + 1] = loc .. '|com'
      fields[#fields + 1] = n.com
    end
    if n.ar ~= n.ar_read then
      fields[#fields + 1] = loc .. '|ar'
      fields[#fields + 1] = n.ar
    end
  end
  local unset = {}
  for channel, al in pairs(c.allocs) do
    if al and al.dirty then
      if al.a <= 0 and al.u <= 0 then
        unset[#unset + 1] = 'alloc:' .. channel
      else
        fields[#fields + 1] = 'alloc:' .. channel
        fields[#fields + 1] = encode_alloc(al)
      end
    end
  end
  rcall('HSET', K_STOCK, unpack(fields))
  if #unset > 0 then rcall('HDEL', K_STOCK, unpack(unset)) end
  if #c.holds > 0 then rcall('HSET', K_HOLDS, unpack(c.holds)) end
  if #c.gone > 0 then rcall('HDEL', K_HOLDS, unpack(c.gone)) end
  if #c.expiry > 2 then
    -- Several holds (a batch): one member for all of them, scored by the earliest deadline
    -- (stock_prelude's drop_expired: a zset insert per call instead of one per hold).
    rcall('ZADD', K_EXPIRY, group_of(c.expiry))
  elseif #c.expiry > 0 then
    rcall('ZADD', K_EXPIRY, c.expiry[1], c.expiry[2])
  end
  if #c.unexpire > 0 then rcall('ZREM', K_EXPIRY, unpack(c.unexpire)) end
  if #entries > 0 then
    -- Trimmed only when over its length: LPUSH answers the length.
    if rcall('LPUSH', K_LEDGER, unpack(entries)) > LEDGER_MAX then rcall('LTRIM', K_LEDGER, 0, LEDGER_MAX - 1) end
  end
  local counts, none = {}, {}
  for customer, units in pairs(c.customers) do
    if units > 0 then
      counts[#counts + 1] = customer
      counts[#counts + 1] = units
    else
      none[#none + 1] = customer
    end
  end
  if #counts > 0 then rcall('HSET', K_CUSTOMERS, unpack(counts)) end
  if #none > 0 then rcall('HDEL', K_CUSTOMERS, unpack(none)) end
  changed = true
end

-- What the channel can take: its own unused allocation (at one of its locations) first, then the
-- shared pool of its locations less its buffer. avail[i]: the shared units at locs[i].
local function channel_view(c, locs, buffer, channel)
  local avail, sum = {}, 0
  for i = 1, #locs do
    local n = loc_counts(c, locs[i])
    -- location_available's rule on the numbers the cache holds (no conversions: this runs per hold).
    local a = n.on - n.res - n.com - n.ar
    if a < 0 then a = 0 end
    avail[i] = a
    sum = sum + a
  end
  local pool = sum - buffer
  if pool < 0 then pool = 0 end
  local own, own_i = 0, nil
  local al = channel and alloc_of(c, channel)
  if al and al.a > al.u then
    for i = 1, #locs do
      if locs[i] == al.loc then
        local n = loc_counts(c, locs[i])
        own, own_i = own_available(n.on, n.res, n.com, n.ar, al.a - al.u), i
      end
    end
  end
  return avail, own + pool, own, own_i
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

local function decide_hold(rid, qty, buffer, customer, backorder, locs, more_expired, check_replay, channel)
  local c = cache()
  if check_replay then
    local existing = rcall('HGET', K_HOLDS, rid)
    if existing then
      local _, total = channel_view(c, locs, buffer, channel)
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
  local avail, total, own, own_i = channel_view(c, locs, buffer, channel)
  -- Never refuse a sale that expired holds would allow: a flash sale whose carts share one TTL can
  -- leave more than a batch of them behind.
  while qty > total and more_expired do
    more_expired, c = expire_more()
    avail, total, own, own_i = channel_view(c, locs, buffer, channel)
  end
  local take, bo = qty, 0
  if qty > total then
    -- A SKU this Redis has never seen cannot be backordered: most likely a mistyped code.
    if not backorder or c.ver == nil then
      return {code = 0, total = total}, more_expired
    end
    take, bo = total, qty - total
  end
  return {code = 1, avail = avail, total = total, take = take, bo = bo, own = own, own_i = own_i}, more_expired
end

-- A held reservation's entry on this SKU (stock_prelude's parse_entry reads it): parts "loc=qty[:k],...".
local function held_entry(deadline, channel, parts, customer, bo)
  return 'h|' .. deadline .. '|' .. channel .. '|' .. parts .. '|' .. customer .. '|' .. (bo == 0 and '0' or bo)
end

local function apply_hold(rid, d, qty, deadline, channel, customer, locs)
  local c = cache()
  -- The channel's own allocation first, then the shared units of its locations in order.
  local from_own = d.own or 0
  if d.take < from_own then from_own = d.take end
  local remaining = d.take - from_own
  local allocs, parts = {}, nil
  for i = 1, #locs do
    local k = (i == d.own_i) and from_own or 0
    local t = d.avail[i]
    if t > remaining then t = remaining end
    remaining = remaining - t
    if t + k > 0 then
      local loc = locs[i]
      local n = loc_counts(c, loc)
      -- The quantity as text once: formatting a number is most of what building these strings costs.
      local qs = number_text(t + k)
      if k > 0 then qs = qs .. ':' .. k end
      book(c, 'hold', loc, n, rid, qs, k, false)
      n.res = n.res + t + k
      if k > 0 then
        local al = alloc_of(c, channel)
        al.u = al.u + k
        al.dirty = true
        n.ar = n.ar - k
      end
      parts = parts and (parts .. ',' .. loc .. '=' .. qs) or (loc .. '=' .. qs)
      allocs[#allocs + 1] = loc
      allocs[#allocs + 1] = t + k
    end
  end
  local h = c.holds
  h[#h + 1] = rid
  h[#h + 1] = held_entry(deadline, channel, parts or '', customer, d.bo)
  c.expiry[#c.expiry + 1] = deadline
  c.expiry[#c.expiry + 1] = rid
  c.bo = c.bo + d.bo
  if customer ~= '' then c.customers[customer] = customer_has(c, customer) + qty end
  c.ver = (c.ver or 0) + 1
  c.dirty = true
  return allocs, c.ver
end

-- decide_hold then apply_hold for the case a flash sale is made of (the header's hold_plain): the
-- same rule and the same writes, without the decision's tables, for the one location.
local function hold_plain(rid, qty, buffer, loc, deadline, channel)
  local c = cache()
  if alloc_of(c, channel) then return nil end
  local n = loc_counts(c, loc)
  if n.on - n.res - n.com - n.ar - buffer < qty then return nil end
  local qs = number_text(qty)
  book(c, 'hold', loc, n, rid, qs, 0, false)
  n.res = n.res + qty
  local h, e = c.holds, c.expiry
  h[#h + 1] = rid
  h[#h + 1] = held_entry(deadline, channel, loc .. '=' .. qs, '', 0)
  e[#e + 1] = deadline
  e[#e + 1] = rid
  c.ver = (c.ver or 0) + 1
  c.dirty = true
  return qs
end
