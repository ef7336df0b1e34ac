--[[ naive_commit: the commit a user would write next to naive_reserve.lua: the held units become
  committed, the hold stops expiring.
  KEYS[1] {SKU}:stock   KEYS[2] {SKU}:hold:<id>   KEYS[3] {SKU}:expiry   ARGV[1] hold id
  Returns {'OK', qty} | {'DUPLICATE', qty} already committed | {'GONE', 0} no such hold (expired or never made) ]]
local h = redis.call('HMGET', KEYS[2], 'qty', 'committed')
local qty = tonumber(h[1])
if not qty then return {'GONE', 0} end
if h[2] == '1' then return {'DUPLICATE', qty} end
redis.call('HINCRBY', KEYS[1], 'reserved', -qty)
redis.call('HINCRBY', KEYS[1], 'committed', qty)
redis.call('HSET', KEYS[2], 'committed', 1)
redis.call('PERSIST', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return {'OK', qty}
