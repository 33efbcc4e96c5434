#!/usr/bin/python3
"""Debian's python3-prometheus-client against pushgate's real front and aggregator.

Starts pushgate-aggregator (uploading line protocol to a small HTTP receiver in this script)
and pushgate-front on free loopback ports, then uses the client's own push_to_gateway,
pushadd_to_gateway (through a handler that gzips the body) and delete_from_gateway, and checks
that every call succeeds and that the pushed samples arrive as the points conversion.md
describes. Prints one PASS/FAIL line per check and ends with "N passed, M failed"; exits 1
if any check failed.

Run by tests/clients:python_client_test (Bazel sh_test); needs TEST_SRCDIR for the binaries.
"""

import fcntl
import gzip
import http.server
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.request

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.exposition import (default_handler, delete_from_gateway,
                                          push_to_gateway, pushadd_to_gateway)


# --- The upload receiver -----------------------------------------------------------------

class Receiver:
    """An HTTP endpoint that keeps every uploaded line-protocol body (gzip decoded)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._text = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                with receiver._lock:
                    receiver._text.append(body.decode("utf-8"))
                self.send_response(204)
                self.end_headers()

            do_PUT = do_POST

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/write" % self._server.server_address[1]

    def points(self):
        with self._lock:
            text = "".join(self._text)
        return [parse_point(line) for line in text.splitlines() if line]

    def close(self):
        self._server.shutdown()


# --- Line protocol -----------------------------------------------------------------------

def split_unescaped(text, separator):
    """Splits on `separator` where it is not escaped by a backslash; keeps the escapes."""
    parts, current, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if c == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def unescape(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in ", =\\":
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_point(line):
    """`measurement,tag=v,... field=v,... ts` -> (measurement, {tags}, {fields}, ts_ns)."""
    sections = split_unescaped(line, " ")
    if len(sections) != 3:
        raise ValueError("not a line-protocol point: %r" % line)
    head = split_unescaped(sections[0], ",")
    tags = {}
    for pair in head[1:]:
        key, value = split_unescaped(pair, "=")
        tags[unescape(key)] = unescape(value)
    fields = {}
    for pair in split_unescaped(sections[1], ","):
        key, value = split_unescaped(pair, "=")
        fields[unescape(key)] = float(value)
    return unescape(head[0]), tags, fields, int(sections[2])


# --- pushgate ----------------------------------------------------------------------------

_port_claims = []  # open lock files: a claimed port stays ours while this process runs


def free_port():
    """A loopback port free now and claimed from the other test processes.

    Same scheme as the C++ harness' FreePort (tests/harness/harness.cc): a port below the
    kernel's ephemeral range, so no client socket takes it meanwhile, locked with flock on
    /tmp/pushgate-test-ports/<port> so no test running beside this one picks it too.
    """
    os.makedirs("/tmp/pushgate-test-ports", exist_ok=True)
    for _ in range(1000):
        port = random.randrange(20000, 32000)
        claim = open("/tmp/pushgate-test-ports/%d" % port, "a+")
        try:
            fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            claim.close()
            continue
        _port_claims.append(claim)
        return port
    raise RuntimeError("no free port between 20000 and 32000")


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return 0


class Pushgate:
    """pushgate-aggregator and pushgate-front from the runfiles, on free loopback ports."""

    def __init__(self, upload_url, scratch):
        runfiles = os.path.join(os.environ["TEST_SRCDIR"], "pushgate", "services")
        self.front_port = free_port()
        grpc_port, aggregator_http_port = free_port(), free_port()
        self.logs = [os.path.join(scratch, "aggregator.log"), os.path.join(scratch, "front.log")]
        self.processes = []
        self._start(self.logs[0], [
            os.path.join(runfiles, "aggregator", "pushgate-aggregator"),
            "--grpc_listen=127.0.0.1:%d" % grpc_port,
            "--http_listen=127.0.0.1:%d" % aggregator_http_port,
            "--data_dir=" + os.path.join(scratch, "data"),
            "--flush_interval=50ms",
            "--upload_url=" + upload_url,
        ])
        self._wait_for_200("http://127.0.0.1:%d/-/healthy" % aggregator_http_port)
        self._start(self.logs[1], [
            os.path.join(runfiles, "front", "pushgate-front"),
            "--listen=127.0.0.1:%d" % self.front_port,
            "--aggregator=127.0.0.1:%d" % grpc_port,
        ])
        self._wait_for_200(self.url + "/-/ready")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.front_port

    def _start(self, log_path, argv):
        with open(log_path, "ab") as log:
            self.processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))

    def _wait_for_200(self, url):
        deadline = time.time() + 20
        while time.time() < deadline:
            if http_status(url) == 200:
                return
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError("%s exited with %s" % (process.args[0], process.returncode))
            time.sleep(0.05)
        raise RuntimeError(url + " did not answer 200 within 20 s")

    def stop(self):
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_tails(self):
        out = []
        for path in self.logs:
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append("--- %s (last lines)\n%s" % (path, "".join(f.readlines()[-20:])))
        return "\n".join(out)


# --- Handlers ----------------------------------------------------------------------------

def gzip_handler(url, method, timeout, headers, data):
    """Compresses the body and says so; the request itself is the client's default handler."""
    gzip_handler.calls += 1
    return default_handler(url, method, timeout,
                           list(headers) + [("Content-Encoding", "gzip")], gzip.compress(data))


