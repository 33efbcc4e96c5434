"""Tests of commit_cycle.rounds: which wake-ups make a commit round."""
import unittest

import commit_cycle

AGG, FRONT, WRK = 100, 200, 300


def wake(t, waker, waker_pid, wakee, wakee_pid):
    return (t, waker, waker_pid, wakee, wakee_pid)


class RoundsTest(unittest.TestCase):

    def test_acks_batch_acks_is_one_round(self):
        events = [
            wake(1.000, "ingest-0", AGG, "ingest-read", FRONT),   # acks
            wake(1.001, "ingest-read", FRONT, "wrk", WRK),        # an answer: not a hand-off
            wake(1.002, "ingest-read", FRONT, "ingest-0", AGG),   # the next batch
            wake(1.003, "wrk", WRK, "ingest-0", AGG),             # not from the front
            wake(1.005, "ingest-0", AGG, "ingest-read", FRONT),   # its acks
        ]
        self.assertEqual(commit_cycle.rounds(events, AGG, FRONT), [(1.000, 1.002, 1.005)])

    def test_only_the_first_batch_after_acks_counts(self):
        events = [
            wake(1.000, "ingest-0", AGG, "ingest-read", FRONT),
            wake(1.002, "ingest-read", FRONT, "ingest-0", AGG),
            wake(1.003, "http-1", FRONT, "ingest-0", AGG),
            wake(1.006, "ingest-0", AGG, "ingest-read", FRONT),
            wake(1.007, "ingest-write", FRONT, "ingest-0", AGG),
            wake(1.010, "ingest-0", AGG, "ingest-read", FRONT),
        ]
        self.assertEqual(commit_cycle.rounds(events, AGG, FRONT),
                         [(1.000, 1.002, 1.006), (1.006, 1.007, 1.010)])

    def test_acks_without_a_batch_between_start_over(self):
        events = [
            wake(1.000, "ingest-0", AGG, "ingest-read", FRONT),
            wake(1.004, "ingest-0", AGG, "ingest-read", FRONT),   # the front was awake
            wake(1.005, "ingest-read", FRONT, "ingest-0", AGG),
            wake(1.009, "ingest-0", AGG, "ingest-read", FRONT),
        ]
        self.assertEqual(commit_cycle.rounds(events, AGG, FRONT), [(1.004, 1.005, 1.009)])

    def test_other_aggregator_threads_are_not_acks(self):
        events = [
            wake(1.000, "dispatch", AGG, "ingest-read", FRONT),
            wake(1.002, "ingest-read", FRONT, "upload", AGG),
            wake(1.005, "dispatch", AGG, "ingest-read", FRONT),
        ]
        self.assertEqual(commit_cycle.rounds(events, AGG, FRONT), [])


class WakeLineTest(unittest.TestCase):

    def test_parses_threads_and_single_threaded_processes(self):
        m = commit_cycle._WAKE.match(
            "   32634.395639 [0001]  ingest-0[9432/9421]    awakened: ingest-read[9442/9435]")
        self.assertEqual(m.group(1, 2, 3, 4, 5, 6, 7),
                         ("32634.395639", "ingest-0", "9432", "9421", "ingest-read", "9442",
                          "9435"))
        m = commit_cycle._WAKE.match(
            "   32634.344994 [0000]  swapper    awakened: kworker/1:1H-kb[46]")
        self.assertIsNone(m)  # the idle task has no [pid]
        m = commit_cycle._WAKE.match(
            "   32634.3 [0000]  perf[9468]    awakened: wrk[9466/9465]")
        self.assertEqual(m.group(2, 3, 4), ("perf", "9468", None))


if __name__ == "__main__":
    unittest.main()
