#!/usr/bin/env python3
"""Capture the request bodies `loadgen replay` sends, to give wrk a realistic body.

Listens on 127.0.0.1:PORT, answers GET /health and /ready as FreshMart does, answers every
write with 200 `{}`, and appends each request as one JSON line (method, path, body) to OUT.
Stops by itself after MAX_SECONDS (default 60), so it never outlives the script that runs it;
SIGTERM stops it too, after flushing what it captured.

    python3 tools/bench/capture_bodies.py PORT OUT [MAX_SECONDS]
"""

import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
OUT = sys.argv[2]
MAX_SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
LOCK = threading.Lock()
SINK = open(OUT, "a", encoding="utf-8")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, payload):
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ready":
            self.answer({"status": "ready", "database": "connected"})
        else:
            self.answer({"status": "healthy"})

    def write(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode() if length else None
        with LOCK:
            SINK.write(json.dumps({"method": self.command, "path": self.path, "body": body}) + "\n")
        self.answer({})

    do_POST = do_PUT = do_DELETE = write


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
timer = threading.Timer(MAX_SECONDS, server.shutdown)
timer.daemon = True
timer.start()
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
try:
    server.serve_forever()
finally:
    SINK.close()