gzip_handler.calls = 0


class RecordingHandler:
    """A handler (the client's documented contract) that performs the request like the default
    one and records the status code of each answer."""

    def __init__(self):
        self.statuses = []

    def __call__(self, url, method, timeout, headers, data):
        def handle():
            request = urllib.request.Request(url, data=data, method=method)
            for key, value in headers:
                request.add_header(key, value)
            with urllib.request.urlopen(request, timeout=timeout) as response:
                self.statuses.append(response.status)
        return handle


# --- Checks ------------------------------------------------------------------------------

def wait_for_points(receiver, job, count, timeout=15):
    """The points tagged job=<job>, once at least `count` arrived (or what came by then)."""
    deadline = time.time() + timeout
    while True:
        points = [p for p in receiver.points() if p[1].get("job") == job]
        if len(points) >= count or time.time() > deadline:
            return points
        time.sleep(0.05)


def find_field(points, field, tags):
    """The values of `field` in points whose tags are exactly `tags`."""
    return [p[2][field] for p in points if field in p[2] and p[1] == tags]


def expect_field(points, field, tags, value):
    got = find_field(points, field, tags)
    if got != [value]:
        raise AssertionError("field %s with tags %s: want [%r], got %r\nreceived:\n%s" % (
            field, sorted(tags.items()), value, got,
            "\n".join(repr(p) for p in points)))


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, function):
        try:
            function()
        except Exception as e:  # Any failure of a check is reported, and the run goes on.
            self.failed += 1
            print("FAIL %s: %s" % (name, e))
            if not isinstance(e, AssertionError):
                traceback.print_exc(file=sys.stdout)
        else:
            self.passed += 1
            print("PASS %s" % name)
        sys.stdout.flush()


