--[[ sweep_claim: take the reservations of one due index whose deadline or lease has come, and
  lease them to the calling sweeper so that two server instances never work on one at once.
  KEYS[1] allot:{rNN}:due   zset  reservation id scored by when it next needs attention (ms): a
                                  bucket's on a cluster, allot:due on a standalone Redis
  ARGV[1] now_ms   ARGV[2] lease_ms (how long the caller may take)   ARGV[3] at most this many
  A member of allot:due may also be a group, which create_batch writes (standalone only): '*' and
  the record keys of the reservations one call held, comma separated, scored by the earliest of
  their deadlines. A group that comes due is opened here: each of its records still held gets an
  entry of its own, scored by its deadline (then claimed like any other when that has come); a
  record committed, released or gone meanwhile needs none (whatever moved it wrote its own entry
  when it needed one). Reads those records by the keys the group names: a standalone Redis only.
  Returns {id, id, ...}  each now scored now + lease: if the caller dies, another sweeper takes it then
  Events  none ]]
local rcall = redis.call
local K_DUE = KEYS[1]
local now = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
if not now or not lease or not limit then return redis.error_reply('ERR sweep_claim: bad arguments') end

local function open(group)
  for key in string.gmatch(string.sub(group, 2), '[^,]+') do
    local v = rcall('HMGET', key, 'st', 'dl')
    if v[1] == 'held' then
      rcall('ZADD', K_DUE, tonumber(v[2]) or now, string.match(key, ':res:(.+)$'))
    end
  end
  rcall('ZREM', K_DUE, group)
end

local claimed = {}
-- A group opened gives entries that may be due at once: look again, a few times at most (what is
-- left waits for the next pass).
for _ = 1, 4 do
  if #claimed >= limit then break end
  local opened = false
  for _, id in ipairs(rcall('ZRANGEBYSCORE', K_DUE, '-inf', now, 'LIMIT', 0, limit - #claimed)) do
    if string.byte(id, 1) == 42 then
      open(id)
      opened = true
    else
      rcall('ZADD', K_DUE, now + lease, id)
      claimed[#claimed + 1] = id
    end
  end
  if not opened then break end
end
return claimed
