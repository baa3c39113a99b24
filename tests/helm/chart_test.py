"""The weir Helm chart, rendered by Helm itself (`helm template`, the binary
tools/setup installs) with its default values and with every
tests/helm/values-*.yaml, and linted with `helm lint --strict`: each object is
validated against the Kubernetes API schemas (k8s_schema), the objects must fit
together (selectors, named ports, volumes, accounts), the collector may have no
privilege beyond CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, and queryd may never
run as root. Values the chart refuses must fail with a message that says why:
values.schema.json refuses unknown keys, wrong types and values out of range
(tests/helm/invalid/*.yaml, each naming the message it expects), and the
templates refuse what a schema cannot say (and, should the schema be skipped,
running as root). TLS is on by default: the daemons' certificate flags point
into mounted Secret folders, the self-signed certificates Helm makes are
parsed (python3-cryptography) and checked for their names, issuer and usages,
and the secret and certManager sources, tokens and plaintext render as
documented.
"""

import base64
import datetime
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID

import k8s_schema

CHART = "helm/weir"
# What Helm reads: a copy of CHART with its files, not Bazel's symbolic links
# to them (Helm warns about each link); made before the tests run.
CHART_DIR = None
# Where tools/setup installs Helm.
HELM = "/opt/weir-tools/bin/helm"
HELM_MINOR = (3, 17)
VALUES_FILES = sorted(glob.glob("tests/helm/values-*.yaml"))
INVALID_FILES = sorted(glob.glob("tests/helm/invalid/*.yaml"))
# Values files that need an extra API: the ServiceMonitor's, cert-manager's.
API_VERSIONS = ["monitoring.coreos.com/v1", "cert-manager.io/v1"]
# Where the daemons find their certificates and tokens.
TLS_DIR = "/etc/weir/tls"
AUTH_DIR = "/etc/weir/auth"
# The names of queryd's certificate for release "weir" in namespace "weir".
SERVER_DNS_NAMES = [
    f"{svc}{suffix}"
    for svc in ("weir-queryd", "weir-queryd-ingest", "weir-queryd-headless")
    for suffix in ("", ".weir", ".weir.svc", ".weir.svc.cluster.local")
] + ["weir-queryd-0.weir-queryd-headless.weir.svc", "weir-queryd-0.weir-queryd-headless.weir.svc.cluster.local"]

COLLECTOR_CAPS = {"BPF", "NET_ADMIN", "PERFMON"}
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")
SCHEMA_ERROR = "values don't meet the specifications of the schema(s)"


def helm(*args):
    """Runs Helm; returns (exit status, stdout, stderr)."""
    p = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def render(*args, chart=None):
    """`helm template` of the chart as release "weir" in namespace "weir"."""
    cmd = ["template", "weir", chart or CHART_DIR, "--namespace", "weir"]
    for api in API_VERSIONS:
        cmd += ["--api-versions", api]
    return helm(*cmd, *args)


def render_objects(*args):
    rc, out, err = render(*args)
    if rc != 0:
        raise AssertionError(f"helm template {args} failed ({rc}):\n{err}")
    objects = [o for o in yaml.safe_load_all(out) if o is not None]
    if not objects:
        raise AssertionError(f"helm template {args} gave no objects")
    return objects


