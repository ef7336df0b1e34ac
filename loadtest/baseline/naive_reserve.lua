--[[ naive_reserve: the reserve script a user would write in an afternoon (the benchmark's baseline,
  loadtest/capacity.sh). One SKU, one line, no ledger, no events, no limits, no multi-line.
  KEYS[1] {SKU}:stock      hash  on_hand, reserved, committed
  KEYS[2] {SKU}:hold:<id>  hash  id, stock_key, qty, created_ms, expires_ms (and committed once committed)
  KEYS[3] {SKU}:expiry     zset  hold id scored by expiry (ms); a sweeper would give expired holds back
  ARGV[1] qty   ARGV[2] hold id   ARGV[3] ttl_ms
  Returns {'OK', available_after} | {'INSUFFICIENT', available} | {'DUPLICATE', -1} | {'NOSKU', 0} ]]
local qty, ttl = tonumber(ARGV[1]), tonumber(ARGV[3])
if not qty or qty < 1 or not ttl or ttl < 1 then return redis.error_reply('ERR naive_reserve: bad arguments') end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'DUPLICATE', -1} end
local s = redis.call('HMGET', KEYS[1], 'on_hand', 'reserved')
local on_hand = tonumber(s[1])
if not on_hand then return {'NOSKU', 0} end
local available = on_hand - (tonumber(s[2]) or 0)
if available < qty then return {'INSUFFICIENT', available} end
redis.call('HINCRBY', KEYS[1], 'reserved', qty)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2], 'id', ARGV[2], 'stock_key', KEYS[1], 'qty', qty, 'created_ms', now, 'expires_ms', now + ttl)
redis.call('PEXPIRE', KEYS[2], ttl + 60000)
redis.call('ZADD', KEYS[3], now + ttl, ARGV[2])
return {'OK', available - qty}
