--[[ due_rollback: before rolling a standalone deployment back to a build from before the one due
  index (2026-12-01), puts the entries of allot:due back into each reservation's bucket's due index,
  allot:{rN}:due with N = Math.floorMod(id.hashCode(), 16) as Java computes it (Keys.bucket; ids are
  ASCII, Validate.clientId), at most ARGV[1] a call, the earliest first; an id already in its
  bucket keeps the earlier score. Run it with every newer instance stopped (their sweepers would
  move the entries straight back), again until it answers 0 (deploy/README.md):
    redis-cli --eval deploy/due_rollback.lua allot:due 'allot:{r0}:due' ... 'allot:{r15}:due' , 10000
  KEYS[1] allot:due   KEYS[2] .. KEYS[17] allot:{r0}:due .. allot:{r15}:due (bucket N at KEYS[N + 2])
  A group entry (create_batch's, '*' and record keys) is moved as one entry per reservation in it.
  Returns the number of entries moved (a group counts once). ]]
local rcall = redis.call
local limit = tonumber(ARGV[1])
if #KEYS ~= 17 or not limit or limit < 1 then return redis.error_reply('ERR due_rollback: bad arguments') end
-- Java's String.hashCode over the id's characters (all ASCII), as a signed 32-bit int, then floorMod 16.
local function bucket(id)
  local h = 0
  for i = 1, #id do h = (31 * h + string.byte(id, i)) % 4294967296 end
  if h >= 2147483648 then h = h - 4294967296 end
  return h % 16
end
local items = rcall('ZRANGE', KEYS[1], 0, limit - 1, 'WITHSCORES')
local members = {}
for j = 1, #items, 2 do
  if string.byte(items[j], 1) == 42 then
    -- A group of create_batch ('*' and record keys allot:{rN}:res:<id>, comma separated), which
    -- older builds do not know: each of its reservations gets an entry in its bucket, at the
    -- group's score (the sweeper then looks at each and settles or reschedules it).
    for n, id in string.gmatch(string.sub(items[j], 2), 'allot:{r(%d+)}:res:([^,]+)') do
      rcall('ZADD', KEYS[tonumber(n) + 2], 'LT', items[j + 1], id)
    end
  else
    rcall('ZADD', KEYS[bucket(items[j]) + 2], 'LT', items[j + 1], items[j])
  end
  members[#members + 1] = items[j]
end
if #members > 0 then rcall('ZREM', KEYS[1], unpack(members)) end
return #members