def main():
    scratch = os.environ.get("TEST_TMPDIR") or "/tmp"
    checks = Checks()
    receiver = Receiver()
    try:
        pushgate = Pushgate(receiver.url, scratch)
    except Exception as e:
        print("FAIL start pushgate: %s" % e)
        receiver.close()
        print("0 passed, 1 failed")
        return 1

    try:
        run_checks(checks, pushgate, receiver)
    finally:
        pushgate.stop()
        receiver.close()
    if checks.failed:
        print(pushgate.log_tails())
    print("%d passed, %d failed" % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


def run_checks(checks, pushgate, receiver):
    gateway = pushgate.url

    # push_to_gateway (PUT): all four metric types, a grouping key with a '/' in a value,
    # which the client sends as base64.
    registry = CollectorRegistry()
    requests = Counter("pyclient_requests", "Requests.", ["code"], registry=registry)
    requests.labels("200").inc(3)
    requests.labels("500").inc()
    Gauge("pyclient_temperature", "Temperature.", registry=registry).set(-12.5)
    latency = Histogram("pyclient_latency_seconds", "Latency.", buckets=(0.1, 1.0),
                        registry=registry)
    for v in (0.05, 0.5, 2.0):
        latency.observe(v)
    rpc = Summary("pyclient_rpc_seconds", "RPC time.", registry=registry)
    rpc.observe(1.5)
    rpc.observe(2.5)
    key = {"instance": "host-1", "path": "/var/run"}
    times = {}

    def push():
        times["before"] = time.time_ns()
        push_to_gateway(gateway, job="py_push", registry=registry, grouping_key=key)
        times["after"] = time.time_ns()
    checks.run("push_to_gateway succeeds", push)

    def push_arrives():
        # 2 counter + 1 gauge + 3 buckets + 1 histogram count/sum + 1 summary count/sum, and
        # the client's _created gauges (2 counter series, histogram, summary).
        points = wait_for_points(receiver, "py_push", 12)
        tags = {"job": "py_push", "instance": "host-1", "path": "/var/run"}
        expect_field(points, "pyclient_requests_total", dict(tags, code="200"), 3.0)
        expect_field(points, "pyclient_requests_total", dict(tags, code="500"), 1.0)
        expect_field(points, "pyclient_temperature", tags, -12.5)
        for le, count in (("0.1", 1.0), ("1", 2.0), ("+Inf", 3.0)):
            expect_field(points, "pyclient_latency_seconds_bucket", dict(tags, le=le), count)
        expect_field(points, "pyclient_latency_seconds_count", tags, 3.0)
        expect_field(points, "pyclient_latency_seconds_sum", tags, 0.05 + 0.5 + 2.0)
        expect_field(points, "pyclient_rpc_seconds_count", tags, 2.0)
        expect_field(points, "pyclient_rpc_seconds_sum", tags, 4.0)
        for measurement, _, fields, ts in points:
            if measurement != "pyclient":
                raise AssertionError("measurement %r, want pyclient" % measurement)
            if not times["before"] <= ts <= times["after"]:
                raise AssertionError("timestamp %d outside the push [%d, %d]" % (
                    ts, times["before"], times["after"]))
        created = [v for p in points for f, v in p[2].items() if f.endswith("_created")]
        if len(created) != 4 or not all(
                abs(v - times["before"] / 1e9) < 600 for v in created):
            raise AssertionError("want 4 _created gauges near now, got %r" % created)
        if len(points) != 12:
            raise AssertionError("want 12 points, got %d:\n%s" % (
                len(points), "\n".join(repr(p) for p in points)))
    checks.run("push_to_gateway points arrive", push_arrives)

    # pushadd_to_gateway (POST) with a gzip-compressing handler.
    registry2 = CollectorRegistry()
    queue = Gauge("pyclient_queue_depth", "Queue depth.", ["queue"], registry=registry2)
    queue.labels("a").set(7)
    queue.labels("b").set(0.25)

    def pushadd_gzip():
        pushadd_to_gateway(gateway, job="py_pushadd", registry=registry2,
                           grouping_key={"instance": "host-2"}, handler=gzip_handler)
        if gzip_handler.calls != 1:
            raise AssertionError("gzip handler called %d times" % gzip_handler.calls)
    checks.run("pushadd_to_gateway with a gzip handler succeeds", pushadd_gzip)

    def pushadd_arrives():
        points = wait_for_points(receiver, "py_pushadd", 2)
        tags = {"job": "py_pushadd", "instance": "host-2"}
        expect_field(points, "pyclient_queue_depth", dict(tags, queue="a"), 7.0)
        expect_field(points, "pyclient_queue_depth", dict(tags, queue="b"), 0.25)
        if len(points) != 2:
            raise AssertionError("want 2 points, got %r" % points)
    checks.run("pushadd_to_gateway (gzip) points arrive", pushadd_arrives)

    # An empty grouping value: the client sends `instance@base64/=`; an empty label makes no
    # tag.
    def empty_value():
        push_to_gateway(gateway, job="py_empty", registry=registry2,
                        grouping_key={"instance": ""})
        points = wait_for_points(receiver, "py_empty", 2)
        expect_field(points, "pyclient_queue_depth", {"job": "py_empty", "queue": "a"}, 7.0)
    checks.run("empty grouping value (instance@base64/=) is accepted", empty_value)

    checks.run("delete_from_gateway succeeds",
               lambda: delete_from_gateway(gateway, job="py_push", grouping_key=key))

    # The status codes behind those successes, seen through a handler that records them.
    def statuses():
        recorder = RecordingHandler()
        push_to_gateway(gateway, job="py_status", registry=registry2, handler=recorder)
        pushadd_to_gateway(gateway, job="py_status", registry=registry2, handler=recorder)
        delete_from_gateway(gateway, job="py_status", handler=recorder)
        if recorder.statuses != [200, 200, 202]:
            raise AssertionError("want [200, 200, 202], got %r" % recorder.statuses)
    checks.run("status codes are 200, 200 and 202", statuses)

    # A refused push raises in the client, and nothing of it arrives.
    def refused():
        try:
            push_to_gateway(gateway, job="py_refused", registry=registry2,
                            grouping_key={"__reserved": "x"})
        except OSError as e:
            if "400" not in str(e):
                raise AssertionError("want a 400 error, got %r" % e)
        else:
            raise AssertionError("push with grouping label __reserved did not fail")
        # Pushes after it have arrived, so the refused one would have too.
        push_to_gateway(gateway, job="py_after_refused", registry=registry2)
        after = wait_for_points(receiver, "py_after_refused", 2)
        if len(after) < 2:
            raise AssertionError("the push after the refused one did not arrive: %r" % after)
        leaked = wait_for_points(receiver, "py_refused", 1, timeout=0)
        if leaked:
            raise AssertionError("points of a refused push arrived: %r" % leaked)
    checks.run("a refused push raises and uploads nothing", refused)

    # Every point received parsed as line protocol with finite float fields.
    def all_finite():
        for point in receiver.points():
            if not all(math.isfinite(v) for v in point[2].values()):
                raise AssertionError("non-finite field in %r" % (point,))
    checks.run("every uploaded point is well formed", all_finite)


if __name__ == "__main__":
    sys.exit(main())
