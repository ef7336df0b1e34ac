--[[ decide_at_once: reservations' commits and releases, each the record's decision and every
  stock line's change in one atomic step, many in one call (group commit), where the records and
  all their SKUs live on one Redis (standalone; a cluster runs reservation + commit_line /
  release_line, docs/protocol.md). The operations are taken in the order given. The call reads
  each record itself: a commit or a release is this one call, not a read and then a call.
  KEYS[1] .. KEYS[3N]  for each operation j = 1..N: its record, the due index (allot:due) and its
                       bucket's counters
                       (reservation.lua's KEYS[1..3]) at 3(j-1)+1 .. 3j
  KEYS[3N+1]           the outbox: the feed allot:{events}:feed (every event of the call goes there)
  The one script that names keys it was not given: each record's SKUs are known only from its
  stock lines (field ln), so their five keys and event channel are built here as Keys.java builds
  them (allot:{SKU}:stock, :holds, :expiry, :ledger, :customers; allot:{SKU}:ev). A standalone
  Redis runs it so (lua/README.md, Rules); a cluster never does.
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] '-' (no SKU is bound at the start)
  ARGV[4] N   ARGV[5] the call's budget of stock lines: operations are taken in order while their
    records' stock lines add up to at most this (the first is always taken); the rest answer {-9}
    untouched, for the caller to send again (Redis runs nothing else while a script runs: a call of
    a few hundred reservations of a hundred lines each would hold it for a long time)
  then each operation: op (commit | release), reservation id, the caller's channel ('' for
    an admin: any), then
    commit   order id ('' for none), lease_ms
    release  lease_ms, retention_s
  Returns one entry per operation, in order:
    {-1} no such reservation (none, or rejected or aborted)   {-3} another channel's   {-4} still pending
    {-9} not taken in this call (over the budget): nothing read or changed for it; every operation
         after it answers {-9} too
    commit   {1, 'committed', oid, body, deadline} committed, every line with it |
             {2, 'committed', oid, body, deadline} already committed (oid: the stored one) |
             {0, 'expired', 1} the deadline passed or a line's hold was gone: this call expired the
             record (due at now + lease) and the caller settles it | {0, st, 0} any other state
    release  {1, 'released', oid, body, deadline} released, every line given back, the record
             cleaned (kept retention_s) | {2, 'released', oid, body, deadline} already released |
             {0, st, 0} any other state
  Events  one SPUBLISH (Redis 7+; PUBLISH before) and one 'stock' outbox entry per SKU that changed,
          after the whole batch; the records moved (committed, released, expired) in one 'resc' outbox
          entry (docs/outbound.md), each document's head left out and each distinct rest kept once
  Like create_batch, the call reads each SKU's counts and holds once (include/hold.lua's cache,
  include/settle.lua) and writes them back once, after every operation is decided; the records, their due entries, the
  counters and the events are written after that, so a runtime error half-way (a bug) leaves no
  record decided without its stock lines. A checkout's call (commits only, each of a held record with
  one stock line, all on one SKU and location, nothing due on it) is committed by the plain path
  below, before settle.lua's definitions, with exactly the general path's writes (CreationsTest
  compares the two); anything else takes the general path. ]]
--- @include "include/stock_prelude"
local N, BUDGET = tonumber(ARGV[4]), tonumber(ARGV[5])
if not PREFIX_OK or not N or not BUDGET or #KEYS ~= 3 * N + 1 then
  return redis.error_reply('ERR decide_at_once: bad arguments')
end

