-- post.lua: wrk script POSTing a fixed MessagePack body (path in $BENCH_BODY)
-- to $BENCH_PATH; with $BENCH_DELAY_MS each connection waits between requests
-- (to hold a rate below saturation for the latency figure).
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v1/verify"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/msgpack"
wrk.headers["Accept"] = "application/msgpack"
local d = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if d > 0 then
  function delay() return d end
end
