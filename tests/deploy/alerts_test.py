"""Checks deploy/alerts.yaml: Prometheus loads it, its alerts fire when and as they should, and
every metric it names is one the services export.

promtool checks the rules' syntax and runs the unit tests in alerts_test.yaml, but it cannot
know pushgate's metrics: a misspelt name is a valid query that never matches, so its alert
would never fire. The names are checked against the /metrics of a front and an aggregator
started here, after a push has gone through both.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

import yaml

RUNFILES = os.path.join(os.environ.get("TEST_SRCDIR", ""), "pushgate")
RULES = os.path.join(RUNFILES, "deploy", "alerts.yaml")
RULE_TESTS = os.path.join(RUNFILES, "tests", "deploy", "alerts_test.yaml")
FRONT = os.path.join(RUNFILES, "services", "front", "pushgate-front")
AGGREGATOR = os.path.join(RUNFILES, "services", "aggregator", "pushgate-aggregator")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, data=None, method="GET"):
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode()


def wait_until(condition, what, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def exported_names(metrics_text):
    """The series names a /metrics page can have, histograms' _bucket/_sum/_count included."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", metrics_text, re.MULTILINE):
        names.add(name)
        if kind in ("histogram", "summary"):
            names.update({name + "_bucket", name + "_sum", name + "_count"})
    return names


class AlertsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(RULES) as f:
            cls.groups = yaml.safe_load(f)["groups"]
        cls.alerts = [rule for group in cls.groups for rule in group["rules"]]

    def test_prometheus_loads_the_rules(self):
        result = subprocess.run([PROMTOOL, "check", "rules", RULES], capture_output=True,
                                text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("%d rules found" % len(self.alerts), result.stdout)

    def test_alerts_fire_when_and_as_they_should(self):
        # promtool finds the rules relative to the test file, as laid out in the repository.
        result = subprocess.run([PROMTOOL, "test", "rules", RULE_TESTS], capture_output=True,
                                text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("SUCCESS", result.stdout)

    def test_every_alert_is_tested_and_says_how_bad_and_what(self):
        with open(RULE_TESTS) as f:
            tests = yaml.safe_load(f)["tests"]
        tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]
                  if case.get("exp_alerts")}
        for alert in self.alerts:
            name = alert["alert"]
            self.assertIn(name, tested, "no test makes %s fire" % name)
            self.assertIn(alert["labels"].get("severity"), ("warning", "critical"), name)
            self.assertTrue(alert["annotations"].get("summary"), name)
            self.assertTrue(alert["annotations"].get("description"), name)

    def test_every_metric_named_is_exported(self):
        named = set()
        for alert in self.alerts:
            named.update(re.findall(r"\b(pushgate_[a-z0-9_]+)", alert["expr"]))
        self.assertGreater(len(named), 10)

        data_dir = tempfile.mkdtemp()
        grpc_port, http_port, front_port = free_port(), free_port(), free_port()
        processes = []
        try:
            processes.append(subprocess.Popen(
                [AGGREGATOR, "--grpc_listen=127.0.0.1:%d" % grpc_port,
                 "--http_listen=127.0.0.1:%d" % http_port, "--data_dir=" + data_dir,
                 "--flush_interval=100ms"], stderr=subprocess.DEVNULL))
            processes.append(subprocess.Popen(
                [FRONT, "--listen=127.0.0.1:%d" % front_port,
                 "--aggregator=127.0.0.1:%d" % grpc_port], stderr=subprocess.DEVNULL))
            front = "http://127.0.0.1:%d" % front_port
            aggregator = "http://127.0.0.1:%d" % http_port
            wait_until(lambda: get(front + "/-/ready")[0] == 200, "the front to be ready")
            status, _ = get(front + "/metrics/job/alerts", data=b"up 1\n", method="PUT")
            self.assertEqual(status, 200)
            # Per-backend series appear with the first upload.
            wait_until(lambda: "pushgate_aggregator_upload_points_total{" in
                       get(aggregator + "/metrics")[1], "the push to be uploaded")
            exported = (exported_names(get(front + "/metrics")[1]) |
                        exported_names(get(aggregator + "/metrics")[1]))
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
            shutil.rmtree(data_dir, ignore_errors=True)
        self.assertEqual(sorted(named - exported), [],
                         "alerts name metrics that neither service exports")


if __name__ == "__main__":
    unittest.main()
