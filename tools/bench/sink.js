// A FreshMart-shaped HTTP sink for long replays (Issue 3, target 9): answers GET /health and
// /ready as FreshMart does, and every write at once (POST 201 "[]", PUT 200 "[]", DELETE 204)
// without storing anything, so its memory stays flat however many events are replayed (the
// stub keeps every triple: about 4.5 kB per order). Node's http module, keep-alive, 127.0.0.1.
// Exits by itself after MAX_SECONDS (default 1800); prints the number of writes on exit.
//
//   node tools/bench/sink.js PORT [MAX_SECONDS]
"use strict";
const http = require("http");

const port = Number(process.argv[2]);
const maxSeconds = Number(process.argv[3] || 1800);
let writes = 0;

const server = http.createServer((req, res) => {
  if (req.method === "GET") {
    const body = req.url === "/ready"
      ? '{"status":"ready","database":"connected"}'
      : '{"status":"healthy"}';
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.length });
    res.end(body);
    return;
  }
  req.on("data", () => {});
  req.on("end", () => {
    writes += 1;
    if (req.method === "DELETE") {
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(req.method === "POST" ? 201 : 200,
        { "Content-Type": "application/json", "Content-Length": 2 });
      res.end("[]");
    }
  });
});
server.keepAliveTimeout = 120000;
server.listen(port, "127.0.0.1");

function stop() {
  console.error(`sink: ${writes} writes answered`);
  process.exit(0);
}
setTimeout(stop, maxSeconds * 1000);
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
