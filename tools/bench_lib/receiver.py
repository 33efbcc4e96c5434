#!/usr/bin/env python3
"""Upload target for tools/bench: accepts line-protocol uploads, counts lines, keeps nothing.

Usage: receiver.py PORT_FILE
Listens on 127.0.0.1 on a free port, writes the port to PORT_FILE once listening, and answers
every POST/PUT with 204 once it has read the body. GET /count returns {"lines": ...,
"fields": ..., "requests": ..., "bytes": ..., "bad": ...} as JSON, where lines counts
non-empty line-protocol lines (one per point), fields the fields of those lines (one per
sample: a histogram's _count and _sum share a line) and bad counts bodies that could not be
decoded.

Counting is left for /count: a body is kept as it came (gzip'd) and decoded when the counts
are asked for, which tools/bench does before and after the measured window, not during it.
Gunzipping every upload as it arrives took about a quarter of a core at 10,000 pushes/s, on
the same two cores as the system under test, for work no real "discard" receiver does (and no
peer's run carries). The price is memory: the compressed bodies, about 6 MB per second of
load, until the next /count.
"""
import json
import os
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()  # guards totals and uncounted
count_lock = threading.Lock()
totals = {"lines": 0, "fields": 0, "requests": 0, "bytes": 0, "bad": 0}
uncounted = []  # (content_encoding, body) received since the last /count


def count_lines(data):
    lines = data.count(b"\n")
    if data and not data.endswith(b"\n"):
        lines += 1
    if b"\n\n" in data or data.startswith(b"\n"):  # blank lines are not points
        lines = sum(1 for line in data.split(b"\n") if line.strip())
    return lines


def count_fields(data):
    """The fields of every line: the field set is the part after the first unescaped space,
    and its fields are separated by commas (the values here are numbers, never quoted)."""
    # Usually no escapes and two spaces a line: the field sets are every other space-separated
    # token, counted in C (a 5-minute run uploads some 300 million lines).
    lines = data.count(b"\n")
    if (b"\\" not in data and data.endswith(b"\n") and not data.startswith(b"\n") and
            b"\n\n" not in data):
        parts = data.split(b" ")
        if len(parts) == 2 * lines + 1:
            return b"".join(parts[1::2]).count(b",") + lines
    fields = 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        if b"\\" not in line:
            fields += line.split(b" ", 2)[1].count(b",") + 1
            continue
        # Escapes: find the first space and the commas that no backslash escapes.
        i, in_fields = 0, False
        while i < len(line):
            c = line[i:i + 1]
            if c == b"\\":
                i += 2
                continue
            if c == b" ":
                if in_fields:
                    break
                in_fields = True
                fields += 1
            elif c == b"," and in_fields:
                fields += 1
            i += 1
    return fields


def count_uncounted():
    """Decodes and counts the bodies kept since the last call.

    Called with `count_lock` held, not `lock`: decoding a run's uploads takes seconds, and an
    upload that waited for it would time out at pushgate's end and be sent again (counted
    twice). Uploads only ever wait for the list swap.
    """
    with lock:
        batch = uncounted[:]
        uncounted.clear()
    lines = fields = bad = 0
    for encoding, raw in batch:
        try:
            data = zlib.decompress(raw, 16 + zlib.MAX_WBITS) if encoding == "gzip" else raw
        except zlib.error:
            bad += 1
            continue
        lines += count_lines(data)
        fields += count_fields(data)
    with lock:
        totals["lines"] += lines
        totals["fields"] += fields
        totals["bad"] += bad


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the uploader expects of a backend

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def reply(self, status, body=b"", content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if body:
            self.send_header("Content-Type", content_type)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_POST(self):
        raw = self.read_body()
        encoding = self.headers.get("Content-Encoding", "").lower()
        with lock:
            uncounted.append((encoding, raw))
            totals["requests"] += 1
            totals["bytes"] += len(raw)
        self.reply(204)

    do_PUT = do_POST

    def do_GET(self):
        if self.path.split("?")[0] != "/count":
            return self.reply(404, b"not found\n")
        with count_lock:  # one count at a time, so each answer includes all earlier uploads
            count_uncounted()
            with lock:
                body = json.dumps(totals).encode()
        self.reply(200, body, "application/json")

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
