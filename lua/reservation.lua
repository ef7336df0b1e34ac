--[[ reservation: the reservation record, the single decision point of a multi-SKU reservation.
  Stock lives per SKU (one hash slot each); this record lives in its own slot with the due
  index of its bucket (on a standalone Redis the one due index, allot:due), so a state change
  and the sweeper's schedule move in one atomic step.
  States: pending -> held | rejected | aborted;  held -> committed | released | expired;
          committed -> shipped | cancelled.  A terminal state is "cleaned" once every SKU
          has been told (release_line / ship_line ran for every line).
  KEYS[1] allot:{rNN}:res:<id>  hash  st state, fp request fingerprint, ch channel, dl deadline_ms,
                                      lu pending lease end (ms), ln lines "SKU=qty,...", sc status,
                                      body first answer (JSON), oid order id, cl cleaned 0/1, cr created_ms
  KEYS[2] allot:{rNN}:due       zset  reservation id -> when the sweeper must look at it (ms)
                                      (allot:due on a standalone Redis: one index for every record)
  KEYS[3] allot:{rNN}:stats     hash  counters of this bucket: created, held (outstanding now),
                                      committed, expired (the operator panel sums the buckets)
  KEYS[4] the outbox             stream  allot:{rNN}:out on a cluster, allot:{events}:feed standalone:
                                      each reservation.<state> event, in the same step (include/record)
  ARGV[1] op   ARGV[2] reservation id   ARGV[3] now_ms   ARGV[4..] per op:
    begin   fp, channel, deadline_ms, lease_until_ms, lines   -> {1} created | {2, st, sc, body} same request | {3} other request
    held    body                                              -> {1} | {0, st}
    reject  body, lease_ms                                    -> {1} | {0, st}
    commit  order id ('' for none), lease_ms                  -> {1, oid} | {2, oid} already | {0, st}
            (a held record past its deadline expires here instead: {0, 'expired', 1})
    release lease_ms                                          -> {1} | {2} already | {0, st}
    extend  new deadline_ms                                   -> {1} | {0, st}
    ship    lease_ms                                          -> {1} | {2} already | {0, st}
    cancel  lease_ms                                          -> {1} | {2} already | {0, st}
    expire  force 0/1, lease_ms  (sweeper, or a line found gone) -> {changed 0/1, st, cleaned 0/1, lines}
    finish  retention_s                                       -> {1} | {0, st}
  Every op on a missing record answers {-1}.
  Events  a 'res' entry in the outbox (KEYS[4]) for every move to held, committed, released, expired,
          shipped or cancelled (docs/outbound.md) ]]
--- @include "include/record"
bind_record(KEYS[1], KEYS[2], KEYS[3], ARGV[2], KEYS[4])
local op = ARGV[1]
local now = tonumber(ARGV[3])
if not now or not KEYS[4] then return redis.error_reply('ERR reservation: bad arguments') end

-- Each op: its own ARGV from 4 on (see the header), its reply.
local ops = {}

-- release, ship, cancel: one state to another, decided by the record alone.
local function simple(from, target)
  return function()
    if st == target then return {2} end
    if st ~= from then return {0, st} end
    to(target, now + tonumber(ARGV[4]))
    return {1}
  end
end

function ops.held()
  if st ~= 'pending' then return {0, st} end
  rcall('HSET', K_REC, 'body', ARGV[4], 'sc', 201)
  to('held', rcall('HGET', K_REC, 'dl'))
  return {1}
end

function ops.reject()
  if st ~= 'pending' then return {0, st} end
  rcall('HSET', K_REC, 'body', ARGV[4], 'sc', 409)
  to('rejected', now + tonumber(ARGV[5]))
  return {1}
end

function ops.commit()
  return record_commit(now, ARGV[4], tonumber(ARGV[5] or 5000))
end

ops.release = simple('held', 'released')
ops.ship = simple('committed', 'shipped')
ops.cancel = simple('committed', 'cancelled')

function ops.extend()
  if st ~= 'held' then return {0, st} end
  rcall('HSET', K_REC, 'dl', ARGV[4])
  rcall('ZADD', K_DUE, ARGV[4], rid)
  return {1}
end

function ops.expire()
  local force = ARGV[4] == '1'
  local lease = tonumber(ARGV[5])
  local v = rcall('HMGET', K_REC, 'dl', 'lu', 'cl', 'ln')
  local dl, lu, cl, ln = tonumber(v[1]) or 0, tonumber(v[2]) or 0, v[3] or '0', v[4] or ''
  local changed = 0
  if st == 'held' and (force or dl <= now) then
    to('expired', now + lease); st = 'expired'; changed = 1
  elseif st == 'pending' and (force or lu <= now) then
    to('aborted', now + lease); st = 'aborted'; changed = 1
  elseif st == 'held' then
    rcall('ZADD', K_DUE, dl, rid)
  elseif st == 'pending' then
    rcall('ZADD', K_DUE, lu, rid)
  elseif st == 'committed' or cl == '1' then
    rcall('ZREM', K_DUE, rid)
  end
  return {changed, st, tonumber(cl) or 0, ln}
end

function ops.finish()
  return record_finish(tonumber(ARGV[4]))
end

-- begin is the one op on a record that may not exist yet.
if op == 'begin' then
  local fp = rcall('HGET', K_REC, 'fp')
  if fp then
    if fp ~= ARGV[4] then return {3} end
    local v = rcall('HMGET', K_REC, 'st', 'sc', 'body')
    return {2, v[1], tonumber(v[2]) or 0, v[3] or ''}
  end
  rcall('HSET', K_REC, 'st', 'pending', 'fp', ARGV[4], 'ch', ARGV[5], 'dl', ARGV[6],
        'lu', ARGV[7], 'ln', ARGV[8], 'cl', 0, 'cr', now)
  rcall('ZADD', K_DUE, ARGV[7], rid)
  return {1}
end

local run = ops[op]
if not run then return redis.error_reply('ERR reservation: unknown op ' .. tostring(op)) end
st = rcall('HGET', K_REC, 'st')
if not st then
  if op == 'expire' then rcall('ZREM', K_DUE, rid) end
  return {-1}
end
return run()
