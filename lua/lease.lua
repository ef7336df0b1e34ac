--[[ lease: one owner at a time for a piece of background work (a webhook endpoint's deliveries),
  shared by every server instance. An instance takes the lease or keeps it with its own token;
  a lease nobody renews lapses after its TTL, so the work moves on when an instance dies.
  KEYS[1] the lease (string: the owner's token, with a TTL)
  ARGV[1] the caller's token   ARGV[2] TTL in ms   ARGV[3] op: take (take or renew) | drop
  Returns 1 the caller holds the lease now (take) | 0 another owner holds it, or dropped ]]
local token, ttl, op = ARGV[1], tonumber(ARGV[2]), ARGV[3]
if not token or token == '' or not ttl or (op ~= 'take' and op ~= 'drop') then
  return redis.error_reply('ERR lease: bad arguments')
end
local owner = redis.call('GET', KEYS[1])
if op == 'drop' then
  if owner == token then redis.call('DEL', KEYS[1]) end
  return 0
end
if owner == false or owner == token then
  redis.call('SET', KEYS[1], token, 'PX', ttl)
  return 1
end
return 0