def render_notes(*args):
    """NOTES.txt as Helm renders it for an install. `helm template` does not
    print it, so a copy of the chart gets one more template that includes it
    (Helm names every template by its path) into a ConfigMap."""
    work = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    chart = os.path.join(work, "weir")
    shutil.copytree(CHART_DIR, chart)
    with open(os.path.join(chart, "templates", "zz-notes.yaml"), "w") as f:
        f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
                "data:\n  notes: {{ include \"weir/templates/NOTES.txt\" . | toJson }}\n")
    rc, out, err = render(*args, "--show-only", "templates/zz-notes.yaml", chart=chart)
    shutil.rmtree(work)
    if rc != 0:
        return rc, "", err
    return rc, yaml.safe_load(out)["data"]["notes"], err


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def pod_templates(objects):
    """(owner, pod template) of every workload."""
    return [(o, o["spec"]["template"]) for o in objects
            if o["kind"] in ("DaemonSet", "StatefulSet", "Deployment")]


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def container(objects, kind):
    """The one container of the chart's DaemonSet or StatefulSet, and its pod spec."""
    (w,) = by_kind(objects, kind)
    pod = w["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    return c, pod


def secret_pem(secret, key):
    return base64.b64decode(secret["data"][key])


def not_after(cert):
    """A certificate's notAfter, in UTC (Debian's python3-cryptography 38
    has only the naive form)."""
    return cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def not_before(cert):
    return cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


class ChartTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not os.access(HELM, os.X_OK):
            raise AssertionError(f"{HELM} is missing: run tools/setup (as root) to install Helm")
        cls.renders = {"defaults": render_objects()}
        for f in VALUES_FILES:
            cls.renders[os.path.basename(f)] = render_objects("-f", f)

    def each_render(self):
        for name, objects in self.renders.items():
            with self.subTest(values=name):
                yield name, objects

    def each_only(self, kind):
        """(render name, its one object of `kind`) for each render that has one."""
        for name, objects in self.each_render():
            found = by_kind(objects, kind)
            if found:
                (obj,) = found
                yield name, obj

    def test_values_files_exist(self):
        self.assertGreaterEqual(len(VALUES_FILES), 4, VALUES_FILES)

    def test_every_object_matches_the_kubernetes_schema(self):
        for name, objects in self.each_render():
            for obj in objects:
                try:
                    k8s_schema.validate(obj)
                except k8s_schema.SchemaError as e:
                    self.fail(f"{name}: {e}")

    def test_the_validator_catches_mistakes(self):
        # The validator itself: a misspelt field, a wrong type, a missing
        # required field, an unknown kind.
        ds = next(o for o in self.renders["defaults"] if o["kind"] == "DaemonSet")
        container = ds["spec"]["template"]["spec"]["containers"][0]
        for mutate, expect in [
            (lambda c: c.__setitem__("imagePullPolicyy", "Always"), "unknown field 'imagePullPolicyy'"),
            (lambda c: c["ports"][0].__setitem__("containerPort", "9101"), "want an integer"),
            (lambda c: c["securityContext"].__setitem__("privileged", "false"), "want true or false"),
            (lambda c: c.pop("name"), "`name`, must not be `None`"),
        ]:
            broken = yaml.safe_load(yaml.safe_dump(ds))
            mutate(broken["spec"]["template"]["spec"]["containers"][0])
            with self.assertRaises(k8s_schema.SchemaError) as caught:
                k8s_schema.validate(broken)
            self.assertIn(expect, str(caught.exception))
        with self.assertRaises(k8s_schema.SchemaError):
            k8s_schema.validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "x"}})
        self.assertEqual(container["name"], "collector")

    def test_names_and_labels_are_valid(self):
        for name, objects in self.each_render():
            seen = set()
            for obj in objects:
                meta = obj["metadata"]
                key = (obj["kind"], meta.get("namespace"), meta["name"])
                self.assertNotIn(key, seen, f"{name}: duplicate object {key}")
                seen.add(key)
                self.assertRegex(meta["name"], DNS1123_SUBDOMAIN)
                if obj["kind"] in ("Service", "DaemonSet", "StatefulSet"):
                    self.assertRegex(meta["name"], DNS1123_LABEL)
                    self.assertLessEqual(len(meta["name"]), 63 if obj["kind"] != "StatefulSet" else 52)
                self.assertEqual(meta.get("namespace"), "weir" if obj["kind"] != "ServiceMonitor"
                                 else meta.get("namespace"))
                labels = dict(meta.get("labels", {}))
                for _, tmpl in pod_templates([obj]):
                    labels.update(tmpl["metadata"].get("labels", {}))
                for k, v in labels.items():
                    self.assertIsInstance(v, str, f"{name}: label {k}")
                    self.assertLessEqual(len(v), 63, f"{name}: label {k}={v}")
                    self.assertRegex(v, LABEL_VALUE, f"{name}: label {k}={v}")

    def test_objects_fit_together(self):
        for name, objects in self.each_render():
            workloads = pod_templates(objects)
            accounts = {o["metadata"]["name"] for o in by_kind(objects, "ServiceAccount")}
            services = {o["metadata"]["name"]: o for o in by_kind(objects, "Service")}
            for owner, tmpl in workloads:
                where = f"{name}: {owner['kind']} {owner['metadata']['name']}"
                labels = tmpl["metadata"]["labels"]
                self.assertTrue(matches(owner["spec"]["selector"]["matchLabels"], labels),
                                f"{where}: selector does not match the pod template")
                spec = tmpl["spec"]
                sa = spec.get("serviceAccountName", "default")
                self.assertTrue(sa in accounts or sa == "default" or "serviceaccount" in name,
                                f"{where}: ServiceAccount {sa} is not rendered")
                self.assertIs(spec.get("automountServiceAccountToken"), False,
                              f"{where}: the API token is mounted, and neither binary uses it")
                volumes = {v["name"] for v in spec.get("volumes", [])}
                volumes |= {c["metadata"]["name"] for c in owner["spec"].get("volumeClaimTemplates", [])}
                for c in spec["containers"]:
                    port_names = {p["name"] for p in c.get("ports", [])}
                    for p in c.get("ports", []):
                        self.assertRegex(p["name"], IANA_SVC_NAME, f"{where}: port name")
                    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                        get = c.get(probe, {}).get("httpGet")
                        if get and isinstance(get["port"], str):
                            self.assertIn(get["port"], port_names, f"{where}: {probe} port")
                    for m in c.get("volumeMounts", []):
                        self.assertIn(m["name"], volumes, f"{where}: volumeMount {m['name']}")
                    env = {e["name"] for e in c.get("env", [])}
                    for arg in c.get("args", []):
                        for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", arg):
                            self.assertIn(ref, env, f"{where}: argument {arg} uses an unset variable")
                if owner["kind"] == "StatefulSet":
                    governing = services.get(owner["spec"]["serviceName"])
                    self.assertIsNotNone(governing, f"{where}: serviceName has no Service")
                    self.assertEqual(governing["spec"].get("clusterIP"), "None")
            for svc in services.values():
                where = f"{name}: Service {svc['metadata']['name']}"
                pods = [t for _, t in workloads if matches(svc["spec"]["selector"], t["metadata"]["labels"])]
                self.assertTrue(pods, f"{where}: selects no pod")
                for port in svc["spec"]["ports"]:
                    target = port.get("targetPort", port["port"])
                    if isinstance(target, str):
                        self.assertTrue(any(target in {p["name"] for c in t["spec"]["containers"]
                                                       for p in c.get("ports", [])} for t in pods),
                                        f"{where}: targetPort {target} is no container port")
            for np in by_kind(objects, "NetworkPolicy"):
                pods = [t for _, t in workloads
                        if matches(np["spec"]["podSelector"]["matchLabels"], t["metadata"]["labels"])]
                self.assertTrue(pods, f"{name}: NetworkPolicy selects no pod")
                names = {p["name"] for t in pods for c in t["spec"]["containers"] for p in c.get("ports", [])}
                for rule in np["spec"]["ingress"]:
                    for p in rule["ports"]:
                        self.assertIn(p["port"], names, f"{name}: NetworkPolicy port")
            for sm in by_kind(objects, "ServiceMonitor"):
                targets = [s for s in services.values()
                           if matches(sm["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
                self.assertEqual(len(targets), 1, f"{name}: ServiceMonitor {sm['metadata']['name']} services")
                port_names = {p["name"] for p in targets[0]["spec"]["ports"]}
                for ep in sm["spec"]["endpoints"]:
                    self.assertIn(ep["port"], port_names)
                    component = sm["metadata"]["labels"]["app.kubernetes.io/component"]
                    self.assertIn({"targetLabel": "job", "replacement": "weir-" + component},
                                  ep["relabelings"], "the job label the alerts expect")

    def test_no_rbac(self):
        for name, objects in self.each_render():
            kinds = {o["kind"] for o in objects}
            self.assertFalse(kinds & {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"},
                             f"{name}: neither binary calls the Kubernetes API; no RBAC is needed")

    def test_collector_has_exactly_three_capabilities(self):
        for name, ds in self.each_only("DaemonSet"):
            pod = ds["spec"]["template"]["spec"]
            self.assertTrue(pod.get("hostNetwork"), f"{name}: the collector observes the host's interfaces")
            self.assertEqual(pod.get("dnsPolicy"), "ClusterFirstWithHostNet")
            for field in ("hostPID", "hostIPC"):
                self.assertFalse(pod.get(field, False), f"{name}: {field}")
            self.assertFalse(pod.get("initContainers"), f"{name}: init containers would need checking too")
            pod_sc = pod.get("securityContext") or {}
            self.assertNotIn("sysctls", pod_sc)
            (c,) = pod["containers"]
            sc = c["securityContext"]
            self.assertIs(sc.get("privileged"), False, f"{name}: privileged must be explicitly false")
            self.assertIs(sc.get("allowPrivilegeEscalation"), False, f"{name}: allowPrivilegeEscalation")
            self.assertIs(sc.get("readOnlyRootFilesystem"), True, f"{name}: readOnlyRootFilesystem")
            caps = sc["capabilities"]
            self.assertEqual(caps.get("drop"), ["ALL"], f"{name}: drop ALL")
            self.assertEqual(set(caps.get("add", [])), COLLECTOR_CAPS, f"{name}: capabilities added")
            self.assertEqual(len(caps["add"]), 3)
            self.assertNotIn("SYS_ADMIN", caps["add"])
            self.assertNotIn(sc.get("seccompProfile", {}).get("type"), ("Unconfined",),
                             f"{name}: seccomp left unconfined")
            # The only host paths: the bpffs (read-write, for pins), the
            # kernel BTF (read-only) and the spool's folder (read-write, the
            # one the collector is told to spool in).
            host_paths = {v["name"]: v["hostPath"] for v in pod["volumes"] if "hostPath" in v}
            self.assertEqual(set(host_paths), {"bpffs", "btf", "spool"}, f"{name}: host paths")
            self.assertEqual(host_paths["btf"]["type"], "File")
            mounts = {m["name"]: m for m in c["volumeMounts"]}
            self.assertEqual(host_paths["spool"]["type"], "DirectoryOrCreate")
            self.assertEqual(mounts["spool"]["mountPath"], host_paths["spool"]["path"])
            self.assertIn("--spool-dir=" + mounts["spool"]["mountPath"], c["args"])
            self.assertTrue(mounts["btf"].get("readOnly"), f"{name}: BTF must be read-only")
            self.assertTrue(host_paths["bpffs"]["path"].startswith("/sys/fs/bpf"))
            self.assertNotIn("mountPropagation", mounts["bpffs"],
                             f"{name}: Bidirectional propagation needs a privileged container")
            # Node name from the downward API; pins inside the bpffs.
            env = {e["name"]: e for e in c["env"]}
            self.assertEqual(env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName")
            self.assertIn("--node=$(NODE_NAME)", c["args"])
            pin = next(a for a in c["args"] if a.startswith("--pin-path="))
            self.assertTrue(pin.split("=", 1)[1].startswith(mounts["bpffs"]["mountPath"] + "/"))
            self.assertTrue(any(a.startswith("--queryd=") for a in c["args"]))
            self.assertEqual(c["command"], ["/usr/bin/weir-collector"])

    def test_collector_runs_everywhere_by_default(self):
        ds = by_kind(self.renders["defaults"], "DaemonSet")[0]
        self.assertEqual(ds["spec"]["template"]["spec"]["tolerations"], [{"operator": "Exists"}])
        self.assertIn("--keep-attached", ds["spec"]["template"]["spec"]["containers"][0]["args"])

    def test_queryd_never_runs_as_root(self):
        for name, sts in self.each_only("StatefulSet"):
            self.assertEqual(sts["spec"]["replicas"], 1, f"{name}: queryd is one instance")
            pod = sts["spec"]["template"]["spec"]
            psc = pod["securityContext"]
            self.assertIs(psc.get("runAsNonRoot"), True, f"{name}: pod runAsNonRoot")
            self.assertIsInstance(psc.get("runAsUser"), int)
            self.assertNotEqual(psc["runAsUser"], 0, f"{name}: pod runAsUser")
            for c in pod["containers"] + pod.get("initContainers", []):
                sc = c["securityContext"]
                self.assertNotEqual(sc.get("runAsNonRoot"), False, f"{name}: {c['name']} runAsNonRoot")
                self.assertNotEqual(sc.get("runAsUser", psc["runAsUser"]), 0, f"{name}: {c['name']} runAsUser")
                self.assertIs(sc.get("readOnlyRootFilesystem"), True, f"{name}: readOnlyRootFilesystem")
                self.assertIs(sc.get("allowPrivilegeEscalation"), False)
                self.assertIs(sc.get("privileged", False), False)
                self.assertEqual(sc["capabilities"].get("drop"), ["ALL"])
                self.assertFalse(sc["capabilities"].get("add"), f"{name}: queryd adds capabilities")
                self.assertNotIn("--allow-root", " ".join(c.get("args", [])))
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    self.assertEqual(c[probe]["httpGet"]["path"], "/v1/health", f"{name}: {probe}")
                    self.assertEqual(c[probe]["httpGet"]["port"], "http", f"{name}: {probe}")
            self.assertFalse(pod.get("hostNetwork", False))
            self.assertFalse(any("hostPath" in v for v in pod.get("volumes", [])))

    def test_queryd_store_on_a_claim(self):
        sts = by_kind(self.renders["defaults"], "StatefulSet")[0]
        (claim,) = sts["spec"]["volumeClaimTemplates"]
        self.assertEqual(claim["metadata"]["name"], "data")
        self.assertEqual(claim["spec"]["resources"]["requests"]["storage"], "20Gi")
        mounts = {m["name"]: m["mountPath"] for m in sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
        self.assertEqual(mounts["data"], "/var/lib/weir")
        self.assertIn("--data-dir=/var/lib/weir", sts["spec"]["template"]["spec"]["containers"][0]["args"])

    def test_services_and_scrape_annotations(self):
        objects = self.renders["defaults"]
        services = {o["metadata"]["name"]: o for o in by_kind(objects, "Service")}
        self.assertEqual({p["name"]: p["port"] for p in services["weir-queryd"]["spec"]["ports"]},
                         {"grpc-query": 7701, "http": 7700})
        self.assertEqual({p["name"]: p["port"] for p in services["weir-queryd-ingest"]["spec"]["ports"]},
                         {"grpc-ingest": 7701})
        self.assertEqual({p["name"]: p["port"] for p in services["weir-collector-metrics"]["spec"]["ports"]},
                         {"metrics": 9101})
        ds = by_kind(objects, "DaemonSet")[0]
        args = ds["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertIn("--queryd=weir-queryd-ingest.weir.svc:7701", args)
        for workload, port, scheme in ((ds, "9101", {}),
                                       (by_kind(objects, "StatefulSet")[0], "7700",
                                        {"prometheus.io/scheme": "https"})):
            ann = workload["spec"]["template"]["metadata"]["annotations"]
            self.assertEqual(ann, {"prometheus.io/scrape": "true", "prometheus.io/port": port,
                                   "prometheus.io/path": "/metrics", **scheme})
        self.assertFalse(by_kind(objects, "ServiceMonitor"))

    def test_service_monitor_values(self):
        objects = self.renders["values-servicemonitor.yaml"]
        sms = {o["metadata"]["name"]: o for o in by_kind(objects, "ServiceMonitor")}
        self.assertEqual(set(sms), {"weir-queryd", "weir-collector"})
        for sm in sms.values():
            self.assertEqual(sm["metadata"]["namespace"], "monitoring")
            self.assertEqual(sm["metadata"]["labels"]["release"], "prometheus")
            self.assertEqual(sm["spec"]["namespaceSelector"], {"matchNames": ["weir"]})
            self.assertEqual(sm["spec"]["endpoints"][0]["interval"], "15s")

    def test_network_policy_admits_only_collectors_to_grpc(self):
        objects = self.renders["values-networkpolicy.yaml"]
        (np,) = by_kind(objects, "NetworkPolicy")
        grpc_rule, http_rule = np["spec"]["ingress"]
        self.assertEqual(grpc_rule["ports"], [{"port": "grpc", "protocol": "TCP"}])
        peers = grpc_rule["from"]
        self.assertIn({"ipBlock": {"cidr": "198.51.100.0/24"}}, peers)
        self.assertIn({"ipBlock": {"cidr": "2001:db8::/64"}}, peers)
        self.assertIn({"podSelector": {"matchLabels": {
            "app.kubernetes.io/name": "weir", "app.kubernetes.io/instance": "weir",
            "app.kubernetes.io/component": "collector"}}}, peers)
        self.assertEqual(len(peers), 3, "only the collectors reach ingest")
        self.assertEqual(http_rule["ports"], [{"port": "http", "protocol": "TCP"}])
        self.assertEqual(len(http_rule["from"]), 1)
        self.assertEqual(np["spec"]["policyTypes"], ["Ingress"])

    def test_custom_resources_and_placement(self):
        objects = self.renders["values-resources.yaml"]
        ds = by_kind(objects, "DaemonSet")[0]
        c = ds["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(c["resources"], {"requests": {"cpu": "100m", "memory": "128Mi"},
                                          "limits": {"cpu": 2, "memory": "1Gi"}})
        self.assertIn("--map-size=262144", c["args"])
        sts = by_kind(objects, "StatefulSet")[0]
        claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
        self.assertEqual(claim["storageClassName"], "fast-ssd")
        self.assertEqual(claim["resources"]["requests"]["storage"], "200Gi")
        args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertIn("--retention-raw=72h", args)
        self.assertIn("--metrics-top-k=1000000", args)
        self.assertIn("--rollup-buffer-keys=1048576", args)
        self.assertIn("--rollup-flush-interval=30s", args)

        objects = self.renders["values-nodeselector.yaml"]
        for _, tmpl in pod_templates(objects):
            spec = tmpl["spec"]
            self.assertEqual(spec["nodeSelector"]["weir.example/monitored"], "true")
            self.assertEqual(spec["imagePullSecrets"], [{"name": "registry"}])
            self.assertEqual(spec["containers"][0]["image"],
                             "registry.example/weir@sha256:" + "0" * 64)
        ds = by_kind(objects, "DaemonSet")[0]
        self.assertEqual(ds["spec"]["template"]["spec"]["priorityClassName"], "system-node-critical")
        self.assertEqual(ds["spec"]["template"]["spec"]["tolerations"],
                         [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                           "effect": "NoSchedule"}])
        self.assertNotIn("annotations", ds["spec"]["template"]["metadata"])

    def test_collector_only_and_ipv6(self):
        objects = self.renders["values-external-queryd.yaml"]
        self.assertEqual({o["kind"] for o in objects}, {"DaemonSet", "Service"})
        args = by_kind(objects, "DaemonSet")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertIn("--queryd=queryd.example.internal:7701", args)
        self.assertIn("--metrics-address=[::]:9101", args)
        self.assertIn("--interfaces=eth0,eth1", args)
        self.assertEqual(by_kind(objects, "DaemonSet")[0]["spec"]["template"]["spec"]["serviceAccountName"],
                         "default")

    def assert_mounts_secret_folder(self, c, pod, volume, mount_path, secret=None):
        """c mounts volume's whole folder read-only at mount_path (never a
        subPath, which Kubernetes does not update when the Secret changes);
        the volume is Secret `secret` when given. Returns the volume."""
        mounts = [m for m in c["volumeMounts"] if m["name"] == volume]
        self.assertEqual(len(mounts), 1, c["volumeMounts"])
        self.assertEqual(mounts[0]["mountPath"], mount_path)
        self.assertIs(mounts[0].get("readOnly"), True)
        self.assertNotIn("subPath", mounts[0])
        self.assertNotIn("subPathExpr", mounts[0])
        (vol,) = [v for v in pod["volumes"] if v["name"] == volume]
        if secret is not None:
            self.assertEqual(vol["secret"]["secretName"], secret)
        return vol

    def test_tls_on_by_default(self):
        objects = self.renders["defaults"]
        q, qpod = container(objects, "StatefulSet")
        c, cpod = container(objects, "DaemonSet")
        for flag in (f"--tls-cert={TLS_DIR}/tls.crt", f"--tls-key={TLS_DIR}/tls.key",
                     f"--client-ca={TLS_DIR}/ca.crt", "--shared-client-cert-name=weir-collector"):
            self.assertIn(flag, q["args"])
        self.assertNotIn("--plaintext", q["args"])
        for flag in (f"--queryd-ca={TLS_DIR}/ca.crt", f"--client-cert={TLS_DIR}/tls.crt",
                     f"--client-key={TLS_DIR}/tls.key"):
            self.assertIn(flag, c["args"])
        # The collectors dial a name queryd's certificate carries.
        dialled = next(a for a in c["args"] if a.startswith("--queryd=")).split("=", 1)[1].rsplit(":", 1)[0]
        self.assertIn(dialled, SERVER_DNS_NAMES)
        # No token flags without auth Secrets.
        self.assertFalse([a for a in q["args"] + c["args"] if a.startswith("--token-file")])
        secrets = {o["metadata"]["name"]: o for o in by_kind(objects, "Secret")}
        self.assertEqual(set(secrets), {"weir-queryd-tls", "weir-collector-tls"})
        qvol = self.assert_mounts_secret_folder(q, qpod, "tls", TLS_DIR, "weir-queryd-tls")
        cvol = self.assert_mounts_secret_folder(c, cpod, "tls", TLS_DIR, "weir-collector-tls")
        # No items: every key of the Secret (tls.crt, tls.key, ca.crt) is a file.
        self.assertNotIn("items", qvol["secret"])
        self.assertNotIn("items", cvol["secret"])
        # Readable by queryd's group (fsGroup), by root in the collector.
        self.assertEqual(qvol["secret"]["defaultMode"], 0o440)
        self.assertEqual(qpod["securityContext"]["fsGroup"], 65532)
        self.assertEqual(cvol["secret"]["defaultMode"], 0o400)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            self.assertEqual(q[probe]["httpGet"], {"path": "/v1/health", "port": "http", "scheme": "HTTPS"},
                             probe)
        # A probe that names its scheme keeps it.
        c2, _ = container(render_objects("--set", "queryd.livenessProbe.httpGet.scheme=HTTP"), "StatefulSet")
        self.assertEqual(c2["livenessProbe"]["httpGet"]["scheme"], "HTTP")
        self.assertEqual(c2["readinessProbe"]["httpGet"]["scheme"], "HTTPS")

    def test_self_signed_certificates(self):
        """The Secrets Helm makes hold PEM: a CA, queryd's certificate with
        every Service name, and the collectors' shared client certificate,
        both signed by the CA, each key matching its certificate."""
        secrets = {o["metadata"]["name"]: o for o in by_kind(self.renders["defaults"], "Secret")}
        server, client = secrets["weir-queryd-tls"], secrets["weir-collector-tls"]
        for sec in (server, client):
            self.assertEqual(sec["type"], "kubernetes.io/tls")
            self.assertEqual(set(sec["data"]), {"tls.crt", "tls.key", "ca.crt"})
        self.assertEqual(server["data"]["ca.crt"], client["data"]["ca.crt"], "one CA for both sides")
        ca = x509.load_pem_x509_certificate(secret_pem(server, "ca.crt"))
        self.assertTrue(ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        now = datetime.datetime.now(datetime.timezone.utc)
        for sec, dns, usage in (
                (server, SERVER_DNS_NAMES, ExtendedKeyUsageOID.SERVER_AUTH),
                (client, ["weir-collector"], ExtendedKeyUsageOID.CLIENT_AUTH)):
            with self.subTest(secret=sec["metadata"]["name"]):
                cert = x509.load_pem_x509_certificate(secret_pem(sec, "tls.crt"))
                san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                self.assertEqual(sorted(san.get_values_for_type(x509.DNSName)), sorted(dns))
                self.assertEqual(cert.issuer, ca.subject)
                ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                                       cert.signature_hash_algorithm)
                self.assertFalse(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
                self.assertIn(usage, cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
                key = load_pem_private_key(secret_pem(sec, "tls.key"), password=None)
                self.assertIsInstance(key, rsa.RSAPrivateKey)
                self.assertEqual(key.public_key().public_numbers(), cert.public_key().public_numbers())
                days = (not_after(cert) - now).days
                self.assertIn(days, (364, 365), "tls.selfSigned.validityDays")
                self.assertLessEqual(not_before(cert), now)
        # The validity follows the value, and the chart's own names follow
        # the release.
        objects = render_objects("--set", "tls.selfSigned.validityDays=30", "--set", "fullnameOverride=flows",
                                 "--set", "tls.extraDnsNames={weir.example.internal}")
        secrets = {o["metadata"]["name"]: o for o in by_kind(objects, "Secret")}
        cert = x509.load_pem_x509_certificate(secret_pem(secrets["flows-queryd-tls"], "tls.crt"))
        self.assertIn((not_after(cert) - now).days, (29, 30))
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
            .get_values_for_type(x509.DNSName)
        self.assertIn("flows-queryd-ingest.weir.svc", names)
        self.assertIn("weir.example.internal", names)
        c, pod = container(objects, "DaemonSet")
        self.assert_mounts_secret_folder(c, pod, "tls", TLS_DIR, "flows-collector-tls")

    def test_plaintext_only_when_asked(self):
        objects = self.renders["values-plaintext.yaml"]
        q, qpod = container(objects, "StatefulSet")
        c, cpod = container(objects, "DaemonSet")
        self.assertIn("--plaintext", q["args"])
        for args in (q["args"], c["args"]):
            self.assertFalse([a for a in args if re.match(
                r"--(tls-cert|tls-key|client-ca|shared-client-cert-name|queryd-ca|client-cert|client-key)", a)],
                args)
        for pod, ctr in ((qpod, q), (cpod, c)):
            self.assertNotIn("tls", {v["name"] for v in pod["volumes"]})
            self.assertNotIn("tls", {m["name"] for m in ctr["volumeMounts"]})
        self.assertFalse(by_kind(objects, "Secret"))
        self.assertNotIn("scheme", q["livenessProbe"]["httpGet"])
        self.assertNotIn("prometheus.io/scheme", by_kind(objects, "StatefulSet")[0]["spec"]["template"]
                         ["metadata"]["annotations"])
        # --plaintext is never rendered with TLS on.
        for name, objs in self.each_render():
            if name != "values-plaintext.yaml":
                for w in by_kind(objs, "StatefulSet"):
                    self.assertNotIn("--plaintext", w["spec"]["template"]["spec"]["containers"][0]["args"])

    def test_tls_from_secrets_with_tokens(self):
        objects = self.renders["values-tls-secret.yaml"]
        self.assertFalse(by_kind(objects, "Secret"), "the Secrets are the user's")
        self.assertFalse([o for o in objects if o["kind"] == "Certificate"])
        q, qpod = container(objects, "StatefulSet")
        c, cpod = container(objects, "DaemonSet")
        self.assert_mounts_secret_folder(q, qpod, "tls", TLS_DIR, "queryd-cert")
        self.assert_mounts_secret_folder(c, cpod, "tls", TLS_DIR, "collector-cert")
        self.assertIn(f"--client-ca={TLS_DIR}/ca.crt", q["args"])
        self.assertIn(f"--queryd-ca={TLS_DIR}/ca.crt", c["args"])
        # Tokens: queryd's file from its key, the collectors' ingest token.
        self.assertIn(f"--token-file={AUTH_DIR}/tokens", q["args"])
        vol = self.assert_mounts_secret_folder(q, qpod, "auth", AUTH_DIR, "weir-tokens")
        self.assertEqual(vol["secret"]["items"], [{"key": "token-file", "path": "tokens"}])
        self.assertIn(f"--token-file={AUTH_DIR}/token", c["args"])
        vol = self.assert_mounts_secret_folder(c, cpod, "auth", AUTH_DIR, "weir-ingest-token")
        self.assertEqual(vol["secret"]["items"], [{"key": "token", "path": "token"}])
        # The probes stay open: no token, HTTPS.
        self.assertEqual(q["readinessProbe"]["httpGet"]["scheme"], "HTTPS")
        self.assertNotIn("httpHeaders", q["readinessProbe"]["httpGet"])
        # Prometheus scrapes queryd over TLS with the CA that issued its
        # certificate (the collectors' ca.crt) and a metrics token.
        sms = {o["metadata"]["name"]: o for o in by_kind(objects, "ServiceMonitor")}
        (ep,) = sms["weir-queryd"]["spec"]["endpoints"]
        self.assertEqual(ep["scheme"], "https")
        self.assertEqual(ep["tlsConfig"], {"ca": {"secret": {"name": "collector-cert", "key": "ca.crt"}},
                                           "serverName": "weir-queryd.weir.svc"})
        self.assertIn(ep["tlsConfig"]["serverName"], SERVER_DNS_NAMES)
        self.assertEqual(ep["authorization"], {"type": "Bearer", "credentials":
                                               {"name": "weir-metrics-token", "key": "token"}})
        (ep,) = sms["weir-collector"]["spec"]["endpoints"]
        self.assertNotIn("tlsConfig", ep, "the collectors' /metrics is plain HTTP")
        self.assertNotIn("authorization", ep)
        # A ServiceMonitor elsewhere takes the tlsConfig it is given.
        objects = self.renders["values-servicemonitor.yaml"]
        sm = next(o for o in by_kind(objects, "ServiceMonitor") if o["metadata"]["name"] == "weir-queryd")
        self.assertEqual(sm["spec"]["endpoints"][0]["tlsConfig"]["ca"]["secret"]["name"], "weir-queryd-ca")
        self.assertNotIn("authorization", sm["spec"]["endpoints"][0])

    def test_tls_from_cert_manager(self):
        objects = self.renders["values-certmanager.yaml"]
        self.assertFalse(by_kind(objects, "Secret"), "cert-manager writes the Secrets")
        certs = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Certificate"}
        self.assertEqual(set(certs), {"weir-queryd-tls", "weir-collector-tls"})
        for cert in certs.values():
            self.assertEqual(cert["apiVersion"], "cert-manager.io/v1")
            self.assertEqual(cert["spec"]["issuerRef"], {"name": "weir-ca", "kind": "ClusterIssuer",
                                                         "group": "cert-manager.io"})
            self.assertEqual(cert["spec"]["duration"], "720h")
            self.assertEqual(cert["spec"]["renewBefore"], "240h")
            self.assertEqual(cert["spec"]["privateKey"]["rotationPolicy"], "Always")
        server, client = certs["weir-queryd-tls"]["spec"], certs["weir-collector-tls"]["spec"]
        self.assertEqual(server["dnsNames"], SERVER_DNS_NAMES + ["weir.example.internal"])
        self.assertIn("server auth", server["usages"])
        self.assertNotIn("client auth", server["usages"])
        self.assertEqual(client["dnsNames"], ["weir-collector"])
        self.assertEqual(client["usages"], ["digital signature", "client auth"])
        q, qpod = container(objects, "StatefulSet")
        c, cpod = container(objects, "DaemonSet")
        self.assert_mounts_secret_folder(q, qpod, "tls", TLS_DIR, server["secretName"])
        self.assert_mounts_secret_folder(c, cpod, "tls", TLS_DIR, client["secretName"])
        self.assertIn("--shared-client-cert-name=weir-collector", q["args"])
        # Per-node certificates from a volume: no shared name, no client
        # Certificate, the volume in the Secret's place.
        csi = {"csi": {"driver": "csi.example.com", "readOnly": True}}
        objects = render_objects("-f", "tests/helm/values-certmanager.yaml", "--set", "tls.sharedClientCertName=",
                                 "--set-json", "tls.collectorCertVolume=" + json.dumps(csi))
        self.assertEqual([o["metadata"]["name"] for o in objects if o["kind"] == "Certificate"],
                         ["weir-queryd-tls"])
        q, _ = container(objects, "StatefulSet")
        self.assertFalse([a for a in q["args"] if a.startswith("--shared-client-cert-name")])
        c, cpod = container(objects, "DaemonSet")
        vol = self.assert_mounts_secret_folder(c, cpod, "tls", TLS_DIR)
        self.assertEqual(vol, {"name": "tls", **csi})
        self.assertIn(f"--client-cert={TLS_DIR}/tls.crt", c["args"])

    def test_network_policy_on_by_default(self):
        """On by default: gRPC from the private node ranges and the collector
        pods only, HTTP from everyone (TLS and tokens guard it)."""
        (np,) = by_kind(self.renders["defaults"], "NetworkPolicy")
        grpc_rule, http_rule = np["spec"]["ingress"]
        self.assertEqual(grpc_rule["ports"], [{"port": "grpc", "protocol": "TCP"}])
        self.assertEqual(grpc_rule["from"], [
            {"ipBlock": {"cidr": "10.0.0.0/8"}}, {"ipBlock": {"cidr": "172.16.0.0/12"}},
            {"ipBlock": {"cidr": "192.168.0.0/16"}},
            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "weir", "app.kubernetes.io/instance": "weir",
                                             "app.kubernetes.io/component": "collector"}}}])
        self.assertEqual(http_rule, {"ports": [{"port": "http", "protocol": "TCP"}]})
        self.assertFalse(by_kind(render_objects("--set", "networkPolicy.enabled=false"), "NetworkPolicy"))

    def test_notes(self):
        rc, notes, err = render_notes()
        self.assertEqual(rc, 0, err)
        for want in ("kubectl -n weir port-forward svc/weir-queryd 7700:7700 7701:7701",
                     "get secret weir-collector-tls -o jsonpath='{.data.ca\\.crt}' | base64 -d > weir-ca.crt",
                     "curl -s --cacert weir-ca.crt --resolve weir-queryd.weir.svc:7700:127.0.0.1 "
                     "https://weir-queryd.weir.svc:7700/v1/health",
                     "/v1/top?group_by=GROUP_BY_PAIR",
                     "grpcurl -cacert weir-ca.crt -servername weir-queryd.weir.svc 127.0.0.1:7701 list",
                     "rollout status daemonset/weir-collector",
                     "WARNING: tls.source is selfSigned",
                     "for trying Weir out; use tls.source secret or certManager in production",
                     'it proves "a collector of\nthis release", not which node'):
            self.assertIn(want, notes)
        self.assertNotIn("http://", notes)
        self.assertNotIn("Bearer", notes)
        self.assertEqual(notes.count("WARNING"), 1, notes)
        rc, notes, err = render_notes("-f", "tests/helm/values-tls-secret.yaml")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("WARNING", notes)
        self.assertIn("get secret collector-cert", notes)
        self.assertIn('-H "Authorization: Bearer $WEIR_TOKEN"', notes)
        rc, notes, err = render_notes("--set", "tls.enabled=false")
        self.assertEqual(rc, 0, err)
        self.assertIn("curl -s http://127.0.0.1:7700/v1/health", notes)
        self.assertIn("grpcurl -plaintext", notes)
        self.assertIn("WARNING: tls.enabled is false", notes)
        rc, notes, err = render_notes("--set", "queryd.persistence.enabled=false")
        self.assertEqual(rc, 0, err)
        self.assertIn("WARNING: queryd.persistence.enabled is false", notes)

    def test_helm_is_the_pinned_release(self):
        rc, out, err = helm("version", "--template", "{{.Version}}")
        self.assertEqual(rc, 0, err)
        print(f"helm version: {out}", file=sys.stderr)
        m = re.match(r"^v(\d+)\.(\d+)\.(\d+)$", out)
        self.assertIsNotNone(m, out)
        self.assertEqual((int(m.group(1)), int(m.group(2))), HELM_MINOR, out)

    def test_lint_strict(self):
        """`helm lint --strict` (lint warnings fail too) with the defaults and
        every values file. Lint has no --api-versions, and it only reports a
        template's `fail` as [INFO]: the ServiceMonitor's refusal and the
        other template checks are tested with `helm template` below."""
        for args in [[]] + [["-f", f] for f in VALUES_FILES]:
            with self.subTest(args=args):
                rc, out, err = helm("lint", "--strict", CHART_DIR, *args)
                self.assertEqual(rc, 0, f"{args}:\n{out}{err}")
                self.assertIn("1 chart(s) linted, 0 chart(s) failed", out + err)
                self.assertNotIn("[ERROR]", out)
                self.assertNotIn("[WARNING]", out)

    def test_invalid_values_files_are_refused_naming_the_key(self):
        self.assertGreaterEqual(len(INVALID_FILES), 8, INVALID_FILES)
        for f in INVALID_FILES:
            with open(f) as fh:
                first = fh.readline()
            self.assertTrue(first.startswith("# expect: "), f"{f}: first line must be '# expect: <message>'")
            expect = first[len("# expect: "):].strip()
            with self.subTest(values=os.path.basename(f)):
                rc, out, err = render("-f", f)
                self.assertNotEqual(rc, 0, f"helm template accepted {f}:\n{out}")
                self.assertIn(SCHEMA_ERROR, err)
                self.assertIn(f"- {expect}", err)
                rc, out, err = helm("lint", "--strict", CHART_DIR, "-f", f)
                self.assertNotEqual(rc, 0, f"helm lint accepted {f}:\n{out}")
                self.assertIn("1 chart(s) failed", out + err)
                self.assertIn(f"[ERROR] values.yaml:", out)
                self.assertIn(expect, out)

    def test_the_schema_knows_every_documented_value_and_no_other(self):
        """Every key values.yaml has is in values.schema.json, and every key
        the schema accepts (down to the Kubernetes types it passes through)
        is a value in values.yaml, so nothing is accepted undocumented."""
        with open(f"{CHART}/values.schema.json") as f:
            schema = json.load(f)
        with open(f"{CHART}/values.yaml") as f:
            values = yaml.safe_load(f)

        def own_properties(node):
            """The properties of an object the chart owns (written inline)."""
            return None if "$ref" in node else node.get("properties")

        def walk(node, value, path, missing):
            props = own_properties(node)
            if props is None:
                return
            self.assertIs(node.get("additionalProperties"), False, f"{path or '(root)'}: additionalProperties")
            self.assertIsInstance(value, dict, f"{path}: values.yaml has no table here")
            for key, sub in props.items():
                where = f"{path}.{key}" if path else key
                if where == "global":
                    continue  # Helm's, for subcharts
                if key not in value:
                    missing.append(where)
                    continue
                walk(sub, value[key], where, missing)
            for key in value:
                self.assertIn(key, props, f"values.yaml has {path}.{key}, the schema does not")

        missing = []
        walk(schema, values, "", missing)
        self.assertEqual(missing, [], "accepted by the schema but not in values.yaml")
        self.assertEqual(schema["$schema"], "http://json-schema.org/draft-07/schema#")

    def test_as_a_subchart(self):
        """A parent chart's values reach the chart under "weir", with Helm's
        "global" added, which the schema must allow; unknown keys are still
        refused."""
        work = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        parent = os.path.join(work, "parent")
        shutil.copytree(CHART_DIR, os.path.join(parent, "charts", "weir"))
        with open(os.path.join(parent, "Chart.yaml"), "w") as f:
            f.write("apiVersion: v2\nname: parent\nversion: 0.1.0\n"
                    "dependencies:\n  - name: weir\n    version: 0.1.0\n")
        with open(os.path.join(parent, "values.yaml"), "w") as f:
            f.write("global:\n  region: example\nweir:\n  queryd:\n    grpcPort: 7801\n")
        rc, out, err = render(chart=parent)
        self.assertEqual(rc, 0, err)
        objects = [o for o in yaml.safe_load_all(out) if o is not None]
        self.assertIn("--queryd=weir-queryd-ingest.weir.svc:7801",
                      by_kind(objects, "DaemonSet")[0]["spec"]["template"]["spec"]["containers"][0]["args"])
        rc, out, err = render("--set", "weir.tlss.enabled=true", chart=parent)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("weir:\n- (root): Additional property tlss is not allowed", err)
        shutil.rmtree(work)

    def test_readme_commands_pass_the_schema(self):
        """The --set values of the chart README's commands render."""
        with open(f"{CHART}/README.md") as f:
            commands = "".join(re.findall(r"^```sh\n(.*?)^```", f.read(), re.M | re.S))
        sets = re.findall(r"--set ([A-Za-z0-9_.]+=\S+)", commands)
        self.assertGreaterEqual(len(sets), 3, sets)
        for s in sets:
            with self.subTest(set=s):
                render_objects("--set", s)

    def test_refused_values_fail_with_a_reason(self):
        # (--set arguments, what the schema says, where the template fails,
        # why). The schema refuses first, naming the key; with it skipped
        # (--skip-schema-validation) the templates still refuse, saying why.
        cases = [
            (["--set", "queryd.runAsUser=0"], "queryd.runAsUser: Must be greater than or equal to 1",
             "queryd-statefulset.yaml", "never runs as root"),
            (["--set-string", "queryd.runAsUser=root"], "queryd.runAsUser: Invalid type. Expected: integer",
             "queryd-statefulset.yaml", "non-zero user ID"),
            (["--set", "networkPolicy.enabled=true", "--set", "networkPolicy.collectorCIDRs={10.0.0.0}"],
             "networkPolicy.collectorCIDRs.0: Does not match pattern", "networkpolicy.yaml", "not a CIDR"),
            (["--set", "collector.metrics.port=70000"], "collector.metrics.port: Must be less than or equal to 65535",
             "collector.metrics.port must be in", "1..65535"),
            (["--set", "image.digest=abc"], "image.digest: Does not match pattern", "image.digest", "sha256:"),
            (["--set", "collector.interfaces=eth0 eth1"], "collector.interfaces: Does not match pattern",
             "collector-daemonset.yaml", "no spaces"),
            (["--set", "image.repository="], "image.repository: String length must be greater than or equal to 1",
             "image.repository is required", "required"),
            # What a schema cannot say; the templates refuse it.
            (["--set", "queryd.extraArgs={--allow-root}"], None, "queryd-statefulset.yaml", "--allow-root is refused"),
            (["--set-json", "networkPolicy.collectorCIDRs=[]"], None, "networkpolicy.yaml", "collectorCIDRs"),
            (["--set", "tls.source=secret", "--set", "tls.secret.client=c"],
             "tls.secret.server: String length must be greater than or equal to 1",
             "tls.secret.server", "queryd's certificate"),
            (["--set", "tls.source=certManager"],
             "tls.certManager.issuerRef.name: String length must be greater than or equal to 1",
             "tls.certManager.issuerRef.name", "Issuer or ClusterIssuer"),
            (["--set", "tls.sharedClientCertName="], None, "collector-daemonset.yaml", "tls.collectorCertVolume"),
            (["--set", "queryd.enabled=false", "--set", "collector.querydAddress=q.example:7701"], None,
             "tls-selfsigned.yaml", "tls.source secret"),
            (["--set", "serviceMonitor.enabled=true", "--set", "auth.tokenSecret=t"], None,
             "servicemonitor.yaml", "serviceMonitor.bearerTokenSecret.name"),
            (["--set", "queryd.enabled=false", "--set", "tls.source=secret", "--set", "tls.secret.client=c"],
             None, "collector-daemonset.yaml", "collector.querydAddress is required"),
            (["--set", "collector.pinPath=/var/lib/weir"], None, "collector-daemonset.yaml", "must be inside"),
            (["--set", "queryd.httpPort=7701"], None, "queryd-statefulset.yaml", "must differ"),
        ]
        for args, schema_says, where, why in cases:
            with self.subTest(args=args):
                rc, out, err = render(*args)
                self.assertNotEqual(rc, 0, f"{args} rendered:\n{out}")
                if schema_says:
                    self.assertIn(SCHEMA_ERROR, err)
                    self.assertIn(f"- {schema_says}", err)
                    rc, out, err = render(*args, "--skip-schema-validation")
                    self.assertNotEqual(rc, 0, f"{args} rendered without the schema:\n{out}")
                self.assertNotIn(SCHEMA_ERROR, err)
                self.assertIn(where, err)
                self.assertIn(why, err)
        # The ServiceMonitor needs the Prometheus Operator's API.
        rc, out, err = helm("template", "weir", CHART_DIR, "--set", "serviceMonitor.enabled=true")
        self.assertNotEqual(rc, 0)
        self.assertIn("servicemonitor.yaml", err)
        self.assertIn("monitoring.coreos.com/v1", err)
        # cert-manager Certificates need cert-manager's API.
        rc, out, err = helm("template", "weir", CHART_DIR, "--set", "tls.source=certManager",
                            "--set", "tls.certManager.issuerRef.name=ca")
        self.assertNotEqual(rc, 0)
        self.assertIn("tls-certmanager.yaml", err)
        self.assertIn("cert-manager.io/v1", err)
        # The chart needs Kubernetes 1.25 or newer.
        rc, out, err = helm("template", "weir", CHART_DIR, "--kube-version", "1.24.0")
        self.assertNotEqual(rc, 0)
        self.assertIn(">=1.25.0-0", err)

    def test_values_are_documented(self):
        """Every value in values.yaml sits under a "# --" description (its
        own or an ancestor's, helm-docs style), and the chart README's table
        has a row for each described value with the same description."""
        with open(f"{CHART}/values.yaml") as f:
            lines = f.read().splitlines()
        described = {}  # path -> description
        undescribed = []
        stack = []  # (indent, key, described)
        doc = None
        for i, line in enumerate(lines):
            stripped = line.strip()
            if stripped.startswith("# --"):
                doc = [stripped[4:].strip()]
                continue
            if stripped.startswith("#"):
                if doc is not None:
                    doc.append(stripped[1:].strip())
                continue
            m = re.match(r"^( *)([A-Za-z0-9_.]+):( .*)?$", line)
            if not m:
                continue  # list items belong to a described value
            indent, key = len(m.group(1)), m.group(2)
            while stack and stack[-1][0] >= indent:
                stack.pop()
            if stack and stack[-1][2]:
                doc = None
                continue  # inside a described value
            path = ".".join([k for _, k, _ in stack] + [key])
            if doc is not None:
                described[path] = " ".join(doc)
            else:
                following = next((l for l in lines[i + 1:] if l.strip() and not l.strip().startswith("#")), "")
                is_table = not (m.group(3) or "").strip() and \
                    len(following) - len(following.lstrip()) > indent
                if not is_table:
                    undescribed.append(path)
            stack.append((indent, key, doc is not None))
            doc = None
        self.assertFalse(undescribed, f"values without a '# --' description: {undescribed}")
        self.assertGreater(len(described), 60)
        with open(f"{CHART}/README.md") as f:
            rows = {m.group(1): m.group(2) for m in
                    re.finditer(r"^\| `([^`]+)` \| .*? \| (.*) \|$", f.read(), re.M)}
        for path, text in described.items():
            self.assertIn(path, rows, f"{path} is missing from the chart README's table")
            self.assertEqual(rows[path], text, f"{path}: README and values.yaml differ")
        self.assertEqual(set(rows) - set(described), set(), "README rows for values that do not exist")

if __name__ == "__main__":
    # Helm's own files (cache, configuration, repositories) stay in the test's
    # temporary folder, and no cluster is ever contacted.
    home = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        os.environ[var] = os.path.join(home, var.lower())
    os.environ["HOME"] = home
    os.environ["KUBECONFIG"] = os.path.join(home, "no-kubeconfig")
    CHART_DIR = os.path.join(home, "chart", "weir")
    shutil.copytree(CHART, CHART_DIR)
    unittest.main(argv=[sys.argv[0], "-v"])
