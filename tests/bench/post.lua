-- post.lua: wrk script POSTing a fixed body (path in $BENCH_BODY) to
-- $BENCH_PATH as $BENCH_CTYPE (default MessagePack), with
-- "Authorization: Bearer $BENCH_TOKEN" when set; with $BENCH_DELAY_MS each
-- connection waits between requests (to hold a rate below saturation for the
-- latency figure).
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v1/verify"
wrk.body = f:read("*a")
f:close()
local ct = os.getenv("BENCH_CTYPE") or "application/msgpack"
wrk.headers["Content-Type"] = ct
wrk.headers["Accept"] = ct
local tok = os.getenv("BENCH_TOKEN")
if tok ~= nil and tok ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. tok
end
local d = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if d > 0 then
  function delay() return d end
end
