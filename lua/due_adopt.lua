--[[ due_adopt: on a standalone Redis, moves the due entries left in the buckets' due indexes
  (allot:{rN}:due, where versions before the one due index wrote them, and where an older instance
  still running writes them) into the one due index, so that the sweeper finds them there and the
  scripts that move or remove a due entry (given allot:due) find them too. Atomic per call: an
  entry is in one index or the other, never lost between them. At most ARGV[1] entries a call, an
  equal share from each bucket, the earliest first, so that a large backlog (the first pass after
  an upgrade) moves over several sweeper passes, soonest due first, instead of blocking Redis in
  one long script; the cost of a call follows the entries it moves, not the size of allot:due.
  An id already in allot:due keeps the earlier score (ZADD LT, Redis 6.2+: the sweeper then looks
  at it sooner, and settling is idempotent). Never run against a cluster.
  KEYS[1] allot:due   KEYS[2] .. KEYS[17] allot:{r0}:due .. allot:{r15}:due
  ARGV[1] at most this many entries a call
  Returns the number of entries moved: 0 (one EXISTS) unless a bucket still has some
  Events  none ]]
local rcall = redis.call
local limit = tonumber(ARGV[1])
if #KEYS < 2 or not limit or limit < 1 then return redis.error_reply('ERR due_adopt: bad arguments') end
if rcall('EXISTS', unpack(KEYS, 2, #KEYS)) == 0 then return 0 end
local share = math.ceil(limit / (#KEYS - 1))
local moved = 0
for i = 2, #KEYS do
  -- member, score, member, score, ...: the bucket's earliest
  local items = rcall('ZRANGE', KEYS[i], 0, share - 1, 'WITHSCORES')
  if #items > 0 then
    local add, members = {KEYS[1], 'LT'}, {}
    for j = 1, #items, 2 do
      add[#add + 1] = items[j + 1]
      add[#add + 1] = items[j]
      members[#members + 1] = items[j]
    end
    rcall('ZADD', unpack(add))
    rcall('ZREM', KEYS[i], unpack(members))
    moved = moved + #members
  end
end
return moved