-- What both ways of deciding write last for the records they moved.
-- Their events: one 'resc' entry for all of them (states, ids, channels, deadlines and each one's rest
-- index comma separated, the order ids a JSON array, the distinct rests of their documents newline
-- separated: docs/outbound.md). A document's rest is the text after the head ReservationDocs writes,
-- {"id":"<id>","channel":"<channel>","state":"…","expiresAt":"…", which the entry carries apart; a
-- document that does not begin so (an id or channel JSON escapes) is kept whole, '' stays ''.
local HEAD_END = '","expiresAt":"'
local function rest_of(body, id, channel)
  local pre = '{"id":"' .. id .. '","channel":"' .. channel .. '","state":"'
  if string.sub(body, 1, #pre) ~= pre then return body end
  local e = string.find(body, HEAD_END, #pre + 1, true)
  local q = e and string.find(body, '"', e + #HEAD_END, true)
  local after = q and string.sub(body, q + 1, q + 1)
  if after ~= ',' and after ~= '}' then return body end
  return string.sub(body, q + 1)
end
local function moved_events(sts, ids, chs, dls, oids, bodies)
  local xs, rests, rest_index, X = {}, {}, {}, 0
  for i = 1, #ids do
    local rest = rest_of(bodies[i], ids[i], chs[i])
    local x = rest_index[rest]
    if not x then
      X = X + 1
      rests[X], rest_index[rest], x = rest, X, X
    end
    xs[i] = x
  end
  rcall('XADD', K_OUT, '*', 't', 'resc', 'st', table.concat(sts, ','), 'r', table.concat(ids, ','), 'c',
    table.concat(chs, ','), 'd', table.concat(dls, ','), 'o', cjson.encode(oids), 'x', table.concat(rests, '\n'),
    'i', table.concat(xs, ','))
end
-- dues: due index key -> {add = ZADD pairs, rem = members} for the records moved. due_move books a
-- record's move there: scheduled at due_at, or leaving the index (due_at nil).
local function due_move(dues, key, id, due_at)
  local due = dues[key]
  if not due then
    due = {add = {}, rem = {}}
    dues[key] = due
  end
  if due_at then
    due.add[#due.add + 1] = due_at
    due.add[#due.add + 1] = id
  else
    due.rem[#due.rem + 1] = id
  end
end
local function write_dues(dues)
  for key, due in pairs(dues) do
    if #due.rem > 0 then rcall('ZREM', key, unpack(due.rem)) end
    if #due.add > 0 then rcall('ZADD', key, unpack(due.add)) end
  end
end
-- The counters are only ever read summed over the buckets (RecordStore.stats): the call counts in
-- its first operation's bucket.
local function count_moves(held, committed, expired)
  if held > 0 then
    local stats = KEYS[3]
    rcall('HINCRBY', stats, 'held', -held)
    if committed > 0 then rcall('HINCRBY', stats, 'committed', committed) end
    if expired > 0 then rcall('HINCRBY', stats, 'expired', expired) end
  end
end

-- A checkout's call: every operation a commit of a held record with one stock line, on one SKU and
-- at one location for all of them, by its own channel (or an admin), before its deadline, with
-- distinct ids, on a SKU with nothing due in its expiry index. They are then committed here with
-- exactly the writes the general path below makes for them (CreationsTest compares the two), without
-- settle.lua's and hold.lua's definitions and the general path's per-operation tables. Anything else
-- takes the general path; nothing is written before this is known.
do
  local plain = N <= BUDGET or N == 1
  local ids, seen, p = {}, {}, 6
  for j = 1, N do
    local id = ARGV[p + 1]
    if not plain or ARGV[p] ~= 'commit' or not id or seen[id] or not ARGV[p + 2] or not ARGV[p + 4] then
      plain = false
      break
    end
    seen[id], ids[j] = true, id
    p = p + 5
  end
  local recs, sku = {}, nil
  p = 6
  for j = 1, plain and N or 0 do
    local v = rcall('HMGET', KEYS[3 * (j - 1) + 1], 'st', 'dl', 'ch', 'body', 'ln')
    local s = string.match(v[5] or '', '^([^=,]+)=%d+$')
    local caller = ARGV[p + 2]
    if v[1] ~= 'held' or (caller ~= '' and caller ~= v[3]) or (tonumber(v[2]) or 0) <= now or not s
        or (sku and s ~= sku) then
      plain = false
      break
    end
    sku, recs[j] = s, v
    p = p + 5
  end
  if plain then
    local tag = 'allot:{' .. sku .. '}:'
    K_STOCK, K_HOLDS, K_EXPIRY, K_LEDGER, K_CUSTOMERS = tag .. 'stock', tag .. 'holds', tag .. 'expiry',
      tag .. 'ledger', tag .. 'customers'
    EV_CHANNEL = tag .. 'ev'
    plain = #rcall('ZRANGEBYSCORE', K_EXPIRY, '-inf', now, 'LIMIT', 0, 1) == 0
  end
  local entries = plain and rcall('HMGET', K_HOLDS, unpack(ids))
  local loc, units, holds, booked = nil, 0, {}, {}
  for j = 1, plain and N or 0 do
    -- settle.lua's commit_held on a held entry of one location: its units become committed, and the
    -- entry keeps everything after the held one's state and deadline.
    local rest = entries[j] and string.match(entries[j], '^h|%d+|(.*)$')
    local alloc = rest and string.match(rest, '^[^|]*|([^|]*)|')
    local l, q
    if alloc then l, q = string.match(alloc, '^([^=,]+)=(%d+):?%d*$') end
    if not l or (loc and l ~= loc) then
      plain = false
      break
    end
    q = tonumber(q)
    loc, units = l, units + q
    holds[2 * j - 1], holds[2 * j] = ids[j], 'c|0|' .. rest
    booked[j] = ids[j] .. '=' .. tostring(q)
  end
  if plain then
    -- hold_flush's writes for one run of commits at one location: the counts, the holds, the expiry
    -- index left, one ledger entry (compact for several).
    local v = rcall('HMGET', K_STOCK, 'ver', 'lseq', loc .. '|on', loc .. '|res', loc .. '|com', loc .. '|q')
    local lseq, res, com = (tonumber(v[2]) or 0) + N, (tonumber(v[4]) or 0) - units, (tonumber(v[5]) or 0) + units
    local entry = ledger_entry(lseq, 'commit', loc, ids[N], tonumber(v[3]) or 0, res, com, tonumber(v[6]) or 0, nil,
      N > 1 and (',"holds":"' .. table.concat(booked, ',') .. '"') or nil)
    rcall('HSET', K_STOCK, 'ver', (tonumber(v[1]) or 0) + N, 'lseq', lseq, loc .. '|res', res, loc .. '|com', com)
    rcall('HSET', K_HOLDS, unpack(holds))
    rcall('ZREM', K_EXPIRY, unpack(ids))
    if rcall('LPUSH', K_LEDGER, entry) > LEDGER_MAX then rcall('LTRIM', K_LEDGER, 0, LEDGER_MAX - 1) end
    -- Then the general path's end for committed records: each record, their event, the due index
    -- left, the counters, the SKU's change.
    local out, sts, chs, dls, oids, bodies, dues = {}, {}, {}, {}, {}, {}, {}
    p = 6
    for j = 1, N do
      local v = recs[j]
      local oid = ARGV[p + 3]
      rcall('HSET', KEYS[3 * (j - 1) + 1], 'st', 'committed', 'oid', oid)
      due_move(dues, KEYS[3 * (j - 1) + 2], ids[j])
      sts[j], chs[j], dls[j], oids[j], bodies[j] = 'committed', v[3] or '', v[2] or '0', oid, v[4] or ''
      out[j] = {1, 'committed', oid, bodies[j], dls[j]}
      p = p + 5
    end
    moved_events(sts, ids, chs, dls, oids, bodies)
    write_dues(dues)
    count_moves(N, N, 0)
    publish()
    return out
  end
end

--- @include "include/settle"

-- Every operation read (and checked) before any is done.
local ops = {}
local p = 6
for j = 1, N do
  local op, id, caller = ARGV[p], ARGV[p + 1], ARGV[p + 2]
  if (op ~= 'commit' and op ~= 'release') or not id or not caller or not ARGV[p + 4] then
    return redis.error_reply('ERR decide_at_once: bad operation ' .. j)
  end
  ops[j] = {op = op, id = id, caller = caller, a1 = ARGV[p + 3], a2 = ARGV[p + 4]}
  p = p + 5
end

-- The records, read once each (by id: a later operation of the call on the same id sees the earlier
-- one's decision), and their SKUs: skus[s] a SKU's code, sku_index its s, ids_of[s] the call's ids on it.
-- Operations are taken while their stock lines fit the budget; taken: how many.
local recs, skus, sku_index, ids_of = {}, {}, {}, {}
local taken, lines_taken = N, 0
for j, o in ipairs(ops) do
  local r = recs[o.id]
  local v, count
  if r then
    count = #r.lines
  else
    v = rcall('HMGET', KEYS[3 * (j - 1) + 1], 'st', 'dl', 'ch', 'oid', 'body', 'ln')
    count = 0
    for _ in string.gmatch(v[6] or '', '=') do count = count + 1 end
  end
  if j > 1 and lines_taken + count > BUDGET then
    taken = j - 1
    break
  end
  lines_taken = lines_taken + count
  if not r then
    local key = KEYS[3 * (j - 1) + 1]
    r = {st = v[1], dl = v[2] or '0', ch = v[3] or '', oid = v[4] or '', body = v[5] or '', key = key,
         due = KEYS[3 * (j - 1) + 2], lines = {}}
    recs[o.id] = r
    for sku, q in string.gmatch(v[6] or '', '([^=,]+)=(%d+)') do
      local s = sku_index[sku]
      if not s then
        s = #skus + 1
        skus[s], sku_index[sku], ids_of[s] = sku, s, {}
      end
      r.lines[#r.lines + 1] = s
      local ids = ids_of[s]
      ids[#ids + 1] = o.id
    end
  end
end

-- Binds SKU s (unless it is bound already); the first time, its expired holds go back and the
-- holds entries of every operation of the call on it are read at once.
local bound, ready, dirty = nil, {}, {}
local function use(s)
  if bound ~= s then
    local tag = 'allot:{' .. skus[s] .. '}:'
    K_STOCK, K_HOLDS, K_EXPIRY, K_LEDGER, K_CUSTOMERS = tag .. 'stock', tag .. 'holds', tag .. 'expiry',
      tag .. 'ledger', tag .. 'customers'
    EV_CHANNEL = tag .. 'ev'
    bound = s
  end
  if not ready[s] then
    ready[s] = true
    drop_expired()
    if changed then dirty[s] = true; changed = false end
    holds_entries(ids_of[s])
  end
end

-- The moves are written at the end, in order: record r (of reservation id) from held to `state`;
-- due_at, when given, schedules it in the due index (else it leaves it); retention, when
-- given, is how long the record is kept.
local moves = {}
local function move(r, id, state, due_at, retention)
  moves[#moves + 1] = {r = r, id = id, st = state, due_at = due_at, retention = retention, oid = r.oid}
  r.st = state
end

local function commit(r, id, oid, lease)
  if r.st == 'committed' then return {2, 'committed', r.oid, r.body, r.dl} end
  if r.st ~= 'held' then return {0, r.st, 0} end
  -- Every line must still hold: a hold gone (expired with its deadline) expires the reservation, and
  -- so does the deadline itself, even when every line was committed by an earlier, failed attempt.
  local gone = (tonumber(r.dl) or 0) <= now
  for _, s in ipairs(r.lines) do
    use(s)
    if not holds_entry(id) then gone = true end
  end
  if gone then
    move(r, id, 'expired', now + lease)
    return {0, 'expired', 1}
  end
  for _, s in ipairs(r.lines) do
    use(s)
    local e = holds_entry(id)
    if string.sub(e, 1, 2) == 'h|' then commit_held(id, e) end
  end
  r.oid = oid
  move(r, id, 'committed')
  return {1, 'committed', oid, r.body, r.dl}
end

local function release(r, id, lease, retention)
  if r.st == 'released' then return {2, 'released', r.oid, r.body, r.dl} end
  if r.st ~= 'held' then return {0, r.st, 0} end
  for _, s in ipairs(r.lines) do
    use(s)
    local e = holds_entry(id)
    if e then give_back_held(id, e, 'release') end
  end
  move(r, id, 'released', nil, retention)
  return {1, 'released', r.oid, r.body, r.dl}
end

local out = {}
for j = taken + 1, N do out[j] = {-9} end
for j = 1, taken do
  local o = ops[j]
  local r = recs[o.id]
  if not r.st or r.st == 'rejected' or r.st == 'aborted' then
    out[j] = {-1}
  elseif o.caller ~= '' and o.caller ~= r.ch then
    out[j] = {-3}
  elseif r.st == 'pending' then
    out[j] = {-4}
  elseif o.op == 'commit' then
    out[j] = commit(r, o.id, o.a1, tonumber(o.a2))
  else
    out[j] = release(r, o.id, tonumber(o.a1), tonumber(o.a2))
  end
end

-- The stock lines first, then the records that rest on them, their due entries, the counters and
-- the events (record.lua's to() and record_finish, written once per record).
for s = 1, #skus do
  if ready[s] then
    use(s)
    hold_flush()
    if changed then dirty[s] = true; changed = false end
  end
end
local dues, held, committed, expired = {}, 0, 0, 0
for _, m in ipairs(moves) do
  local r = m.r
  if m.st == 'committed' then
    rcall('HSET', r.key, 'st', 'committed', 'oid', m.oid)
    committed = committed + 1
  elseif m.st == 'expired' then
    rcall('HSET', r.key, 'st', 'expired')
    expired = expired + 1
  else
    -- Released and cleaned at once: every line was given back in this call.
    rcall('HSET', r.key, 'st', m.st, 'cl', 1)
    rcall('EXPIRE', r.key, m.retention)
  end
  held = held + 1
  due_move(dues, r.due, m.id, m.due_at)
end
if #moves > 0 then
  local sts, ids, chs, dls, oids, bodies = {}, {}, {}, {}, {}, {}
  for i, m in ipairs(moves) do
    sts[i], ids[i], chs[i], dls[i], oids[i], bodies[i] = m.st, m.id, m.r.ch, m.r.dl, m.oid, m.r.body
  end
  moved_events(sts, ids, chs, dls, oids, bodies)
end
write_dues(dues)
count_moves(held, committed, expired)
for s = 1, #skus do
  if dirty[s] then
    use(s)
    publish()
  end
end
return out
