"""Where one commit cycle of pushgate's ingest path goes, from a `perf sched record` trace.

Under load the path runs in rounds: the aggregator syncs a batch and sends its acks; the
front answers those pushes and sends the batch that waited meanwhile; the aggregator reads,
checks and writes that batch, syncs it, and acks it. Every push waits for (about) one and a
half of these rounds, so the round is what bounds pushes per second at a fixed number of
connections. The trace shows the round as wake-ups between the two processes:

  acks   an aggregator ingest thread wakes a front thread (the acks reached the front)
  batch  a front thread wakes an aggregator ingest thread (the next batch reached it)

A round is acks -> batch (the front's part: answering, collecting and sending the next batch)
-> acks (the aggregator's part: reading, checking, writing and syncing it). A wake-up only
shows when its thread was asleep, so rounds whose hand-off found the thread running merge
into longer ones; medians are reported for that reason.

Used by tools/bench --sched_profile; runs alone as
  commit_cycle.py PERF_DATA AGGREGATOR_PID FRONT_PID
"""

import re
import statistics
import subprocess
import sys

# "  32634.395639 [0001]  ingest-0[9432/9421]   awakened: ingest-read[9442/9435]"
_WAKE = re.compile(r"^\s*([\d.]+)\s+\[\d+\]\s+(.+?)\[(\d+)(?:/(\d+))?\]\s+awakened:\s+"
                   r"(.+?)\[(\d+)(?:/(\d+))?\]")


def wakeups(perf_data):
    """(seconds, waker name, waker pid, wakee name, wakee pid) for every wake-up traced."""
    out = subprocess.run(["perf", "sched", "timehist", "-i", perf_data, "-w"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = _WAKE.match(line)
        if not m:
            continue
        # A single-threaded process shows as name[pid]: its thread id is its pid.
        waker_pid = int(m.group(4) or m.group(3))
        wakee_pid = int(m.group(7) or m.group(6))
        yield float(m.group(1)), m.group(2), waker_pid, m.group(5), wakee_pid


def rounds(events, aggregator_pid, front_pid):
    """[(acks, batch, next acks)] times of each complete round, in seconds."""
    acks_at, batch_at, found = None, None, []
    for t, waker, waker_pid, wakee, wakee_pid in events:
        if waker_pid == aggregator_pid and wakee_pid == front_pid and waker.startswith("ingest-"):
            if acks_at is not None and batch_at is not None:
                found.append((acks_at, batch_at, t))
            acks_at, batch_at = t, None
        elif (waker_pid == front_pid and wakee_pid == aggregator_pid and
              wakee.startswith("ingest-") and acks_at is not None and batch_at is None):
            batch_at = t
    return found


def summarize(perf_data, aggregator_pid, front_pid):
    """Medians of the round and its two parts, in microseconds; None without rounds."""
    found = rounds(wakeups(perf_data), aggregator_pid, front_pid)
    if not found:
        return None
    us = lambda values: round(statistics.median(values) * 1e6)
    return {
        "rounds": len(found),
        "round_us": us([c - a for a, _, c in found]),
        "front_us": us([b - a for a, b, _ in found]),
        "aggregator_us": us([c - b for _, b, c in found]),
    }


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    summary = summarize(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    if summary is None:
        sys.exit("no commit rounds in the trace")
    print("%(rounds)d rounds: median %(round_us)d us; front (acks to next batch) "
          "%(front_us)d us, aggregator (batch to its acks) %(aggregator_us)d us" % summary)


if __name__ == "__main__":
    main()
