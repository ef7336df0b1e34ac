--[[ decide_at_once: reservations' commits and releases, each the record's decision and every
  stock line's change in one atomic step, many in one call (group commit), where the records and
  all their SKUs live on one Redis (standalone; a cluster runs reservation + commit_line /
  release_line, docs/protocol.md). The operations are taken in the order given.
  KEYS[1] .. KEYS[5S]  for each SKU s = 1..S, its five keys (stock_prelude's order) at 5(s-1)+1 .. 5s
  KEYS[5S+1] ..        then for each operation j = 1..N: its record, its bucket's due index and counters
                       (reservation.lua's KEYS[1..3]) at 5S+3(j-1)+1 .. 5S+3j
  KEYS[5S+3N+1]        the outbox: the feed allot:{events}:feed (every event of the call goes there)
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] SKU 1's event channel  (stock_prelude's prefix)
  ARGV[4] S   ARGV[5] N   ARGV[6 .. 5+S] each SKU's event channel
  then each operation: op (commit | release), reservation id, L (its SKUs), L SKU indices, then
    commit   order id ('' for none), lease_ms
    release  lease_ms, retention_s
  Returns one entry per operation, in order:
    commit   {1, oid} committed, every line with it | {2, oid} already committed |
             {0, 'expired', 1} the deadline passed or a line's hold was gone: this call expired the
             record (due at now + lease) and the caller settles it | {0, st} any other state | {-1} no record
    release  {1} released, every line given back, the record cleaned (kept retention_s) |
             {2} already released | {0, st} any other state | {-1} no record
  Events  one SPUBLISH (Redis 7+; PUBLISH before) and one 'stock' outbox entry per SKU that changed,
          after the whole batch; a 'res' outbox entry per record moved (committed, released, expired) ]]
--- @include "include/stock_prelude"
--- @include "include/record"
local S, N = tonumber(ARGV[4]), tonumber(ARGV[5])
if not PREFIX_OK or not S or not N or #KEYS ~= 5 * S + 3 * N + 1 then
  return redis.error_reply('ERR decide_at_once: bad arguments')
end

local dirty = {}
-- Runs fn(s) with each of `skus` bound in turn, noting which changed.
local function each_sku(skus, fn)
  for _, s in ipairs(skus) do
    bind_sku(5 * (s - 1) + 1, ARGV[5 + s])
    changed = false
    fn(s)
    if changed then dirty[s] = true end
  end
end

local function commit(id, skus, oid, lease)
  if st ~= 'held' then return record_commit(now, oid, lease) end
  -- Every line must still hold: a hold gone (expired with its deadline) expires the reservation.
  local entries, gone = {}, false
  each_sku(skus, function(s)
    drop_expired()
    entries[s] = rcall('HGET', K_HOLDS, id)
    if not entries[s] then gone = true end
  end)
  if gone then
    to('expired', now + lease)
    return {0, 'expired', 1}
  end
  local decided = record_commit(now, oid, lease)
  if decided[1] ~= 1 then return decided end
  each_sku(skus, function(s)
    if parse_entry(entries[s]) == 'h' then
      commit_entry(id, entries[s])
      rcall('HINCRBY', K_STOCK, 'ver', 1)
    end
  end)
  return decided
end

local function release(id, skus, lease, retention)
  if st == 'released' then return {2} end
  if st ~= 'held' then return {0, st} end
  to('released', now + lease)
  each_sku(skus, function(s)
    drop_expired()
    local e = rcall('HGET', K_HOLDS, id)
    if e then
      give_back(id, e, 'release')
      rcall('HINCRBY', K_STOCK, 'ver', 1)
    end
  end)
  return record_finish(retention)
end

-- Every operation read (and checked) before any is done.
local ops = {}
local p = 6 + S
for j = 1, N do
  local op, id, L = ARGV[p], ARGV[p + 1], tonumber(ARGV[p + 2])
  if (op ~= 'commit' and op ~= 'release') or not id or not L then
    return redis.error_reply('ERR decide_at_once: bad operation ' .. j)
  end
  local skus = {}
  for k = 1, L do skus[k] = tonumber(ARGV[p + 2 + k]) end
  ops[j] = {op = op, id = id, skus = skus, a1 = ARGV[p + 3 + L], a2 = ARGV[p + 4 + L]}
  p = p + 5 + L
end

local out = {}
for j, o in ipairs(ops) do
  local base = 5 * S + 3 * (j - 1)
  bind_record(KEYS[base + 1], KEYS[base + 2], KEYS[base + 3], o.id, K_OUT)
  st = rcall('HGET', K_REC, 'st')
  if not st then
    out[j] = {-1}
  elseif o.op == 'commit' then
    out[j] = commit(o.id, o.skus, o.a1, tonumber(o.a2))
  else
    out[j] = release(o.id, o.skus, tonumber(o.a1), tonumber(o.a2))
  end
end

for s = 1, S do
  if dirty[s] then
    bind_sku(5 * (s - 1) + 1, ARGV[5 + s])
    publish()
  end
end
return out
