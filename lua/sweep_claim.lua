--[[ sweep_claim: take the reservations of one due index whose deadline or lease has come, and
  lease them to the calling sweeper so that two server instances never work on one at once.
  KEYS[1] allot:{rNN}:due   zset  reservation id scored by when it next needs attention (ms): a
                                  bucket's on a cluster, allot:due on a standalone Redis
  ARGV[1] now_ms   ARGV[2] lease_ms (how long the caller may take)   ARGV[3] at most this many
  Returns {id, id, ...}  each now scored now + lease: if the caller dies, another sweeper takes it then
  Events  none ]]
local rcall = redis.call
local K_DUE = KEYS[1]
local now = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
if not now or not lease or not limit then return redis.error_reply('ERR sweep_claim: bad arguments') end
local ids = rcall('ZRANGEBYSCORE', K_DUE, '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  rcall('ZADD', K_DUE, now + lease, id)
end
return ids
