--[[ relay: moves one outbox's entries into the feed, exactly once and in their order. On a Redis
  Cluster a script can write only its own slot, so each script appends its events to the outbox of
  its hash tag (allot:{SKU}:out, allot:{rN}:out); the server reads an outbox (XRANGE) and hands what it
  read to this script, which runs on the feed's slot. The feed remembers the last entry it took
  from each outbox, so an entry read twice (two instances relaying the same outbox, or a relay that
  died before it deleted what it moved) is appended once. The server then deletes the entries up
  to the id this script answers (XDEL) from the outbox. Never used in front of a standalone Redis,
  where every script appends to the feed itself.
  KEYS[1] allot:{events}:feed  stream  the feed (docs/outbound.md)
  KEYS[2] allot:{events}:meta  hash    relayed:<outbox> -> the id of the last entry taken from it
  ARGV[1] the outbox's key   ARGV[2] n (entries)
  then each entry, oldest first: its id, f (its field count x 2), then its f names and values
  Returns the id of the last entry of this outbox that the feed has (this call's or an earlier one's) ]]
local outbox, n = ARGV[1], tonumber(ARGV[2])
if not outbox or not n then return redis.error_reply('ERR relay: bad arguments') end

local function id_parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

local field = 'relayed:' .. outbox
local last = redis.call('HGET', KEYS[2], field) or '0-0'
local last_ms, last_seq = id_parts(last)
local p, moved = 3, false
for _ = 1, n do
  local id, f = ARGV[p], tonumber(ARGV[p + 1])
  local ms, seq = id_parts(id or '')
  if not ms or not f then return redis.error_reply('ERR relay: bad entry') end
  if ms > last_ms or (ms == last_ms and seq > last_seq) then
    local fields = {}
    for i = 1, f do fields[i] = ARGV[p + 1 + i] end
    redis.call('XADD', KEYS[1], '*', unpack(fields))
    last, last_ms, last_seq, moved = id, ms, seq, true
  end
  p = p + 2 + f
end
if moved then redis.call('HSET', KEYS[2], field, last) end
return last
