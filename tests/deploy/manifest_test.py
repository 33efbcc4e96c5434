"""Checks deploy/pushgate.yaml against what the binaries and the image really are.

A manifest is only read by a cluster, so nothing else notices a flag the binaries do not
have (the container would exit at start), a probe on a port no container opens, or a spool
on a volume that dies with the pod (acknowledged pushes lost on every rollout).
"""
import os
import re
import subprocess
import unittest

import yaml

RUNFILES = os.path.join(os.environ.get("TEST_SRCDIR", ""), "pushgate")
MANIFEST = os.path.join(RUNFILES, "deploy", "pushgate.yaml")
DOCKERFILE = os.path.join(RUNFILES, "deploy", "Dockerfile")
POD_MONITOR = os.path.join(RUNFILES, "deploy", "podmonitor.yaml")
BINARIES = {
    "/usr/local/bin/pushgate-front": os.path.join(RUNFILES, "services", "front", "pushgate-front"),
    "/usr/local/bin/pushgate-aggregator": os.path.join(RUNFILES, "services", "aggregator",
                                                       "pushgate-aggregator"),
}


def flags_of(binary):
    """The flag names a binary defines, from its --helpfull."""
    out = subprocess.run([binary, "--helpfull"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"^\s+--([a-z0-9_]+) ", out.stdout + out.stderr, re.MULTILINE))


