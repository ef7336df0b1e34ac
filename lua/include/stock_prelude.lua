--[[ stock_prelude: what every per-SKU script shares (reserve_line, commit_line, release_line,
  extend_line, ship_line, movement). Each of them names this file in an include line right
  after its header, and the server's loader (ScriptSource) splices the file in there, in
  place of that line (lua/README.md); Redis never runs it alone.
  Binds the part of the contract every per-SKU script shares, so it is written once:
  KEYS[1] allot:{SKU}:stock      -> K_STOCK
  KEYS[2] allot:{SKU}:holds      -> K_HOLDS
  KEYS[3] allot:{SKU}:expiry     -> K_EXPIRY
  KEYS[4] allot:{SKU}:ledger     -> K_LEDGER
  KEYS[5] allot:{SKU}:customers  -> K_CUSTOMERS
  KEYS[#KEYS] the script's outbox -> K_OUT: the stream its events go to in the same atomic step
          (allot:{SKU}:out on a cluster, relayed into the feed; the feed allot:{events}:feed itself
          on a standalone Redis; docs/outbound.md). Always the script's last key.
  ARGV[1] now_ms -> now   ARGV[2] ledger max entries -> LEDGER_MAX
  ARGV[3] the SKU's event channel, allot:{SKU}:ev (Keys.events in the server) -> EV_CHANNEL
  PREFIX_OK is false when one of those three arguments is missing or malformed, or the last key is
  not an outbox (a stream named ...:out or ...:feed): the script then refuses with its own
  redis.error_reply('ERR <script>: bad arguments'). Its own ARGV start at 4.
  Provides
    rcall                             redis.call
    location_available(on, res, com, ar)  the availability rule, max(0, on - res - com - ar), and the shortfall
    own_available(on, res, com, ar, own)  what a channel may take of its own unused allocation there
    parse_alloc(v), encode_alloc(al)  a channel's allocation field "<loc>|<allocated>|<used>"
    each_line(alloc)                  an entry's stock lines {loc, q, k}
    allocation_return(channel, loc, k, shipped)  k units stop counting against the channel's allocation
    allocation_back(al, loc, k, shipped)  the same rule on a parsed allocation (no Redis call)
    ledger(kind, loc, ref, drift, extra)  one ledger entry for one location
    ledger_entry(seq, kind, loc, ref, on, res, com, q, drift, extra)  an entry's JSON text
    parse_entry(e)                    the fields of a holds entry
    drop_entry(id, e, kind, fields)   takes an entry's units off the given counts; drops the entry
    commit_entry(id, e)               a held entry's units become committed (the entry stays, state c)
    give_back(id, e, kind)            returns what an entry holds or has committed; drops the entry
    drop_expired()                    lazy expiry of this SKU's holds, a batch; true when more may be left
    group_of(list)                    a group entry's score and member for {deadline, member, ...}
    publish(), finish(result)         the event: published to watchers and appended to the outbox (a
                                      'stock' entry: the SKU, its availability now and at its last
                                      entry); `changed = true` makes finish publish
    bind_sku(base, channel)           a script over several SKUs (create_batch): makes KEYS[base..base+4]
                                      and that SKU's event channel the ones every function above uses
  Reads and writes only the five keys bound and the outbox; publishes only on EV_CHANNEL. ]]
local rcall = redis.call
local K_STOCK, K_HOLDS, K_EXPIRY, K_LEDGER, K_CUSTOMERS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now = tonumber(ARGV[1])
local LEDGER_MAX = tonumber(ARGV[2])
local EV_CHANNEL = ARGV[3]
local K_OUT = KEYS[#KEYS]
local PREFIX_OK = now ~= nil and LEDGER_MAX ~= nil and EV_CHANNEL ~= nil and EV_CHANNEL ~= '' and K_OUT ~= nil
  and (string.sub(K_OUT, -4) == ':out' or string.sub(K_OUT, -5) == ':feed')

local changed = false

local function bind_sku(base, channel)
  K_STOCK, K_HOLDS, K_EXPIRY, K_LEDGER, K_CUSTOMERS = KEYS[base], KEYS[base + 1], KEYS[base + 2], KEYS[base + 3],
    KEYS[base + 4]
  EV_CHANNEL = channel
end

-- The one availability rule (stock.Availability on the Java side): what a location can still
-- promise to any channel is onHand - reserved - committed - the allocations' unused units (<loc>|ar),
-- never below 0 (a missing count is 0). The second value is the shortfall: how far the promises
-- (holds, commitments and unused allocations) exceed onHand (0 when they do not).
local function location_available(on, res, com, ar)
  local a = (tonumber(on) or 0) - (tonumber(res) or 0) - (tonumber(com) or 0) - (tonumber(ar) or 0)
  if a < 0 then return 0, -a end
  return a, 0
end

-- What a channel may still take of its own unused allocation `own` at a location: never more than
-- the units there that are neither promised nor set aside for other channels (a count or an adjust
-- can take onHand below what is allocated: the allocation then shrinks in effect, never oversells).
local function own_available(on, res, com, ar, own)
  local room = (tonumber(on) or 0) - (tonumber(res) or 0) - (tonumber(com) or 0) - ((tonumber(ar) or 0) - own)
  if room < 0 then room = 0 end
  if own < room then return own end
  return room
end

-- A channel's allocation on this SKU (API.md, "Allocations"): the field alloc:<channel> holds
-- "<loc>|<allocated>|<used>", used being the units the channel holds or has committed that count
-- against it (never above allocated). <loc>|ar sums allocated - used over the channels at <loc>.
local function parse_alloc(v)
  if not v then return nil end
  local loc, a, u = string.match(v, '^([^|]+)|(%d+)|(%d+)$')
  if not loc then return nil end
  return {loc = loc, a = tonumber(a), u = tonumber(u)}
end

local function encode_alloc(al)
  return al.loc .. '|' .. al.a .. '|' .. al.u
end

-- An entry's stock lines: "loc=qty" or "loc=qty:k", k of the qty drawn from the channel's allocation.
local function each_line(alloc)
  local out = {}
  for loc, q, k in string.gmatch(alloc, '([^=,]+)=(%d+):?(%d*)') do
    out[#out + 1] = {loc = loc, q = tonumber(q), k = tonumber(k) or 0}
  end
  return out
end

-- Units that stop counting against a channel's allocation (k of an entry given back or shipped):
-- used falls (bounded at 0: an allocation lowered below what the channel held counted the rest in
-- the shared pool); given back they are unused allocation again, shipped they left with it.
-- The rule on a parsed allocation al (include/settle.lua applies it to its cache): answers the units
-- that went back to the location's unused allocation (<loc>|ar), 0 when shipped or none.
local function allocation_back(al, loc, k, shipped)
  if k <= 0 or not al or al.loc ~= loc then return 0, false end
  local back = math.min(k, al.u)
  if back <= 0 then return 0, false end
  al.u = al.u - back
  if shipped then
    al.a = al.a - back
    return 0, true
  end
  return back, true
end

local function allocation_return(channel, loc, k, shipped)
  if k <= 0 then return end
  local key = 'alloc:' .. channel
  local al = parse_alloc(rcall('HGET', K_STOCK, key))
  local back, moved = allocation_back(al, loc, k, shipped)
  if not moved then return end
  if back > 0 then rcall('HINCRBY', K_STOCK, loc .. '|ar', back) end
  if al.a <= 0 and al.u <= 0 then rcall('HDEL', K_STOCK, key) else rcall('HSET', K_STOCK, key, encode_alloc(al)) end
end

-- One ledger entry as JSON: its cause and the location's numbers after the change. Every value
-- is a number or an id of the contract's safe characters (lua/README.md), so nothing needs escaping.
-- extra: more fields, already JSON (',"name":value...'), or nil.
local function ledger_entry(seq, kind, loc, ref, on, res, com, q, drift, extra)
  local e = string.format('{"seq":%d,"at":%d,"type":"%s","location":"%s","ref":"%s","onHand":%d,"reserved":%d,'
    .. '"committed":%d,"quarantine":%d', seq, now, kind, loc, ref, on, res, com, q)
  if drift then e = e .. string.format(',"drift":%d', drift) end
  if extra then e = e .. extra end
  return e .. '}'
end

-- One ledger entry per location a change touched: its cause and that location's numbers after it.
local function ledger(kind, loc, ref, drift, extra)
  local v = rcall('HMGET', K_STOCK, loc .. '|on', loc .. '|res', loc .. '|com', loc .. '|q')
  local entry = ledger_entry(rcall('HINCRBY', K_STOCK, 'lseq', 1), kind, loc, ref, tonumber(v[1]) or 0,
    tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0, drift, extra)
  -- Trimmed only when over its length: LPUSH answers the length.
  local length = rcall('LPUSH', K_LEDGER, entry)
  if length > LEDGER_MAX then rcall('LTRIM', K_LEDGER, 0, LEDGER_MAX - 1) end
end

-- A reservation's entry on this SKU: state|deadline|channel|loc=qty[:k],...|customer|backordered
-- (state h: held, units in <loc>|res; state c: committed, units in <loc>|com; k of a location's
-- qty count against the channel's allocation).
local function parse_entry(e)
  return string.match(e, '^(%a)|(%d+)|([^|]*)|([^|]*)|([^|]*)|(%d+)$')
end

-- Drops an entry: takes its units off each of `fields` ('|res', '|com', '|on') at each of its
-- locations, with a ledger line per location, settles its backordered units and the customer's
-- count, and removes it from holds and expiry. Returns the located units and, when '|on' is
-- among the fields, {loc, units, shortfall} for each location where onHand had fewer units than
-- left: onHand stops at 0 (never below: a count had found those units missing, docs/protocol.md
-- "Shipping what a count found missing") and the ledger line says `"shortfall"`.
local function drop_entry(id, e, kind, fields)
  local _, _, channel, alloc, customer, bo = parse_entry(e)
  local units, short = 0, {}
  for _, l in ipairs(each_line(alloc)) do
    local missing = 0
    for _, field in ipairs(fields) do
      local left = rcall('HINCRBY', K_STOCK, l.loc .. field, -l.q)
      if field == '|on' and left < 0 then
        missing = -left
        rcall('HSET', K_STOCK, l.loc .. '|on', 0)
      end
    end
    allocation_return(channel, l.loc, l.k, kind == 'ship')
    units = units + l.q
    if missing > 0 then
      short[#short + 1] = {l.loc, l.q, missing}
      ledger(kind, l.loc, id, nil, ',"shortfall":' .. missing)
    else
      ledger(kind, l.loc, id)
    end
  end
  bo = tonumber(bo) or 0
  if bo > 0 then rcall('HINCRBY', K_STOCK, 'backordered', -bo) end
  if customer ~= '' then
    if rcall('HINCRBY', K_CUSTOMERS, customer, -(units + bo)) <= 0 then rcall('HDEL', K_CUSTOMERS, customer) end
  end
  rcall('HDEL', K_HOLDS, id)
  rcall('ZREM', K_EXPIRY, id)
  changed = true
  return units, short
end

-- Turns a held entry (h) into committed units: res -> com at each of its locations, with a
-- ledger line each; the entry stays (state c) with its customer and backordered units.
local function commit_entry(id, e)
  local _, _, channel, alloc, customer, bo = parse_entry(e)
  for _, l in ipairs(each_line(alloc)) do
    rcall('HINCRBY', K_STOCK, l.loc .. '|res', -l.q)
    rcall('HINCRBY', K_STOCK, l.loc .. '|com', l.q)
    ledger('commit', l.loc, id)
  end
  rcall('HSET', K_HOLDS, id, 'c|0|' .. channel .. '|' .. alloc .. '|' .. customer .. '|' .. bo)
  rcall('ZREM', K_EXPIRY, id)
  changed = true
end

-- Gives back everything an entry holds (h) or has committed (c); drops the entry.
local function give_back(id, e, kind)
  if parse_entry(e) == 'c' then return drop_entry(id, e, kind, {'|com'}) end
  return drop_entry(id, e, kind, {'|res'})
end

-- Expired holds of this SKU give their units back before anything is decided, 200 at a time
-- (a script blocks Redis while it runs). Answers true when more expired holds may be left: a
-- script about to refuse for want of units calls it again until none are (reserve_line).
-- A member of the expiry index is a hold's id, scored by its deadline, or a group: '*' and the ids
-- of the holds one call made, comma separated (a batch: hold_flush), scored by the earliest of
-- their deadlines. A group that comes due is opened: each of its holds still held goes back when
-- its own deadline (in its entry) has come, or gets a member of its own scored by that deadline
-- (a batch's deadlines lie within milliseconds of each other); the rest (committed, gone) need
-- nothing. A group counts its ids against the 200 and is always opened whole (at most a call's
-- cap of them).
local EXPIRE_BATCH = 200

-- A group entry for {deadline, member, deadline, member, ...}: the earliest deadline and '*' ..
-- the members, comma separated (hold_flush's expiry entry, create_batch's due entry).
local function group_of(list)
  local lo, members = nil, {}
  for i = 1, #list, 2 do
    local dl = tonumber(list[i])
    if not lo or dl < lo then lo = dl end
    members[#members + 1] = list[i + 1]
  end
  return lo, '*' .. table.concat(members, ',')
end

-- One hold the index names: it goes back when held; named by a group, only once its own deadline
-- (in its entry) has come, else it gets a member of its own. Answers 1 when it went back.
local function expire_hold(id, grouped)
  local e = rcall('HGET', K_HOLDS, id)
  if not e or string.sub(e, 1, 2) ~= 'h|' then
    if not grouped then rcall('ZREM', K_EXPIRY, id) end
    return 0
  end
  if grouped then
    local deadline = tonumber(string.match(e, '^h|(%d+)|'))
    if deadline and deadline > now then
      rcall('ZADD', K_EXPIRY, deadline, id)
      return 0
    end
  end
  give_back(id, e, 'expire')
  return 1
end

local function drop_expired()
  local ids = rcall('ZRANGEBYSCORE', K_EXPIRY, '-inf', now, 'LIMIT', 0, EXPIRE_BATCH)
  local dropped, seen = 0, 0
  for _, id in ipairs(ids) do
    if seen >= EXPIRE_BATCH then
      if dropped > 0 then rcall('HINCRBY', K_STOCK, 'ver', 1) end
      return true
    end
    if string.byte(id, 1) == 42 then
      for member in string.gmatch(string.sub(id, 2), '[^,]+') do
        seen = seen + 1
        dropped = dropped + expire_hold(member, true)
      end
      rcall('ZREM', K_EXPIRY, id)
    else
      seen = seen + 1
      dropped = dropped + expire_hold(id, false)
    end
  end
  if dropped > 0 then rcall('HINCRBY', K_STOCK, 'ver', 1) end
  return #ids == EXPIRE_BATCH
end

-- Every change is told to its watchers in the same atomic step: the SKU's version and each
-- location's available units, on the SKU's own pub/sub channel (same hash tag as its keys).
-- Redis 7+ (and Valkey) have sharded pub/sub: the event stays on the SKU's own shard, where the
-- server listens with SSUBSCRIBE. Older Redis: classic PUBLISH (the server uses SUBSCRIBE there).
local PUBLISH_CMD = (tonumber(redis.REDIS_VERSION_NUM) or 0) >= 0x070000 and 'SPUBLISH' or 'PUBLISH'
-- The SKU's code, from its event channel allot:{SKU}:ev (Keys.events): for the outbox's entries.
local function sku_code()
  return string.match(EV_CHANNEL, '^allot:{(.+)}:ev$') or ''
end

-- The outbox entry carries the availability now (p) and at the SKU's previous entry (pp, kept in the
-- stock hash as 'pub'), so a reader names exactly the channels whose availability changed.
local function publish()
  local f = rcall('HGETALL', K_STOCK)
  local ver, counts, order, previous, own = 0, {}, {}, '', {}
  for i = 1, #f, 2 do
    local name, v = f[i], f[i + 1]
    if name == 'ver' then
      ver = tonumber(v) or 0
    elseif name == 'pub' then
      previous = v
    elseif string.sub(name, 1, 6) == 'alloc:' then
      -- A channel's own unused allocation: "<channel>@<loc>=n" beside the locations' shared units.
      local al = parse_alloc(v)
      if al and al.a > al.u then own[#own + 1] = {string.sub(name, 7), al.loc, al.a - al.u} end
    else
      -- <loc>|on, <loc>|res, <loc>|com, <loc>|ar count; <loc>|q (quarantine) is never available.
      local loc, kind = string.match(name, '^(.*)|(%a+)$')
      if loc and kind ~= 'q' then
        if counts[loc] == nil then counts[loc] = {}; order[#order + 1] = loc end
        counts[loc][kind] = v
      end
    end
  end
  local parts = {}
  for _, loc in ipairs(order) do
    local c = counts[loc]
    parts[#parts + 1] = loc .. '=' .. location_available(c.on, c.res, c.com, c.ar)
  end
  for _, o in ipairs(own) do
    local c = counts[o[2]] or {}
    local n = own_available(c.on, c.res, c.com, c.ar, o[3])
    if n > 0 then parts[#parts + 1] = o[1] .. '@' .. o[2] .. '=' .. n end
  end
  local available = table.concat(parts, ',')
  rcall(PUBLISH_CMD, EV_CHANNEL, ver .. '|' .. available)
  rcall('XADD', K_OUT, '*', 't', 'stock', 's', sku_code(), 'v', ver, 'p', available, 'pp', previous)
  rcall('HSET', K_STOCK, 'pub', available)
end

local function finish(result)
  if changed then publish() end
  return result
end
