#!/usr/bin/env python3
"""Writes the benchmark's push bodies: one metrics payload in three encodings.

The payload is what a typical service pushes: 40 counter series with 3 labels each, 20 gauges
and 3 histograms of 12 finite buckets (plus +Inf) with _sum and _count. The same metrics are
written as the text format (body.txt), its gzip (body.txt.gz) and delimited protobuf
io.prometheus.client.MetricFamily messages (body.pb), hand-encoded here so that no protobuf
package is needed. Prints a JSON object describing the bodies (sizes, samples per push).

Usage: bodies.py OUT_DIR
"""
import gzip
import json
import os
import struct
import sys

COUNTER, GAUGE, HISTOGRAM = 0, 1, 4  # io.prometheus.client.MetricType

BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]


def families():
    """The payload as (name, help, type, [(labels, value)]) families.

    A histogram's value is (cumulative counts per finite bucket, count, sum).
    """
    out = []
    handlers = ["/items", "/orders", "/users", "/health"]
    out.append(("http_requests_total", "HTTP requests served.",
                COUNTER,
                [((("method", m), ("handler", h), ("code", c)), 1000.0 * (i + 1) + 7)
                 for i, (m, h, c) in enumerate(
                     (m, h, c) for h in handlers for m, c in
                     (("GET", "200"), ("GET", "404"), ("POST", "201"), ("POST", "500")))]))
    out.append(("http_errors_total", "HTTP requests that failed.", COUNTER,
                [((("method", m), ("handler", h), ("reason", r)), 3.0 * (i + 1))
                 for i, (m, h, r) in enumerate(
                     (m, h, r) for h in handlers for m, r in
                     (("GET", "timeout"), ("POST", "validation")))]))
    services = ["billing", "inventory", "search", "auth", "shipping"]
    out.append(("rpc_calls_total", "Outgoing RPCs.",
                COUNTER,
                [((("service", s), ("method", m), ("status", st)), 250.0 * (i + 1) + 0.5)
                 for i, (s, m, st) in enumerate(
                     (s, m, st) for s in services for m, st in
                     (("Get", "OK"), ("List", "UNAVAILABLE")))]))
    out.append(("cache_ops_total", "Cache operations.", COUNTER,
                [((("cache", c), ("op", o), ("result", r)), 12345.0 + i)
                 for i, (c, o, r) in enumerate(
                     (c, o, r) for c in ("sessions", "catalog") for o, r in
                     (("get", "hit"), ("get", "miss"), ("set", "ok")))]))
    gauges = [("process_rss_bytes", "Resident memory size in bytes.", [((), 2.1e8)]),
              ("process_open_fds", "Open file descriptors.", [((), 87.0)]),
              ("process_start_time_seconds", "Start time since the epoch.",
               [((), 1764000000.25)]),
              ("worker_threads", "Worker threads running.", [((), 16.0)]),
              ("queue_depth", "Items waiting, by queue.",
               [((("queue", q),), float(i * 3 + 1)) for i, q in enumerate(
                   ["ingest", "email", "export", "reindex", "thumbnails", "webhooks"])]),
              ("connection_pool_in_use", "Connections checked out, by pool.",
               [((("pool", p),), float(i + 2)) for i, p in enumerate(
                   ["primary", "replica", "cache", "search"])]),
              ("job_last_success_seconds", "Last successful run, by job.",
               [((("job_name", j),), 1764000000.0 + i * 60) for i, j in enumerate(
                   ["compact", "backup", "rollup", "gc", "report", "sync"])])]
    for name, help_text, series in gauges:
        out.append((name, help_text, GAUGE, list(series)))
    hists = [("http_latency_seconds", "Request latency.", (("handler", "/items"),)),
             ("rpc_latency_seconds", "RPC latency.", (("service", "auth"),)),
             ("batch_duration_seconds", "Batch run time.", (("job_name", "gc"),))]
    for k, (name, help_text, labels) in enumerate(hists):
        counts, running = [], 0
        for i in range(len(BUCKETS)):
            running += (i + 1) * (k + 3)
            counts.append(running)
        total = running + 5
        out.append((name, help_text, HISTOGRAM, [(labels, (counts, total, 1234.5 + k))]))
    return out


