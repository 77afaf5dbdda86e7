-- wrk script: POST one realistic new-order batch to /triples/batch?validate=true.
--
-- The body (tools/bench/order_body.json) is a request `loadgen replay` sent: a new order with 4
-- lines (35 triples, 4,297 bytes), captured with tools/bench/capture_bodies.py. Every request
-- posts the same order, so the stub upserts the same subjects and its store does not grow.
--
--   BODY_FILE=tools/bench/order_body.json wrk -t2 -c50 -d10s -s tools/bench/post_order.lua \
--       http://127.0.0.1:18300

local path = os.getenv("BODY_FILE") or "tools/bench/order_body.json"
local f = assert(io.open(path, "r"), "cannot open " .. path)
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = "/triples/batch?validate=true"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

-- Count non-2xx answers in the summary (wrk already prints "Non-2xx or 3xx responses").
done = function(summary, latency, requests)
  io.write(string.format("wrk_requests=%d wrk_duration_s=%.3f wrk_rps=%.1f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout))
end
