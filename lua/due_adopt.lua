--[[ due_adopt: on a standalone Redis, moves the due entries left in the buckets' due indexes
  (allot:{rN}:due, where versions before the one due index wrote them, and where an older instance
  still running writes them) into the one due index, so that the sweeper finds them there and the
  scripts that move or remove a due entry (given allot:due) find them too. Atomic: an entry is in
  one index or the other, never lost between them. An id in both keeps the earlier score (the
  sweeper then looks at it sooner; settling is idempotent). Never run against a cluster.
  KEYS[1] allot:due   KEYS[2] .. KEYS[17] allot:{r0}:due .. allot:{r15}:due
  Returns the number of entries moved: 0 (the one EXISTS) unless a bucket still has some
  Events  none ]]
local rcall = redis.call
if #KEYS < 2 then return redis.error_reply('ERR due_adopt: bad arguments') end
if rcall('EXISTS', unpack(KEYS, 2, #KEYS)) == 0 then return 0 end
local moved = 0
for i = 2, #KEYS do moved = moved + rcall('ZCARD', KEYS[i]) end
local args = {KEYS[1], #KEYS}
for i = 1, #KEYS do args[#args + 1] = KEYS[i] end
args[#args + 1] = 'AGGREGATE'
args[#args + 1] = 'MIN'
rcall('ZUNIONSTORE', unpack(args))
rcall('DEL', unpack(KEYS, 2, #KEYS))
return moved
