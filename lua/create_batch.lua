--[[ create_batch: creates whole reservations, record and every stock line, many in one call:
  the group commit of a Redis where a reservation's record and all its SKUs live together
  (standalone Redis; a cluster uses the saga of reservation + reserve_line, docs/protocol.md).
  The reservations are taken in the order given (their arrival order), each all or nothing: a
  replay of a known id answers its record, a known id with another request answers 3, and
  per-customer limits see every reservation before them in the batch.
  A flash sale's call (every reservation the common cart of hold_plain, new ids, one SKU with
  nothing due and enough units for all) is held by the plain path below, before hold.lua's
  definitions, with exactly the general path's writes (CreationsTest compares the two); anything
  else takes the general path.
  KEYS[1] .. KEYS[5S]  for each SKU s = 1..S, its five keys (stock_prelude's order) at 5(s-1)+1 .. 5s
  KEYS[5S+1] ..        then for each reservation j = 1..N: its record (reservation.lua's KEYS[1]) at 5S+j
  KEYS[5S+N+1]         the due index of every reservation, allot:due (a standalone Redis has one): one
                       entry for all the held records of the call (the end of this script)
  KEYS[5S+N+2]         the counters of one bucket (reservation.lua's KEYS[3]): the whole call counts
                       there (RecordStore.stats only ever reads them summed over the buckets)
  KEYS[5S+N+3]         the outbox: the feed allot:{events}:feed (every event of the call goes there)
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] SKU 1's event channel   (stock_prelude's prefix)
  ARGV[4] S   ARGV[5] N   ARGV[6] seconds a refused reservation's record is kept   ARGV[7] H   ARGV[8] K
  ARGV[9 .. 8+S]  each SKU's event channel, allot:{SKU}:ev
  then H channels, each once however many reservations name it: id, buffer, backorder 0/1,
    C (its locations), C locations in draw order
  then K shapes, each once however many reservations have it (a flash sale's call: one): its channel's
    index h (1..H), customer ('' none), lines for the record ("SKU=qty,..."), body template, tail,
    L (stock lines), L pairs (SKU index, qty)
  then each reservation: id, fingerprint, deadline_ms, head, its shape's index k (1..K).
    The 201 document is head .. the filled template. head is its beginning,
    {"id":"…","channel":"…","state":"held","expiresAt":"…" (text the feed entry carries apart: the
    id, channel and deadline), or '' (the template is the whole document). The body template is the
    rest with "\1<k>\1" where the k-th stock line's allocations go (k from 0); each becomes
    [{"location":"L","qty":n},...] and, when units are backordered, ,"backordered":n after it
    (ReservationDocs writes the template, and the same document itself on the saga's path). A
    template whose one such place is the first line's comes cut there: the text before it, then tail
    the text after (no search); otherwise tail is ''.
  Returns one entry per reservation, in order:
    body                        created and held (a string, not a table: the common answer, one a
                                reservation): the record is held and its body is `body`
    {2, state, status, body, refusal, lines}  the same request again: the record as it stands
                                (a refused record has status 409, body '' and its refusal, which
                                lines the record's stock lines "SKU=qty,..." up with)
    {3}                         the id belongs to another request: nothing changed
    {0, refusal}                refused, nothing held; the record is kept as rejected with the
                                refusal, for the replay
    where refusal is one "code:value" per stock line, comma separated: 1:available (could be
    held; available before), 0:available (not enough), 3:allowed (the customer's limit)
  Events  one SPUBLISH (Redis 7+; PUBLISH before) and one 'stock' outbox entry per SKU that changed,
          after the whole batch; the reservation.held events of the call in one 'resc' outbox entry
          (docs/outbound.md): their ids, channels and deadlines, and each distinct rest of their
          documents once (a flash sale's call: one), which the server puts a head before again ]]
--- @include "include/stock_prelude"
local S, N, H, K = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7]), tonumber(ARGV[8])
local REFUSED_RETENTION = tonumber(ARGV[6])
local NOW = ARGV[1]
if not PREFIX_OK or not S or not N or not H or not K or not REFUSED_RETENTION or #KEYS ~= 5 * S + N + 3 then
  return redis.error_reply('ERR create_batch: bad arguments')
end

-- What both ways of holding write last for the call's held records: each record; their
-- reservation.held events in one 'resc' entry (ids, channels, deadlines and each one's rest index
-- comma separated, the rests newline separated: JSON text never holds a raw newline;
-- docs/outbound.md); one due entry; the counters.
local function write_held(key, fp, channel, deadline, ln, body)
  rcall('HSET', key, 'st', 'held', 'fp', fp, 'ch', channel, 'dl', deadline, 'ln', ln, 'cr', NOW, 'sc', '201',
    'body', body)
end
local function held_events(ids, channels, deadlines, rests, x)
  rcall('XADD', K_OUT, '*', 't', 'resc', 'st', 'held', 'r', table.concat(ids, ','), 'c', table.concat(channels, ','),
    'd', table.concat(deadlines, ','), 'x', rests, 'i', table.concat(x, ','))
end
-- due: {deadline, record key, ...} for the n held records; dl and id: one of them, for n = 1.
-- One due entry for them: '*' and their record keys, comma separated, scored by the earliest
-- deadline among them (one zset insert a call, not one a reservation). sweep_claim opens it when it
-- comes due: each record still held then gets an entry of its own, scored by its deadline; a record
-- committed or released meanwhile needs none. One held record: its own entry. The counters are only
-- ever read summed over the buckets (RecordStore.stats), so the whole call counts in the first
-- reservation's bucket: two writes a call, not two a bucket.
local function due_and_counters(due, n, dl, id)
  if n > 1 then
    rcall('ZADD', KEYS[5 * S + N + 1], group_of(due))
  elseif n == 1 then
    rcall('ZADD', KEYS[5 * S + N + 1], dl, id)
  end
  if n > 0 then
    rcall('HINCRBY', KEYS[5 * S + N + 2], 'held', n)
    rcall('HINCRBY', KEYS[5 * S + N + 2], 'created', n)
  end
end

-- A flash sale's call: every reservation the common cart (one line of one SKU, a channel of one
-- location, no customer), none of their ids known or repeated, the SKU without an allocation of
-- that channel and without expired holds, and enough units for all of them. Each is then held
-- whole, in order, with exactly the writes hold_plain, hold_flush and the end of this script make
-- for it (CreationsTest compares the two paths), without the general path's per-reservation tables
-- or hold.lua's definitions: a flash sale's calls spend about a quarter less time in the script
-- (docs/benchmarks.md, twelfth pass). Anything else takes the general path below; nothing is written
-- before this is known. With one SKU, stock_prelude's keys and event channel are already that SKU's.
do
  local p, plain = 9 + S, S == 1 and H == 1 and K == 1 and #ARGV == 22 + 5 * N
  -- The channel: id, buffer, backorder, C = 1, its location; the shape: channel 1, customer '', the
  -- record's lines, the template, its tail, L = 1, SKU 1 and the quantity; then the reservations.
  plain = plain and ARGV[p + 3] == '1' and ARGV[p + 5] == '1' and ARGV[p + 6] == '' and ARGV[p + 9] ~= ''
    and ARGV[p + 10] == '1' and ARGV[p + 11] == '1'
  local qty = plain and tonumber(ARGV[p + 12])
  local seen = {}
  if qty then
    for j = 1, N do
      local id = ARGV[p + 13 + 5 * (j - 1)]
      if seen[id] then qty = nil break end
      seen[id] = true
    end
  end
  if qty and rcall('EXISTS', unpack(KEYS, 6, 5 + N)) == 0
      and #rcall('ZRANGEBYSCORE', K_EXPIRY, '-inf', now, 'LIMIT', 0, 1) == 0 then
    local channel, buffer, loc = ARGV[p], tonumber(ARGV[p + 1]), ARGV[p + 4]
    local v = rcall('HMGET', K_STOCK, loc .. '|on', loc .. '|res', loc .. '|com', loc .. '|ar', loc .. '|q', 'ver',
      'lseq', 'alloc:' .. channel)
    local on, res, com, ar, q = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0,
      tonumber(v[5]) or 0
    if not v[8] and buffer and on - res - com - ar - buffer >= N * qty then
      local ln, qs = ARGV[p + 7], tostring(qty)
      local rest = ARGV[p + 8] .. '[{"location":"' .. loc .. '","qty":' .. qs .. '}]' .. ARGV[p + 9]
      local entry_tail = '|' .. channel .. '|' .. loc .. '=' .. qs .. '||0'
      local holds, expiry, booked, due, out = {}, {}, {}, {}, {}
      local ids, channels, deadlines, rest_of = {}, {}, {}, {}
      local a = p + 13
      for j = 1, N do
        local id, deadline = ARGV[a], ARGV[a + 2]
        holds[2 * j - 1], holds[2 * j] = id, 'h|' .. deadline .. entry_tail
        expiry[2 * j - 1], expiry[2 * j] = deadline, id
        due[2 * j - 1], due[2 * j] = deadline, KEYS[5 + j]
        booked[j] = id .. '=' .. qs
        ids[j], channels[j], deadlines[j], rest_of[j] = id, channel, deadline, '1'
        out[j] = ARGV[a + 3] .. rest
        a = a + 5
      end
      res = res + N * qty
      local lseq = (tonumber(v[7]) or 0) + N
      -- hold_flush's writes for one run of holds at one location: one ledger entry (compact for
      -- several), the counts, the holds, one expiry entry (a group for several).
      local entry = ledger_entry(lseq, 'hold', loc, ids[N], on, res, com, q, nil,
        N > 1 and (',"holds":"' .. table.concat(booked, ',') .. '"') or nil)
      rcall('HSET', K_STOCK, 'ver', (tonumber(v[6]) or 0) + N, 'lseq', lseq, loc .. '|res', res)
      rcall('HSET', K_HOLDS, unpack(holds))
      if N > 1 then rcall('ZADD', K_EXPIRY, group_of(expiry)) else rcall('ZADD', K_EXPIRY, expiry[1], expiry[2]) end
      if rcall('LPUSH', K_LEDGER, entry) > LEDGER_MAX then rcall('LTRIM', K_LEDGER, 0, LEDGER_MAX - 1) end
      -- Then the end of the script's writes for held records only: the records, their event, the
      -- due entry (a group for several), the counters, the SKU's change.
      a = p + 13
      for j = 1, N do
        write_held(KEYS[5 + j], ARGV[a + 1], channel, ARGV[a + 2], ln, out[j])
        a = a + 5
      end
      held_events(ids, channels, deadlines, rest, rest_of)
      due_and_counters(due, N, deadlines[1], ids[1])
      publish()
      return out
    end
  end
end

--- @include "include/hold"

local more, dirty = {}, {}
-- Binds SKU s (unless it is bound already: a hot SKU's batch binds it once).
local bound
local function bind(s)
  if bound ~= s then
    bind_sku(5 * (s - 1) + 1, ARGV[8 + s])
    bound = s
  end
end
-- Binds SKU s; its expired holds go back the first time the batch touches it.
local function use_sku(s)
  bind(s)
  if more[s] == nil then more[s] = drop_expired() end
end
local function leave_sku(s)
  if changed then dirty[s] = true; changed = false end
end

-- A stock line's allocations as the 201 body shows them (and "backordered" after them).
local function allocations_json(list, bo)
  local json
  if #list == 2 then
    json = '[{"location":"' .. list[1] .. '","qty":' .. number_text(list[2]) .. '}]'
  else
    local parts = {}
    for i = 1, #list, 2 do
      parts[#parts + 1] = '{"location":"' .. list[i] .. '","qty":' .. number_text(list[i + 1]) .. '}'
    end
    json = '[' .. table.concat(parts, ',') .. ']'
  end
  if bo > 0 then json = json .. ',"backordered":' .. number_text(bo) end
  return json
end

-- The template with each "\1<k>\1" replaced by the k-th stock line's allocations (lists[k + 1],
-- bos[k + 1]). Plain finds, and one concatenation for the common one-line template: this runs for
-- every reservation.
local function fill(template, lists, bos, L)
  local out, pos = nil, 1
  while true do
    local a = string.find(template, '\1', pos, true)
    if not a then break end
    local b = string.find(template, '\1', a + 1, true)
    local k = b == a + 2 and string.byte(template, a + 1) - 47 or tonumber(string.sub(template, a + 1, b - 1)) + 1
    -- The columns hold earlier reservations' lines past L: a place beyond this one's is a bug, never filled.
    if not k or k < 1 or k > L then
      error('create_batch: a template names stock line ' .. tostring(k) .. ' of ' .. L)
    end
    local json = allocations_json(lists[k], bos[k])
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
-- of memory) then leaves no record without its holds. The records, r = 1..R, in columns (no table
-- per record): key, id, fingerprint, channel, deadline, lines, body ('' refused) and refusal (false
-- when held). made: a record of this batch by its id (its r), for a later reservation of the batch
-- with the same id; due: the held ones' deadlines and record keys (pairs), one_dl, one_id: a held
-- record's deadline and id (the due entries: see the end).
local rec_key, rec_id, rec_fp, rec_ch, rec_dl, rec_ln, rec_body, rec_rf = {}, {}, {}, {}, {}, {}, {}, {}
local R, made, due, held, one_dl, one_id = 0, {}, {}, 0, nil, nil
-- The distinct rests of the held reservations' documents, in first-seen order, and each held record's
-- (rec_x[r]: its rest's index in rests).
local rests, rest_index, rec_x, X = {}, {}, {}, 0
local function add_record(key, id, fp, channel, deadline, ln, body, refusal)
  R = R + 1
  rec_key[R], rec_id[R], rec_fp[R], rec_ch[R], rec_dl[R], rec_ln[R], rec_body[R], rec_rf[R] =
    key, id, fp, channel, deadline, ln, body, refusal
  made[id] = R
end

-- A record this call made, as an HMGET of fp, st, sc, body, rf, ln reads it (a later reservation of
-- the call with the same id: rare, so it is worked out only then).
local function as_known(r)
  if rec_rf[r] then return {rec_fp[r], 'rejected', '409', '', rec_rf[r], rec_ln[r]} end
  return {rec_fp[r], 'held', '201', rec_body[r], '', rec_ln[r]}
end

-- Most batches hold only new ids: one EXISTS answers for all their records, and only a batch with
-- a known id among them reads records one by one.
local any_known = rcall('EXISTS', unpack(KEYS, 5 * S + 1, 5 * S + N)) > 0
local NONE = {}

local p = 9 + S
local channels = {}
for h = 1, H do
  local C = tonumber(ARGV[p + 3])
  local locs = {}
  for c = 1, C do locs[c] = ARGV[p + 3 + c] end
  -- one: the channel's one location (false for several), for hold_plain; json: its allocations text by qty.
  channels[h] = {id = ARGV[p], buffer = tonumber(ARGV[p + 1]), backorder = ARGV[p + 2] == '1', locs = locs,
                 one = C == 1 and locs[1], json = {}}
  p = p + 4 + C
end

-- The shapes: what reservations of the call share, read once each (its stock lines' SKU indexes and
-- quantities as numbers, s and qty).
local shapes = {}
for k = 1, K do
  local L = tonumber(ARGV[p + 5])
  local ls, lq = {}, {}
  for i = 1, L do ls[i], lq[i] = tonumber(ARGV[p + 4 + 2 * i]), tonumber(ARGV[p + 5 + 2 * i]) end
  local ch = channels[tonumber(ARGV[p])]
  if not ch or not L then return redis.error_reply('ERR create_batch: bad arguments') end
  shapes[k] = {ch = ch, customer = ARGV[p + 1], ln = ARGV[p + 2], template = ARGV[p + 3], tail = ARGV[p + 4], L = L,
               s = ls, qty = lq}
  p = p + 6 + 2 * L
end
if #ARGV ~= p - 1 + 5 * N then return redis.error_reply('ERR create_batch: bad arguments') end

-- A reservation's decisions and allocations: columns reused from one reservation to the next, read
-- up to its L.
local decisions, lists, bos = {}, {}, {}
local out = {}
for j = 1, N do
  -- The deadline stays the string it came as wherever it is written (a number would be formatted
  -- again for each write: most of a small reservation's cost is such string work).
  local id, fp, deadline, head, shape = ARGV[p], ARGV[p + 1], ARGV[p + 2], ARGV[p + 3], shapes[tonumber(ARGV[p + 4])]
  p = p + 5
  if not shape then return redis.error_reply('ERR create_batch: bad arguments') end
  local ch = shape.ch
  local channel, buffer, backorder, locs = ch.id, ch.buffer, ch.backorder, ch.locs
  local customer, ln, template, tail, L = shape.customer, shape.ln, shape.template, shape.tail, shape.L
  local line_s, line_qty = shape.s, shape.qty

  local K_REC = KEYS[5 * S + j]
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
    -- The common cart first: one line, held whole at the channel's one location (hold_plain), its
    -- body the cut template around that allocation. Anything else (several lines or locations, a
    -- customer, an allocation, too few units) is decided below, the general way. rest: the held
    -- reservation's 201 document after its head (nil when refused).
    local qs, rest
    if L == 1 and ch.one and customer == '' and tail ~= '' then
      local s = line_s[1]
      use_sku(s)
      qs = hold_plain(id, line_qty[1], buffer, ch.one, deadline, channel)
      leave_sku(s)
    end
    if qs then
      local json = ch.json[qs]
      if not json then
        json = allocations_json({ch.one, line_qty[1]}, 0)
        ch.json[qs] = json
      end
      rest = template .. json .. tail
    else
      -- Decide every line first; hold them only when every one can be held. No record means no
      -- hold under this id: a record is written with its holds and outlives them.
      local refused = false
      for k = 1, L do
        local s = line_s[k]
        use_sku(s)
        local d
        d, more[s] = decide_hold(id, line_qty[k], buffer, customer, backorder, locs, more[s], false, channel)
        decisions[k] = d
        refused = refused or d.code ~= 1
        leave_sku(s)
      end
      if refused then
        local rf = {}
        for k = 1, L do
          local d = decisions[k]
          if d.code == 3 then rf[k] = '3:' .. d.allowed else rf[k] = (d.code == 0 and '0:' or '1:') .. d.total end
        end
        local refusal = table.concat(rf, ',')
        add_record(K_REC, id, fp, channel, deadline, ln, '', refusal)
        out[j] = {0, refusal}
      else
        for k = 1, L do
          local s, d = line_s[k], decisions[k]
          use_sku(s)
          lists[k], bos[k] = apply_hold(id, d, line_qty[k], deadline, channel, customer, locs), d.bo
          leave_sku(s)
        end
        if tail == '' then
          rest = fill(template, lists, bos, L)
        elseif L < 1 then
          error('create_batch: a cut template for a reservation without stock lines')
        else
          -- The common cart: one line; the template came cut around its place.
          rest = template .. allocations_json(lists[1], bos[1]) .. tail
        end
      end
    end
    if rest then
      local body = head .. rest
      add_record(K_REC, id, fp, channel, deadline, ln, body, false)
      -- The feed entry keeps each distinct rest once (a whole document when there is no head).
      local x = rest_index[rest]
      if not x then
        X = X + 1
        rests[X] = rest
        x = X
        rest_index[rest] = x
      end
      rec_x[R] = x
      due[#due + 1] = deadline
      due[#due + 1] = K_REC
      one_dl, one_id = deadline, id
      held = held + 1
      out[j] = body
    end
  end
end

-- The holds first, then the records that rest on them, their due entries and the counters.
for s = 1, S do
  bind(s)
  hold_flush()
  leave_sku(s)
end
local ev_ids, ev_channels, ev_deadlines, ev_x, E = {}, {}, {}, {}, 0
for r = 1, R do
  if rec_rf[r] then
    rcall('HSET', rec_key[r], 'st', 'rejected', 'fp', rec_fp[r], 'ch', rec_ch[r], 'dl', rec_dl[r], 'ln', rec_ln[r],
      'cl', '1', 'cr', NOW, 'sc', '409', 'body', '', 'rf', rec_rf[r])
    rcall('EXPIRE', rec_key[r], REFUSED_RETENTION)
  else
    write_held(rec_key[r], rec_fp[r], rec_ch[r], rec_dl[r], rec_ln[r], rec_body[r])
    E = E + 1
    ev_ids[E], ev_channels[E], ev_deadlines[E], ev_x[E] = rec_id[r], rec_ch[r], rec_dl[r], rec_x[r]
  end
end
if E > 0 then held_events(ev_ids, ev_channels, ev_deadlines, table.concat(rests, '\n'), ev_x) end
due_and_counters(due, held, one_dl, one_id)
for s = 1, S do
  if dirty[s] then
    bind(s)
    publish()
  end
end
return out
