--[[ record: the reservation record's state moves of reservation.lua (one record, every op; decide_at_once
  makes the same moves for many records, written once each at the end of its call). The record's
  fields are listed in reservation.lua's header.
  Provides
    rcall                              redis.call
    K_REC, K_DUE, K_STATS, rid, st     the bound record's key, its due index (its bucket's; allot:due
                                       on a standalone Redis) and its bucket's counters,
                                       its id, and its state (nil until the caller reads it)
    K_EVENTS                           the outbox the record's events go to (allot:{rN}:out on a
                                       cluster, the feed itself on a standalone Redis)
    bind_record(rec, due, stats, id, events)  binds a record
    to(state, due_at)                  moves the bound record to `state`, keeps the bucket's counters,
                                       schedules it in the due index at due_at (nil: takes it out), and
                                       appends the reservation.<state> event of a state the contract
                                       names (held, committed, released, expired, shipped, cancelled)
    record_event(state, id, channel, deadline, oid, body)  appends one reservation event ('res' entry)
    record_commit(now, oid, lease)     held -> committed: {1, oid}; {2, oid} already; a held record past
                                       its deadline expires instead (due at now + lease): {0, 'expired', 1}
                                       (the 1: this call expired it); any other state {0, st}
    record_finish(retention)           a terminal record is cleaned (every SKU told): out of the due
                                       index, kept `retention` seconds: {1}, else {0, st} ]]
local rcall = redis.call
local K_REC, K_DUE, K_STATS, K_EVENTS, rid, st

local function bind_record(rec, due, stats, id, events)
  K_REC, K_DUE, K_STATS, K_EVENTS, rid, st = rec, due, stats, events, id, nil
end

-- The states whose change is an event (API.md, "Outbound"); pending, rejected and aborted are not.
local EVENT_STATES = { held = true, committed = true, released = true, expired = true, shipped = true,
                       cancelled = true }

local function record_event(state, id, channel, deadline, oid, body)
  rcall('XADD', K_EVENTS, '*', 't', 'res', 'st', state, 'r', id, 'c', channel, 'd', deadline, 'o', oid, 'b', body)
end

local function to(state, due_at)
  if st == 'held' and state ~= 'held' then rcall('HINCRBY', K_STATS, 'held', -1) end
  if state == 'held' then
    rcall('HINCRBY', K_STATS, 'held', 1)
    rcall('HINCRBY', K_STATS, 'created', 1)
  elseif state == 'committed' or state == 'expired' then
    rcall('HINCRBY', K_STATS, state, 1)
  end
  rcall('HSET', K_REC, 'st', state)
  st = state
  if due_at then rcall('ZADD', K_DUE, due_at, rid) else rcall('ZREM', K_DUE, rid) end
  if EVENT_STATES[state] then
    local v = rcall('HMGET', K_REC, 'ch', 'dl', 'oid', 'body')
    record_event(state, rid, v[1] or '', v[2] or '0', v[3] or '', v[4] or '')
  end
end

local TERMINAL = { released = true, expired = true, cancelled = true, shipped = true, rejected = true,
                   aborted = true }

local function record_commit(now, oid, lease)
  if st == 'committed' then return {2, rcall('HGET', K_REC, 'oid') or ''} end
  if st ~= 'held' then return {0, st} end
  if (tonumber(rcall('HGET', K_REC, 'dl')) or 0) <= now then
    -- The deadline is strict even when every line was committed by an earlier, failed attempt.
    to('expired', now + lease)
    return {0, 'expired', 1}
  end
  rcall('HSET', K_REC, 'oid', oid)
  to('committed', nil)
  return {1, oid}
end

local function record_finish(retention)
  if not TERMINAL[st] then return {0, st} end
  rcall('HSET', K_REC, 'cl', 1)
  rcall('ZREM', K_DUE, rid)
  rcall('EXPIRE', K_REC, retention)
  return {1}
end
