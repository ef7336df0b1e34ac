--[[ advance: moves a webhook endpoint's saved position on, only from where the caller read it. A
  redelivery (POST /v1/webhooks/{id}/redeliver) moves the position back at any moment; the
  instance finishing a window must not write its older view over that.
  KEYS[1] allot:webhook:<id>:state  hash  cursor, cursorAt, ... (outbound.Deliveries)
  ARGV[1] the cursor the caller read ('' for none)   ARGV[2..] field, value pairs to write
  Returns 1 written | 0 the position changed meanwhile: nothing written ]]
local expected = ARGV[1]
if not expected or #ARGV < 3 or (#ARGV - 1) % 2 ~= 0 then return redis.error_reply('ERR advance: bad arguments') end
local cur = redis.call('HGET', KEYS[1], 'cursor') or ''
if cur ~= expected then return 0 end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
