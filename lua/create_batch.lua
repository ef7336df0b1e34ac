--[[ create_batch: creates whole reservations, record and every stock line, many in one call:
  the group commit of a Redis where a reservation's record and all its SKUs live together
  (standalone Redis; a cluster uses the saga of reservation + reserve_line, docs/protocol.md).
  The reservations are taken in the order given (their arrival order), each all or nothing: a
  replay of a known id answers its record, a known id with another request answers 3, and
  per-customer limits see every reservation before them in the batch.
  KEYS[1] .. KEYS[5S]  for each SKU s = 1..S, its five keys (stock_prelude's order) at 5(s-1)+1 .. 5s
  KEYS[5S+1] ..        then for each reservation j = 1..N: its record and its bucket's due index
                       (reservation.lua's KEYS[1..2]) at 5S+2(j-1)+1 .. 5S+2j
  KEYS[5S+2N+1]        the counters of one bucket (reservation.lua's KEYS[3]): the whole call counts
                       there (RecordStore.stats only ever reads them summed over the buckets)
  KEYS[5S+2N+2]        the outbox: the feed allot:{events}:feed (every event of the call goes there)
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] SKU 1's event channel   (stock_prelude's prefix)
  ARGV[4] S   ARGV[5] N   ARGV[6] seconds a refused reservation's record is kept   ARGV[7] H
  ARGV[8 .. 7+S]  each SKU's event channel, allot:{SKU}:ev
  then H channels, each once however many reservations name it: id, buffer, backorder 0/1,
    C (its locations), C locations in draw order
  then each reservation: id, fingerprint, its channel's index h (1..H), deadline_ms, customer ('' none),
    lines for the record ("SKU=qty,..."), body template, L (stock lines), L pairs (SKU index, qty).
    The body template is the 201 document with "\1<k>\1" where the k-th stock line's allocations
    go (k from 0); each becomes [{"location":"L","qty":n},...] and, when units are backordered,
    ,"backordered":n after it (ReservationDocs writes the template, and the same document itself
    on the saga's path).
  Returns one entry per reservation, in order:
    {1, body}                   created and held: the record is held and its body is `body`
    {2, state, status, body, refusal, lines}  the same request again: the record as it stands
                                (a refused record has status 409, body '' and its refusal, which
                                lines the record's stock lines "SKU=qty,..." up with)
    {3}                         the id belongs to another request: nothing changed
    {0, refusal}                refused, nothing held; the record is kept as rejected with the
                                refusal, for the replay
    where refusal is one "code:value" per stock line, comma separated: 1:available (could be
    held; available before), 0:available (not enough), 3:allowed (the customer's limit)
  Events  one SPUBLISH (Redis 7+; PUBLISH before) and one 'stock' outbox entry per SKU that changed,
          after the whole batch; the reservation.held events of the call in one outbox entry ('res'
          for one reservation, 'resb' for several: docs/outbound.md) ]]
--- @include "include/hold"
local S, N, H = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7])
local REFUSED_RETENTION = tonumber(ARGV[6])
local NOW = ARGV[1]
if not PREFIX_OK or not S or not N or not H or not REFUSED_RETENTION or #KEYS ~= 5 * S + 2 * N + 2 then
  return redis.error_reply('ERR create_batch: bad arguments')
end

local more, dirty = {}, {}
-- Binds SKU s; its expired holds go back the first time the batch touches it.
local function use_sku(s)
  bind_sku(5 * (s - 1) + 1, ARGV[7 + s])
  if more[s] == nil then more[s] = drop_expired() end
end
local function leave_sku(s)
  if changed then dirty[s] = true; changed = false end
end

-- A stock line's allocations as the 201 body shows them (and "backordered" after them).
local function allocations_json(al)
  local list, json = al.list, nil
  if #list == 2 then
    json = '[{"location":"' .. list[1] .. '","qty":' .. list[2] .. '}]'
  else
    local parts = {}
    for i = 1, #list, 2 do
      parts[#parts + 1] = '{"location":"' .. list[i] .. '","qty":' .. list[i + 1] .. '}'
    end
    json = '[' .. table.concat(parts, ',') .. ']'
  end
  if al.bo > 0 then json = json .. ',"backordered":' .. al.bo end
  return json
end

-- The template with each "\1<k>\1" replaced by the k-th stock line's allocations. Plain finds,
-- and one concatenation for the common one-line template: this runs for every reservation.
local function fill(template, allocs)
  local out, pos = nil, 1
  while true do
    local a = string.find(template, '\1', pos, true)
    if not a then break end
    local b = string.find(template, '\1', a + 1, true)
    local json = allocations_json(allocs[tonumber(string.sub(template, a + 1, b - 1)) + 1])
    if pos == 1 and not string.find(template, '\1', b + 1, true) then
      return string.sub(template, 1, a - 1) .. json .. string.sub(template, b + 1)
    end
    out = out or {}
    out[#out + 1] = string.sub(template, pos, a - 1)
    out[#out + 1] = json
    pos = b + 1
  end
  if not out then return template end
  out[#out + 1] = string.sub(template, pos)
  return table.concat(out)
end

-- What the batch writes besides the holds, kept until every hold is written (the end of the
-- script): a runtime error half-way (a bug; Redis refuses only a script's first write when out
-- of memory) then leaves no record without its holds. made: the records of this batch by id,
-- for a later reservation of the batch with the same id (its fields in records); dues: each bucket's due entries.
local made, records, dues, held = {}, {}, {}, 0

-- A record this call made, as an HMGET of fp, st, sc, body, rf, ln reads it (a later reservation of
-- the call with the same id: rare, so it is worked out only then).
local function as_known(fields)
  local f = {}
  for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end
  return {f.fp, f.st, f.sc, f.body, f.rf or '', f.ln}
end

-- Most batches hold only new ids: one EXISTS answers for all their records, and only a batch with
-- a known id among them reads records one by one.
local record_keys = {}
for j = 1, N do record_keys[j] = KEYS[5 * S + 2 * (j - 1) + 1] end
local any_known = rcall('EXISTS', unpack(record_keys)) > 0
local NONE = {}

local p = 8 + S
local channels = {}
for h = 1, H do
  local C = tonumber(ARGV[p + 3])
  local locs = {}
  for c = 1, C do locs[c] = ARGV[p + 3 + c] end
  channels[h] = {id = ARGV[p], buffer = tonumber(ARGV[p + 1]), backorder = ARGV[p + 2] == '1', locs = locs}
  p = p + 4 + C
end

local out = {}
for j = 1, N do
  local id, fp, ch = ARGV[p], ARGV[p + 1], channels[tonumber(ARGV[p + 2])]
  local channel, buffer, backorder, locs = ch.id, ch.buffer, ch.backorder, ch.locs
  -- The deadline stays the string it came as wherever it is written (a number would be formatted
  -- again for each write: most of a small reservation's cost is such string work).
  local deadline, customer, ln, template = ARGV[p + 3], ARGV[p + 4], ARGV[p + 5], ARGV[p + 6]
  local L = tonumber(ARGV[p + 7])
  local lines = {}
  for k = 1, L do
    lines[k] = {s = tonumber(ARGV[p + 6 + 2 * k]), qty = tonumber(ARGV[p + 7 + 2 * k])}
  end
  p = p + 8 + 2 * L

  local base = 5 * S + 2 * (j - 1)
  local K_REC, K_DUE = KEYS[base + 1], KEYS[base + 2]
  local prior = made[id]
  local known = (prior and as_known(prior)) or (any_known and rcall('HMGET', K_REC, 'fp', 'st', 'sc', 'body', 'rf', 'ln'))
    or NONE
  if known[1] then
    if known[1] ~= fp then
      out[j] = {3}
    else
      out[j] = {2, known[2] or '', tonumber(known[3]) or 0, known[4] or '', known[5] or '', known[6] or ''}
    end
  else
    -- Decide every line first; hold them only when every one can be held. No record means no
    -- hold under this id: a record is written with its holds and outlives them.
    local decisions, refused = {}, false
    for k, l in ipairs(lines) do
      use_sku(l.s)
      local d
      d, more[l.s] = decide_hold(id, l.qty, buffer, customer, backorder, locs, more[l.s], false, channel)
      decisions[k] = d
      refused = refused or d.code ~= 1
      leave_sku(l.s)
    end
    if refused then
      local rf = {}
      for k, d in ipairs(decisions) do
        if d.code == 3 then rf[k] = '3:' .. d.allowed else rf[k] = (d.code == 0 and '0:' or '1:') .. d.total end
      end
      local refusal = table.concat(rf, ',')
      records[#records + 1] = {K_REC, {'st', 'rejected', 'fp', fp, 'ch', channel, 'dl', deadline, 'ln', ln, 'cl', '1',
        'cr', NOW, 'sc', '409', 'body', '', 'rf', refusal}}
      made[id] = records[#records][2]
      out[j] = {0, refusal}
    else
      local allocs = {}
      for k, l in ipairs(lines) do
        use_sku(l.s)
        local d = decisions[k]
        allocs[k] = {list = apply_hold(id, d, l.qty, deadline, channel, customer, locs), bo = d.bo}
        leave_sku(l.s)
      end
      local body = fill(template, allocs)
      records[#records + 1] = {K_REC, {'st', 'held', 'fp', fp, 'ch', channel, 'dl', deadline, 'ln', ln, 'cr', NOW,
        'sc', '201', 'body', body}, id}
      made[id] = records[#records][2]
      local due = dues[K_DUE]
      if not due then
        due = {}
        dues[K_DUE] = due
      end
      due[#due + 1] = deadline
      due[#due + 1] = id
      held = held + 1
      out[j] = {1, body}
    end
  end
end

-- The holds first, then the records that rest on them, their due entries and the counters.
for s = 1, S do
  bind_sku(5 * (s - 1) + 1, ARGV[7 + s])
  hold_flush()
  leave_sku(s)
end
-- Their reservation.held events: one 'res' entry for one, else one 'resb' entry for all of them
-- (ids, channels and deadlines comma separated, bodies newline separated: JSON text never holds a
-- raw newline; lua/README.md).
local ev_ids, ev_channels, ev_deadlines, ev_bodies = {}, {}, {}, {}
for _, r in ipairs(records) do
  local f = r[2]
  rcall('HSET', r[1], unpack(f))
  if f[2] == 'rejected' then
    rcall('EXPIRE', r[1], REFUSED_RETENTION)
  else
    local e = #ev_ids + 1
    ev_ids[e], ev_channels[e], ev_deadlines[e], ev_bodies[e] = r[3], f[6], f[8], f[16]
  end
end
if #ev_ids == 1 then
  rcall('XADD', K_OUT, '*', 't', 'res', 'st', 'held', 'r', ev_ids[1], 'c', ev_channels[1], 'd', ev_deadlines[1],
    'o', '', 'b', ev_bodies[1])
elseif #ev_ids > 1 then
  rcall('XADD', K_OUT, '*', 't', 'resb', 'st', 'held', 'r', table.concat(ev_ids, ','), 'c',
    table.concat(ev_channels, ','), 'd', table.concat(ev_deadlines, ','), 'b', table.concat(ev_bodies, '\n'))
end
for key, members in pairs(dues) do rcall('ZADD', key, unpack(members)) end
-- The counters are only ever read summed over the buckets (RecordStore.stats), so the whole
-- batch counts in the first reservation's bucket: two writes per batch, not two per bucket.
if held > 0 then
  rcall('HINCRBY', KEYS[5 * S + 2 * N + 1], 'held', held)
  rcall('HINCRBY', KEYS[5 * S + 2 * N + 1], 'created', held)
end
for s = 1, S do
  if dirty[s] then
    bind_sku(5 * (s - 1) + 1, ARGV[7 + s])
    publish()
  end
end
return out
