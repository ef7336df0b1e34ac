--[[ reserve_line: hold qty units of one SKU for one reservation, drawing the channel's
  locations in order (the channel's own allocation first), all or nothing for this SKU; a backorder channel holds what the shelf
  has and records the rest as backordered; a per-customer limit is enforced here, atomically.
  KEYS[1] allot:{SKU}:stock      hash  <loc>|on, <loc>|res, <loc>|com, <loc>|q, ver, lseq,
                                       limit (per-customer limit), backordered
  KEYS[2] allot:{SKU}:holds      hash  reservation id -> "h|deadline|channel|loc=qty,...|customer|backordered"
  KEYS[3] allot:{SKU}:expiry     zset  reservation id scored by deadline (held entries only)
  KEYS[4] allot:{SKU}:ledger     list  newest first, JSON entries, at most ARGV[2]
  KEYS[5] allot:{SKU}:customers  hash  customer -> units held or committed (only with a limit or a customer)
  KEYS[6] the outbox             stream  allot:{SKU}:out on a cluster, allot:{events}:feed standalone
  ARGV[1] now_ms   ARGV[2] ledger max entries   ARGV[3] event channel allot:{SKU}:ev   (every SKU script's prefix)
  ARGV[4] reservation id   ARGV[5] qty   ARGV[6] deadline_ms   ARGV[7] channel buffer   ARGV[8] channel id
  ARGV[9] customer ('' for none)   ARGV[10] backorder 0/1   ARGV[11..] channel locations, in draw order
  Returns {1, version, available_after, backordered, loc, qty, ...}  held
          {2, version, available, backordered, loc, qty, ...}        replay: this reservation already holds this SKU
          {0, version, available}                                    insufficient (nothing held)
          {3, version, allowed}                                      the customer's limit: at most `allowed` more
  Events  SPUBLISH (Redis 7+; PUBLISH before) allot:{SKU}:ev (ARGV[3]) "version|loc=available,..." whenever the SKU changed (expired holds too),
          and a 'stock' entry in the outbox (KEYS[6]) ]]
--- @include "include/hold"
local rid = ARGV[4]
local qty = tonumber(ARGV[5])
local deadline = tonumber(ARGV[6])
local buffer = tonumber(ARGV[7])
local channel = ARGV[8]
local customer = ARGV[9] or ''
local backorder = ARGV[10] == '1'
local FIRST_LOC = 11
if not PREFIX_OK or not qty or qty < 1 or not deadline or not buffer or #ARGV < FIRST_LOC then
  return redis.error_reply('ERR reserve_line: bad arguments')
end
local locs = {}
for i = FIRST_LOC, #ARGV do locs[#locs + 1] = ARGV[i] end

local d = decide_hold(rid, qty, buffer, customer, backorder, locs, drop_expired(), true, channel)
if d.code == 2 then
  local _, _, _, alloc, _, bo = parse_entry(d.entry)
  local out = {2, sku_version(), d.total, tonumber(bo) or 0}
  for _, l in ipairs(each_line(alloc or '')) do
    out[#out + 1] = l.loc
    out[#out + 1] = l.q
  end
  return finish(out)
end
if d.code == 3 then return finish({3, sku_version(), d.allowed}) end
if d.code == 0 then return finish({0, sku_version(), d.total}) end

local allocs, version = apply_hold(rid, d, qty, deadline, channel, customer, locs)
hold_flush()
local out = {1, version, d.total - d.take, d.bo}
for _, v in ipairs(allocs) do out[#out + 1] = v end
return finish(out)
