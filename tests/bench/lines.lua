-- lines.lua: wrk script POSTing one JSON body per line of $BENCH_LINES, each
-- once, in order from line $BENCH_START (default 1), to $BENCH_PATH (fresh
-- activation codes for the durable-write figure). Run with one wrk thread so
-- every line goes out once.
local bodies = {}
for line in io.lines(os.getenv("BENCH_LINES")) do
  bodies[#bodies + 1] = line
end
local path = os.getenv("BENCH_PATH") or "/v1/activations"
local headers = { ["Content-Type"] = "application/json" }
local i = (tonumber(os.getenv("BENCH_START") or "1") or 1) - 1
function request()
  i = i + 1
  if i > #bodies then i = 1 end
  return wrk.format("POST", path, headers, bodies[i])
end