def pod_templates(documents):
    """(workload name, pod spec, volume claim template names) of each workload."""
    for doc in documents:
        if doc["kind"] in ("StatefulSet", "Deployment"):
            claims = {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
            yield doc["metadata"]["name"], doc["spec"]["template"], claims


class ManifestTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(MANIFEST) as f:
            cls.documents = [d for d in yaml.safe_load_all(f) if d]
        cls.flags = {path: flags_of(binary) for path, binary in BINARIES.items()}

    def containers(self):
        for name, template, claims in pod_templates(self.documents):
            for container in template["spec"]["containers"]:
                yield name, template, claims, container

    def test_every_flag_exists_in_its_binary(self):
        checked = 0
        for workload, _, _, container in self.containers():
            command = container["command"][0]
            self.assertIn(command, self.flags, "%s runs an unknown binary" % workload)
            for arg in container.get("args", []):
                name = re.match(r"--([a-z0-9_]+)(=|$)", arg)
                self.assertIsNotNone(name, "%s: %r is not a --flag" % (workload, arg))
                self.assertIn(name.group(1), self.flags[command],
                              "%s/%s: %s has no flag --%s" % (workload, container["name"],
                                                              command, name.group(1)))
                checked += 1
        self.assertGreater(checked, 5)

    def test_probes_and_services_use_ports_the_containers_open(self):
        ports = {}  # port name -> number, over every container
        for _, _, _, container in self.containers():
            for port in container.get("ports", []):
                ports[port["name"]] = port["containerPort"]
                if port["name"] == "push":
                    self.assertIn("--listen=0.0.0.0:%d" % port["containerPort"], container["args"])
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if probe in container:
                    port = container[probe]["httpGet"]["port"]
                    self.assertIn(port, list(ports) + list(ports.values()),
                                  "%s %s on a port no container opens" % (container["name"],
                                                                          probe))
                    self.assertIn(container[probe]["httpGet"]["path"], ("/-/ready", "/-/healthy"))
        for doc in self.documents:
            if doc["kind"] == "Service":
                for port in doc["spec"]["ports"]:
                    self.assertIn(port["targetPort"], ports, doc["metadata"]["name"])

    def test_the_pod_monitor_scrapes_both_services_of_pushgates_pods(self):
        with open(POD_MONITOR) as f:
            monitor = yaml.safe_load(f)
        self.assertEqual(monitor["kind"], "PodMonitor")
        selector = monitor["spec"]["selector"]["matchLabels"]
        scraped = {(e["port"], e["path"]) for e in monitor["spec"]["podMetricsEndpoints"]}
        # Every pod it selects serves /metrics on some of those ports, and between them the
        # pods serve both the front's and the aggregator's.
        binaries = set()
        for workload, template, _, container in self.containers():
            labels = template["metadata"]["labels"]
            self.assertTrue(all(labels.get(k) == v for k, v in selector.items()), workload)
            for port in container.get("ports", []):
                if (port["name"], "/metrics") in scraped:
                    binaries.add(os.path.basename(container["command"][0]))
        self.assertEqual(binaries, {"pushgate-front", "pushgate-aggregator"})

    def test_the_aggregator_may_replay_its_spool_before_liveness_counts(self):
        # Its health endpoints answer only once the spool is open, and opening checks every
        # record: a liveness probe's default 30 s would kill it in a loop on a slow volume.
        aggregators = 0
        for _, _, _, container in self.containers():
            if not container["command"][0].endswith("pushgate-aggregator"):
                continue
            aggregators += 1
            startup = container.get("startupProbe")
            self.assertIsNotNone(startup, "the aggregator has no startupProbe")
            allowed = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
            self.assertGreaterEqual(allowed, 120)
        self.assertGreater(aggregators, 0)

    def test_the_spool_is_on_a_volume_claim_not_on_the_pod(self):
        aggregators = 0
        for workload, template, claims, container in self.containers():
            if not container["command"][0].endswith("pushgate-aggregator"):
                continue
            aggregators += 1
            data_dir = next(a.split("=", 1)[1] for a in container["args"]
                            if a.startswith("--data_dir="))
            mount = next(m for m in container["volumeMounts"] if m["mountPath"] == data_dir)
            self.assertIn(mount["name"], claims,
                          "%s: the spool in %s must be on a PersistentVolumeClaim" % (workload,
                                                                                       data_dir))
            pod_volumes = {v["name"] for v in template["spec"].get("volumes", [])}
            self.assertNotIn(mount["name"], pod_volumes)
        self.assertEqual(aggregators, 1)

    def test_pods_run_as_the_image_user_and_never_pull_a_missing_image(self):
        with open(DOCKERFILE) as f:
            dockerfile = f.read()
        uid = re.search(r"useradd .*--uid (\d+)", dockerfile).group(1)
        for workload, template, _, container in self.containers():
            security = template["spec"]["securityContext"]
            self.assertEqual(str(security["runAsUser"]), uid, workload)
            if any(c["command"][0].endswith("pushgate-aggregator")
                   for c in template["spec"]["containers"]):
                self.assertEqual(str(security["fsGroup"]), uid, workload)
            self.assertEqual(container["imagePullPolicy"], "IfNotPresent", workload)
            # The front drains for 10 s on SIGTERM; the aggregator needs some after that.
            self.assertGreaterEqual(template["spec"]["terminationGracePeriodSeconds"], 20)

    def test_pods_meet_the_restricted_pod_security_standard(self):
        for workload, template, _, container in self.containers():
            pod = template["spec"]["securityContext"]
            self.assertIs(pod.get("runAsNonRoot"), True, workload)
            self.assertEqual(pod.get("seccompProfile"), {"type": "RuntimeDefault"}, workload)
            own = container.get("securityContext", {})
            self.assertIs(own.get("allowPrivilegeEscalation"), False, container["name"])
            self.assertEqual(own.get("capabilities", {}).get("drop"), ["ALL"], container["name"])

    def test_shutdown_leaves_time_to_leave_the_services_then_to_drain(self):
        # Kubernetes takes a pod out of its Services while it signals it: a front that stopped
        # listening at once would refuse the clients still sent to it. Each front waits first,
        # the aggregator longer (so the fronts' last pushes reach it), all within the grace.
        drain = 10  # the front's --drain_timeout default; the aggregator needs < 10 s more
        for workload, template, _, container in self.containers():
            hook = container.get("lifecycle", {}).get("preStop", {}).get("exec", {})
            command = hook.get("command", [])
            self.assertEqual(command[:1], ["sleep"], "%s/%s has no preStop wait" %
                             (workload, container["name"]))
            wait = int(command[1])
            grace = template["spec"]["terminationGracePeriodSeconds"]
            if container["command"][0].endswith("pushgate-front"):
                self.assertGreaterEqual(wait, 3, workload)
                self.assertGreater(grace, wait + drain, workload)
                front_wait = wait
            else:
                self.assertGreaterEqual(wait, front_wait + drain, workload)
                self.assertGreater(grace, wait + 10, workload)

    def test_the_statefulset_is_governed_by_a_headless_service_of_its_pods(self):
        services = {d["metadata"]["name"]: d for d in self.documents if d["kind"] == "Service"}
        for doc in self.documents:
            if doc["kind"] != "StatefulSet":
                continue
            service = services[doc["spec"]["serviceName"]]
            self.assertEqual(service["spec"].get("clusterIP"), "None")
            labels = doc["spec"]["template"]["metadata"]["labels"]
            for key, value in service["spec"]["selector"].items():
                self.assertEqual(labels.get(key), value)


if __name__ == "__main__":
    unittest.main()
