-- wrk script: cycle through a sample of the requests `loadgen replay` sends for a stress trace
-- (POST and PUT /triples/batch?validate=true, DELETE /triples/subjects/...), in trace order,
-- so wrk offers the stub the same request mix and body sizes as loadgen does.
--
-- MIX_FILE (made by replay_vs_wrk.sh from a capture with capture_bodies.py) holds, per request,
-- a line "METHOD PATH BODY_LENGTH" followed by the body bytes and a newline (no body: length 0).
-- The stub upserts PUTs and POSTs; a DELETE of a line deleted in an earlier cycle answers 404,
-- which wrk counts under "Non-2xx or 3xx responses" (loadgen counts a 404 DELETE as success).
--
--   MIX_FILE=/tmp/loadgen-bench/mix.txt wrk -t1 -c50 -d10s -s tools/bench/request_mix.lua \
--       http://127.0.0.1:18300

local path = os.getenv("MIX_FILE") or "/tmp/loadgen-bench/mix.txt"
local f = assert(io.open(path, "rb"), "cannot open " .. path)
local requests = {}
while true do
  local line = f:read("*l")
  if not line then break end
  local method, target, len = line:match("^(%u+) (%S+) (%d+)$")
  assert(method, "bad line in " .. path .. ": " .. line)
  len = tonumber(len)
  local body = nil
  local headers = {}
  if len > 0 then
    body = f:read(len)
    headers["Content-Type"] = "application/json"
  end
  f:read("*l") -- the newline after the body
  requests[#requests + 1] = wrk.format(method, target, headers, body)
end
f:close()
assert(#requests > 0, path .. " holds no request")

local i = 0
request = function()
  i = i % #requests + 1
  return requests[i]
end

done = function(summary, latency, requests_)
  io.write(string.format("wrk_requests=%d wrk_duration_s=%.3f wrk_rps=%.1f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout))
end
