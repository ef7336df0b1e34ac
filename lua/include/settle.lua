--[[ settle: commits and gives back holds of one SKU through include/hold.lua's cache (decide_at_once:
  many commits and releases in one call). Works on the SKU stock_prelude has bound; what it changes
  is written by hold_flush, once per call.
  Provides
    holds_entries(ids)                 reads the holds entries of these reservations into the cache
    holds_entry(rid)                   a reservation's holds entry as the cache has it (nil: none);
                                       only this file's changes are seen (no script both holds and settles)
    commit_held(rid, e)                a held entry's units become committed (the entry stays, state c)
    give_back_held(rid, e, kind)       what an entry holds (h) or has committed (c) is given back;
                                       the entry goes ]]
--- @include "hold"

local function holds_entries(ids)
  local c = cache()
  local v = rcall('HMGET', K_HOLDS, unpack(ids))
  for i, rid in ipairs(ids) do
    if c.entries[rid] == nil then c.entries[rid] = v[i] or false end
  end
end

local function holds_entry(rid)
  local c = cache()
  local e = c.entries[rid]
  if e == nil then
    e = rcall('HGET', K_HOLDS, rid) or false
    c.entries[rid] = e
  end
  return e or nil
end

-- The entry's new value (false: gone), written by hold_flush; it leaves the expiry index either way.
local function set_entry(c, rid, e)
  c.entries[rid] = e
  if e then
    c.holds[#c.holds + 1] = rid
    c.holds[#c.holds + 1] = e
  else
    c.gone[#c.gone + 1] = rid
  end
  c.unexpire[#c.unexpire + 1] = rid
  c.ver = (c.ver or 0) + 1
  c.dirty = true
end

-- A held entry's units at one location become committed.
local function commit_units(c, rid, loc, q)
  local n = loc_counts(c, loc)
  book(c, 'commit', loc, n, rid, number_text(q), 0, false)
  n.res = n.res - q
  n.com = n.com + q
end

-- The committed entry keeps everything after the held one's state and deadline (parse_entry's
-- fields), so it is cut, not parsed and built again: this runs for every commit of a batch.
local function commit_held(rid, e)
  local c = cache()
  local rest = string.match(e, '^h|%d+|(.*)$')
  local alloc = string.match(rest, '^[^|]*|([^|]*)|')
  -- The common entry: one location.
  local loc, q = string.match(alloc, '^([^=,]+)=(%d+):?%d*$')
  if loc then
    commit_units(c, rid, loc, tonumber(q))
  else
    for _, l in ipairs(each_line(alloc)) do commit_units(c, rid, l.loc, l.q) end
  end
  set_entry(c, rid, 'c|0|' .. rest)
end

-- stock_prelude's drop_entry on the cache, for what an entry holds or has committed (never '|on').
local function give_back_held(rid, e, kind)
  local c = cache()
  local state, _, channel, alloc, customer, bo = parse_entry(e)
  local committed = state == 'c'
  local units = 0
  for _, l in ipairs(each_line(alloc)) do
    local n = loc_counts(c, l.loc)
    book(c, kind, l.loc, n, rid, number_text(l.q), 0, committed)
    if committed then n.com = n.com - l.q else n.res = n.res - l.q end
    -- allocation_return on the cache: the units count against the allocation no more.
    if l.k > 0 then
      local al = alloc_of(c, channel)
      local back, moved = allocation_back(al, l.loc, l.k, false)
      if moved then
        al.dirty = true
        n.ar = n.ar + back
      end
    end
    units = units + l.q
  end
  bo = tonumber(bo) or 0
  c.bo = c.bo - bo
  if customer ~= '' then c.customers[customer] = customer_has(c, customer) - (units + bo) end
  set_entry(c, rid, false)
end
