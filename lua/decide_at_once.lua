--[[ decide_at_once: a reservation's commit or release, the record's decision and every stock
  line's change in one atomic call, where the record and all its SKUs live on one Redis
  (standalone; a cluster runs reservation + commit_line / release_line, docs/protocol.md).
  KEYS[1] allot:{rNN}:res:<id>   KEYS[2] allot:{rNN}:due   KEYS[3] allot:{rNN}:stats  (reservation.lua's)
  KEYS[4 .. 3+5S]  the five keys of each of the record's S SKUs (stock_prelude's order)
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] the first SKU's event channel  (stock_prelude's prefix)
  ARGV[4] op: commit | release   ARGV[5] reservation id   ARGV[6] S
  ARGV[7 .. 6+S] each SKU's event channel, then per op:
    commit   order id ('' for none), lease_ms
             -> {1, oid} committed, every line with it | {2, oid} already committed |
                {0, 'expired'} the deadline passed or a line's hold was gone: the record is expired now
                (due at now + lease) and the caller settles it | {0, st} any other state | {-1} no record
    release  lease_ms, retention_s
             -> {1} released, every line given back, the record cleaned (kept retention_s) |
                {2} already released | {0, st} any other state | {-1} no record
  Events  one SPUBLISH (Redis 7+; PUBLISH before) per SKU that changed ]]
--- @include "include/stock_prelude"
--- @include "include/record"
local op, id, S = ARGV[4], ARGV[5], tonumber(ARGV[6])
if not PREFIX_OK or not id or not S or #KEYS ~= 3 + 5 * S then
  return redis.error_reply('ERR decide_at_once: bad arguments')
end
local A = 7 + S  -- the op's own arguments
bind_record(KEYS[1], KEYS[2], KEYS[3], id)

-- Runs fn(s) with SKU s bound, then publishes its event if it changed.
local function each_sku(fn)
  for s = 1, S do
    bind_sku(3 + 5 * (s - 1) + 1, ARGV[6 + s])
    changed = false
    fn(s)
    if changed then publish() end
  end
end

st = rcall('HGET', K_REC, 'st')
if not st then return {-1} end

if op == 'commit' then
  local oid, lease = ARGV[A], tonumber(ARGV[A + 1])
  if st ~= 'held' then return record_commit(now, oid, lease) end
  -- Every line must still hold: a hold gone (expired with its deadline) expires the reservation.
  local entries, gone = {}, false
  each_sku(function(s)
    drop_expired()
    entries[s] = rcall('HGET', K_HOLDS, id)
    if not entries[s] then gone = true end
  end)
  if gone then
    to('expired', now + lease)
    return {0, 'expired'}
  end
  local decided = record_commit(now, oid, lease)
  if decided[1] ~= 1 then return decided end
  each_sku(function(s)
    if parse_entry(entries[s]) == 'h' then
      commit_entry(id, entries[s])
      rcall('HINCRBY', K_STOCK, 'ver', 1)
    end
  end)
  return decided
end

if op == 'release' then
  local lease, retention = tonumber(ARGV[A]), tonumber(ARGV[A + 1])
  if st == 'released' then return {2} end
  if st ~= 'held' then return {0, st} end
  to('released', now + lease)
  each_sku(function(s)
    drop_expired()
    local e = rcall('HGET', K_HOLDS, id)
    if e then
      give_back(id, e, 'release')
      rcall('HINCRBY', K_STOCK, 'ver', 1)
    end
  end)
  return record_finish(retention)
end

return redis.error_reply('ERR decide_at_once: unknown op ' .. tostring(op))