def fmt_value(v):
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def fmt_labels(labels):
    if not labels:
        return ""
    return "{" + ",".join('%s="%s"' % (n, v) for n, v in labels) + "}"


def text_body(fams):
    lines, samples = [], 0
    for name, help_text, typ, series in fams:
        lines.append("# HELP %s %s" % (name, help_text))
        lines.append("# TYPE %s %s" % (name, {COUNTER: "counter", GAUGE: "gauge",
                                              HISTOGRAM: "histogram"}[typ]))
        for labels, value in series:
            if typ != HISTOGRAM:
                lines.append("%s%s %s" % (name, fmt_labels(labels), fmt_value(value)))
                samples += 1
                continue
            counts, total, total_sum = value
            for bound, count in zip(BUCKETS, counts):
                lines.append("%s_bucket%s %d" % (
                    name, fmt_labels(labels + (("le", fmt_value(bound)),)), count))
            lines.append("%s_bucket%s %d" % (name, fmt_labels(labels + (("le", "+Inf"),)), total))
            lines.append("%s_sum%s %s" % (name, fmt_labels(labels), fmt_value(total_sum)))
            lines.append("%s_count%s %d" % (name, fmt_labels(labels), total))
            samples += len(BUCKETS) + 3
    return ("\n".join(lines) + "\n").encode(), samples


# Protocol buffer wire format, just what MetricFamily needs.
def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_bytes(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_double(number, value):
    return varint(number << 3 | 1) + struct.pack("<d", value)


def protobuf_body(fams):
    out = bytearray()
    for name, help_text, typ, series in fams:
        family = field_bytes(1, name.encode()) + field_bytes(2, help_text.encode())
        family += field_varint(3, typ)
        for labels, value in series:
            metric = b"".join(field_bytes(1, field_bytes(1, n.encode()) + field_bytes(2, v.encode()))
                              for n, v in labels)
            if typ == COUNTER:
                metric += field_bytes(3, field_double(1, value))
            elif typ == GAUGE:
                metric += field_bytes(2, field_double(1, value))
            else:
                counts, total, total_sum = value
                hist = field_varint(1, total) + field_double(2, total_sum)
                # Like the Go client, the +Inf bucket is implied by sample_count.
                for bound, count in zip(BUCKETS, counts):
                    hist += field_bytes(3, field_varint(1, count) + field_double(2, bound))
                metric += field_bytes(7, hist)
            family += field_bytes(4, metric)
        out += varint(len(family)) + family
    return bytes(out)


def main():
    # One argument, a directory: anything else (no argument, --help) gets the usage, not a
    # directory named after it.
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__.strip().splitlines()[-1])
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    fams = families()
    text, samples = text_body(fams)
    bodies = {"text": text, "gzip": gzip.compress(text, 6, mtime=0),
              "protobuf": protobuf_body(fams)}
    files = {"text": "body.txt", "gzip": "body.txt.gz", "protobuf": "body.pb"}
    for kind, data in bodies.items():
        with open(os.path.join(out_dir, files[kind]), "wb") as f:
            f.write(data)
    series = sum(len(s) for _, _, _, s in fams)
    # The protobuf body leaves each histogram's +Inf bucket implied by its count, as the Go
    # client does; pushgate writes that bucket as for the text body, so all three carry the
    # same samples.
    print(json.dumps({
        "samples_per_push": samples,
        "samples_per_push_by_body": {"text": samples, "gzip": samples, "protobuf": samples},
        "series_per_push": series,
        "families": len(fams),
        "files": files,
        "bytes": {kind: len(data) for kind, data in bodies.items()},
    }))


if __name__ == "__main__":
    main()
