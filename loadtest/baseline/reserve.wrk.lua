-- wrk script for loadtest/capacity.sh: every request reserves 1 unit with a fresh reservation id.
-- env: KEY (a channel:web key), SKU (the SKU, or its prefix when SKUS > 1), SKUS (how many SKUs:
-- each request picks one at random, SKU-0 .. SKU-<SKUS-1>), RUN (makes ids unique per run),
-- CHECKOUT=1 (every held reservation is committed by a later request on the same connections:
-- a full checkout is reserve + commit). Prints one line: outcomes, requests/s, latency.
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  n, held, soldout, committed, other = 0, 0, 0, 0, 0
  run = os.getenv("RUN") or tostring(os.time())
  sku = os.getenv("SKU") or "BENCH-HOT"
  skus = tonumber(os.getenv("SKUS") or "1")
  checkout = os.getenv("CHECKOUT") == "1"
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. (os.getenv("KEY") or "")}
  toCommit, head, tail = {}, 1, 0
  math.randomseed(os.time() + tid)
end
function request()
  if checkout and head <= tail then
    local id = toCommit[head]
    toCommit[head] = nil
    head = head + 1
    return wrk.format("POST", "/v1/reservations/" .. id .. "/commit", headers, "{}")
  end
  n = n + 1
  local s = sku
  if skus > 1 then s = sku .. "-" .. math.random(0, skus - 1) end
  local id = string.format("w%s-%d-%d", run, tid, n)
  local body = string.format('{"id":"%s","channel":"web","ttlSeconds":3600,"lines":[{"sku":"%s","qty":1}]}', id, s)
  return wrk.format("POST", "/v1/reservations", headers, body)
end
function response(status, hdrs, body)
  if status == 201 then
    held = held + 1
    if checkout then
      local id = string.match(body, '"id"%s*:%s*"([^"]+)"')
      if id then tail = tail + 1; toCommit[tail] = id end
    end
  elseif status == 200 then committed = committed + 1
  elseif status == 409 then soldout = soldout + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local h, s, c, o = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    h = h + t:get("held"); s = s + t:get("soldout"); c = c + t:get("committed"); o = o + t:get("other")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("held=%d committed=%d soldout=%d other=%d errors=%d rps=%.0f held_per_s=%.0f committed_per_s=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    h, c, s, o, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / secs, h / secs, c / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
