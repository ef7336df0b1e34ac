--[[ open_groups: before rolling a standalone deployment back to a build from before grouped entries
  (2026-12-02), opens the group entries of one index into entries of their own, as the newer build
  would open them when they come due. Builds before it read a group ('*' and a list) as one strange
  id and drop it, so the reservations in it would never be expired by their sweeper (allot:due) or
  their holds never go back lazily (a SKU's expiry index). Run it with every newer instance stopped,
  over allot:due and over each SKU's expiry index with that SKU's holds (deploy/README.md), again
  with the cursor it answers until that is 0:
    redis-cli --eval deploy/open_groups.lua allot:due , 0
    redis-cli --eval deploy/open_groups.lua 'allot:{SKU}:expiry' 'allot:{SKU}:holds' , 0
  KEYS[1] allot:due, or allot:{SKU}:expiry   KEYS[2] allot:{SKU}:holds (with an expiry index only)
  ARGV[1] the ZSCAN cursor (0 to start)
  A group of allot:due lists record keys (allot:{rN}:res:<id>): each record still held gets an entry
  at its deadline (its dl). A group of an expiry index lists hold ids: each hold still held gets an
  entry at its deadline (in its holds entry). Others need none.
  Returns {cursor, groups opened}: done when the cursor is 0 ]]
local rcall = redis.call
local cursor = ARGV[1]
if #KEYS < 1 or #KEYS > 2 or not tonumber(cursor) then return redis.error_reply('ERR open_groups: bad arguments') end
local index, holds = KEYS[1], KEYS[2]
local scan = rcall('ZSCAN', index, cursor, 'MATCH', '[*]*', 'COUNT', 1000)
local opened = 0
for i = 1, #scan[2], 2 do
  local group = scan[2][i]
  for item in string.gmatch(string.sub(group, 2), '[^,]+') do
    if holds then
      local e = rcall('HGET', holds, item)
      local deadline = e and string.match(e, '^h|(%d+)|')
      if deadline then rcall('ZADD', index, deadline, item) end
    else
      local v = rcall('HMGET', item, 'st', 'dl')
      if v[1] == 'held' then rcall('ZADD', index, v[2] or scan[2][i + 1], string.match(item, ':res:(.+)$')) end
    end
  end
  rcall('ZREM', index, group)
  opened = opened + 1
end
return {scan[1], opened}
