"""Scoped bearer tokens (--token-file) through real clients.

A table over every gRPC method (python3-grpcio: QueryService, IngestService,
grpc.health.v1, reflection v1 and v1alpha), every REST route of the proto's
google.api.http annotations (curl, NDJSON streams included), a WebSocket
stream (python3-websocket) and /metrics, each called with no token, a token
of each scope, an unknown token and a token revoked by editing the file:
exactly the allowed calls run, the others get UNAUTHENTICATED / 401 (with
WWW-Authenticate) or PERMISSION_DENIED / 403 with a google.rpc.Status body
naming the scope. No token ever appears in queryd's stderr or an answer. A
real Prometheus server scrapes /metrics with a token from a file, and fails
without one. Every process the test starts is stopped by PID.
"""
import json
import os
import secrets
import signal
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

import grpc
import websocket
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from grpc_contracts import health_pb2, health_pb2_grpc
from grpc_contracts import reflection_pb2, reflection_pb2_grpc
from grpc_contracts import reflection_v1_pb2, reflection_v1_pb2_grpc
from weir.v1 import ingest_pb2_grpc, query_pb2, query_pb2_grpc

import weir_testing as wt
from weir_testing import free_port, stop_process

CALLERS = ["none", "read", "ingest", "metrics", "admin", "wrong", "revoked"]
# What each caller may do, by the scope a call needs.
ALLOWED = {
    "read": {"read", "admin"},
    "ingest": {"ingest", "admin"},
    "metrics": {"metrics", "admin"},
}
UNKNOWN = {"none", "wrong", "revoked"}  # UNAUTHENTICATED / 401
UNAUTHENTICATED, PERMISSION_DENIED = grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED


def hash_token(token):
    """The sha256:<hex> field, from weir-queryd --hash-token."""
    result = subprocess.run([wt.runfile("queryd/weir-queryd"), "--hash-token"], input=token + "\n",
                            capture_output=True, text=True, timeout=20)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return result.stdout.strip()


def write_atomically(path, text):
    with open(path + ".next", "w") as f:
        f.write(text)
    os.rename(path + ".next", path)


def rest_routes():
    """(method name, path, server streaming) of every google.api.http binding."""
    routes = []
    for method in query_pb2.DESCRIPTOR.services_by_name["QueryService"].methods:
        proto = descriptor_pb2.MethodDescriptorProto()
        method.CopyToProto(proto)
        rule = method.GetOptions().Extensions[annotations_pb2.http]
        for binding in [rule] + list(rule.additional_bindings):
            if binding.get:
                routes.append((method.name, binding.get, proto.server_streaming))
    return routes


class TokenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tokens = {name: secrets.token_urlsafe(24) for name in
                      ["read", "ingest", "metrics", "admin", "wrong", "revoked"]}
        cls.workdir = wt.tmpdir("auth-")
        cls.token_file = os.path.join(cls.workdir, "tokens")
        cls.hashes = {name: hash_token(t) for name, t in cls.tokens.items()}
        cls.base_lines = [
            "# Weir tokens: <name> <scope>[,<scope>...] sha256:<hex>",
            "",
            "alice   read    %s" % cls.hashes["read"],
            "node-a  ingest  %s   # the collector" % cls.hashes["ingest"],
            "prom    metrics %s" % cls.hashes["metrics"],
            "ops     admin   %s" % cls.hashes["admin"],
        ]
        write_atomically(cls.token_file, "\n".join(
            cls.base_lines + ["bob read %s" % cls.hashes["revoked"]]) + "\n")
        cls.queryd = wt.Queryd(extra_args=["--token-file=" + cls.token_file]).start()
        cls.channel = grpc.insecure_channel(cls.queryd.address)
        now = time.time()
        batches = [b for bs in wt.dataset(now).values() for b in bs]
        acks = list(ingest_pb2_grpc.IngestServiceStub(cls.channel).Ingest(
            iter(batches), timeout=20, metadata=cls.metadata("ingest")))
        assert len(acks) == len(batches), acks
        cls.bodies = []  # every answer seen, checked for tokens at the end

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        stop_process(cls.queryd.proc)

    @classmethod
    def metadata(cls, caller):
        if caller == "none":
            return ()
        return (("authorization", "Bearer " + cls.tokens[caller]),)

    @classmethod
    def header(cls, caller):
        if caller == "none":
            return []
        return ["Authorization: Bearer " + cls.tokens[caller]]

    def expect_grpc(self, scope, caller, code, details, what):
        if caller in ALLOWED[scope]:
            self.assertIn(code, (grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED),
                          "%s as %s: %s %s" % (what, caller, code, details))
            return
        want = UNAUTHENTICATED if caller in UNKNOWN else PERMISSION_DENIED
        self.assertEqual(code, want, "%s as %s: %s" % (what, caller, details))
        self.assertIn("scope " + scope, details, what)

    def grpc_call(self, fn):
        """(code, details, result) of fn(), an RPC."""
        try:
            result = fn()
            return grpc.StatusCode.OK, "", result
        except grpc.RpcError as e:
            self.bodies.append(e.details() or "")
            return e.code(), e.details() or "", None

    def revoke(self):
        """Edits the file (bob's line goes) and waits until queryd refuses bob."""
        write_atomically(self.token_file, "\n".join(self.base_lines) + "\n")
        stub = query_pb2_grpc.QueryServiceStub(self.channel)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            code, _, _ = self.grpc_call(lambda: stub.GetStats(
                query_pb2.GetStatsRequest(), timeout=5, metadata=self.metadata("revoked")))
            if code == UNAUTHENTICATED:
                return
            time.sleep(0.2)
        self.fail("bob's token still works 10 s after the file lost it")

    def test_1_revoked_token_worked_before(self):
        stub = query_pb2_grpc.QueryServiceStub(self.channel)
        stats = stub.GetStats(query_pb2.GetStatsRequest(), timeout=5,
                              metadata=self.metadata("revoked"))
        self.assertEqual(stats.total_flows, 7)

    def test_2_grpc_table(self):
        self.revoke()
        stub = query_pb2_grpc.QueryServiceStub(self.channel)
        now = time.time()
        window = query_pb2.TimeRange()
        window.start.FromNanoseconds(int((now - 3600) * 1e9))
        window.end.FromNanoseconds(int((now + 60) * 1e9))
        unary = {
            "GetStats": lambda md: stub.GetStats(query_pb2.GetStatsRequest(), timeout=5, metadata=md),
            "ListFlows": lambda md: stub.ListFlows(query_pb2.ListFlowsRequest(range=window), timeout=5, metadata=md),
            "TopTalkers": lambda md: stub.TopTalkers(query_pb2.TopTalkersRequest(
                range=window, group_by=query_pb2.GROUP_BY_SRC), timeout=5, metadata=md),
            "TimeSeries": lambda md: stub.TimeSeries(query_pb2.TimeSeriesRequest(range=window), timeout=5, metadata=md),
            "ListConnections": lambda md: stub.ListConnections(query_pb2.ListConnectionsRequest(), timeout=5, metadata=md),
            "ListNodes": lambda md: stub.ListNodes(query_pb2.ListNodesRequest(), timeout=5, metadata=md),
        }
        streams = {
            "WatchFlows": lambda md: next(iter(stub.WatchFlows(query_pb2.WatchFlowsRequest(), timeout=1, metadata=md))),
            "WatchStats": lambda md: next(iter(stub.WatchStats(query_pb2.WatchStatsRequest(), timeout=5, metadata=md))),
        }
        names = {m.name for m in query_pb2.DESCRIPTOR.services_by_name["QueryService"].methods}
        self.assertEqual(names, set(unary) | set(streams) | {"Health"}, "a method is missing here")
        results = {}
        for caller in CALLERS:
            md = self.metadata(caller)
            for name, fn in list(unary.items()) + list(streams.items()):
                code, details, result = self.grpc_call(lambda: fn(md))
                self.expect_grpc("read", caller, code, details, name)
                results[(name, caller)] = code
                if result is not None:
                    self.bodies.append(str(result))
            # Health: open; counters only for read.
            code, details, health = self.grpc_call(
                lambda: stub.Health(query_pb2.HealthRequest(), timeout=5, metadata=md))
            if caller in ("wrong", "revoked"):
                self.assertEqual(code, UNAUTHENTICATED, details)
            else:
                self.assertEqual(code, grpc.StatusCode.OK, details)
                self.assertEqual(health.status, "ok")
                if caller in ALLOWED["read"]:
                    self.assertGreaterEqual(health.flows_ingested, 7)  # and the table's own
                    self.assertTrue(health.HasField("uptime"))
                else:
                    self.assertFalse(health.HasField("flows_ingested"), caller)
                    self.assertFalse(health.HasField("collectors_connected"), caller)
                    self.assertFalse(health.HasField("uptime"), caller)
            # Ingest: one batch of a node of its own.
            code, details, acks = self.grpc_call(lambda: list(
                ingest_pb2_grpc.IngestServiceStub(self.channel).Ingest(
                    iter([wt.batch("auth-" + caller, 1, [wt.flow()])]), timeout=5, metadata=md)))
            self.expect_grpc("ingest", caller, code, details, "Ingest")
            if caller in ALLOWED["ingest"]:
                self.assertEqual(len(acks), 1)
            # grpc.health.v1: open to every probe.
            status = health_pb2_grpc.HealthStub(self.channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=5, metadata=md)
            self.assertEqual(status.status, health_pb2.HealthCheckResponse.SERVING)
            # Reflection (both versions): scope read.
            for messages, stubs in ((reflection_v1_pb2, reflection_v1_pb2_grpc),
                                    (reflection_pb2, reflection_pb2_grpc)):
                code, details, answers = self.grpc_call(lambda: list(
                    stubs.ServerReflectionStub(self.channel).ServerReflectionInfo(
                        iter([messages.ServerReflectionRequest(list_services="")]),
                        timeout=5, metadata=md)))
                self.expect_grpc("read", caller, code, details, messages.__name__)
                if caller in ALLOWED["read"]:
                    listed = {s.name for s in answers[0].list_services_response.service}
                    self.assertIn("weir.v1.QueryService", listed)
        # The allowed streams really ran: WatchStats sent a message.
        self.assertEqual(results[("WatchStats", "read")], grpc.StatusCode.OK)
        # Only one batch per allowed caller reached the store.
        nodes = {n.name for n in stub.ListNodes(query_pb2.ListNodesRequest(), timeout=5,
                                                metadata=self.metadata("admin")).nodes}
        self.assertEqual({n for n in nodes if n.startswith("auth-")}, {"auth-ingest", "auth-admin"})

    def curl(self, path, caller, *extra, max_time=10):
        """(status, headers, body) from curl; a stream is cut at max_time."""
        head_file = os.path.join(self.workdir, "head")
        body_file = os.path.join(self.workdir, "body")
        args = ["curl", "-sS", "-g", "-N", "-D", head_file, "-o", body_file, "-m", str(max_time)]
        for h in self.header(caller):
            args += ["-H", h]
        result = subprocess.run(args + list(extra) + [self.queryd.http_url + path],
                                capture_output=True, text=True, timeout=max_time + 10)
        self.assertIn(result.returncode, (0, 28), result.stderr)  # 28: cut at max_time
        with open(head_file) as f:
            lines = f.read().splitlines()
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        with open(body_file) as f:
            body = f.read()
        self.bodies.append(body)
        return status, headers, body

    def expect_http(self, scope, caller, status, headers, body, what):
        if caller in ALLOWED[scope]:
            self.assertEqual(status, 200, "%s as %s: %s" % (what, caller, body))
            return
        if caller in UNKNOWN:
            self.assertEqual(status, 401, "%s as %s: %s" % (what, caller, body))
            self.assertTrue(headers.get("www-authenticate", "").startswith("Bearer"), headers)
            code = 16
        else:
            self.assertEqual(status, 403, "%s as %s: %s" % (what, caller, body))
            code = 7
        error = json.loads(body)
        self.assertEqual(error["code"], code, body)
        self.assertIn("scope " + scope, error["message"], body)

    def test_3_http_table(self):
        self.revoke()
        routes = rest_routes()
        self.assertGreaterEqual(len(routes), 14)
        for caller in CALLERS:
            for method, path, streaming in routes:
                query = "?group_by=src" if method == "TopTalkers" else ""
                status, headers, body = self.curl(path + query, caller,
                                                  max_time=2 if streaming else 10)
                if method == "Health":
                    if caller in ("wrong", "revoked"):
                        self.assertEqual(status, 401, body)
                        continue
                    self.assertEqual(status, 200, body)
                    health = json.loads(body)
                    self.assertEqual(health["status"], "ok")
                    if caller in ALLOWED["read"]:
                        self.assertGreaterEqual(int(health["flowsIngested"]), 7)
                    else:
                        self.assertNotIn("uptime", health, caller)
                        self.assertNotIn("flowsIngested", health, caller)
                        self.assertNotIn("collectorsConnected", health, caller)
                    continue
                self.expect_http("read", caller, status, headers, body, path)
                if streaming and status == 200:
                    self.assertEqual(headers["content-type"], "application/x-ndjson")
            status, headers, body = self.curl("/metrics", caller)
            self.expect_http("metrics", caller, status, headers, body, "/metrics")
            if status == 200:
                self.assertIn("weir_ingest_batches_total", body)

    def test_4_websocket_table(self):
        self.revoke()
        url = "ws://127.0.0.1:%d/v1/stats:watch?interval=200ms" % self.queryd.http_port
        for caller in CALLERS:
            if caller in ALLOWED["read"]:
                ws = websocket.create_connection(url, header=self.header(caller), timeout=10)
                try:
                    stats = json.loads(ws.recv())
                finally:
                    ws.close()
                self.assertGreaterEqual(int(stats["totalFlows"]), 7)
                continue
            with self.assertRaises(websocket.WebSocketBadStatusException, msg=caller) as e:
                websocket.create_connection(url, header=self.header(caller), timeout=10)
            want = 401 if caller in UNKNOWN else 403
            self.assertEqual(e.exception.status_code, want, caller)
            body = getattr(e.exception, "resp_body", None) or b""
            body = body.decode() if isinstance(body, bytes) else body
            self.bodies.append(body)
            if body:
                self.assertIn("scope read", json.loads(body)["message"])

    def test_5_bad_new_file_keeps_tokens_and_sighup_rereads(self):
        before = len(self.queryd.log)
        write_atomically(self.token_file, "\n".join(self.base_lines) + "\ncarol read\n")
        stub = query_pb2_grpc.QueryServiceStub(self.channel)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
                ":%d:" % (len(self.base_lines) + 1) in l for l in self.queryd.log[before:]):
            stub.GetStats(query_pb2.GetStatsRequest(), timeout=5, metadata=self.metadata("read"))
            time.sleep(0.3)
        refused = [l for l in self.queryd.log[before:] if "token-file" in l]
        self.assertEqual(len(refused), 1, refused)
        self.assertIn("%s:%d: want 3 fields" % (self.token_file, len(self.base_lines) + 1), refused[0])
        self.assertIn("stay in use", refused[0])
        # The old tokens still work.
        self.assertEqual(stub.GetStats(query_pb2.GetStatsRequest(), timeout=5,
                                       metadata=self.metadata("read")).total_flows >= 7, True)
        # A good file again, re-read on SIGHUP at once.
        write_atomically(self.token_file, "\n".join(self.base_lines) + "\n")
        before = len(self.queryd.log)
        self.queryd.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("re-read" in l for l in self.queryd.log[before:]):
            time.sleep(0.1)
        self.assertTrue(any("4 tokens (re-read)" in l for l in self.queryd.log[before:]),
                        self.queryd.log[before:])
        self.assertIsNone(self.queryd.proc.poll(), "SIGHUP must not stop queryd")

    def test_6_prometheus_scrapes_with_a_token_and_fails_without(self):
        credentials = os.path.join(self.workdir, "prom-token")
        with open(credentials, "w") as f:
            f.write(self.tokens["metrics"] + "\n")
        config = os.path.join(self.workdir, "prometheus.yml")
        target = "['127.0.0.1:%d']" % self.queryd.http_port
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: with-token\n"
                    "    authorization:\n      credentials_file: %s\n"
                    "    static_configs:\n      - targets: %s\n"
                    "  - job_name: without-token\n"
                    "    static_configs:\n      - targets: %s\n" % (credentials, target, target))
        port = free_port()
        with open(os.path.join(self.workdir, "prometheus.log"), "w") as log:
            prometheus = subprocess.Popen(
                ["/usr/bin/prometheus", "--config.file=" + config,
                 "--storage.tsdb.path=" + os.path.join(self.workdir, "prometheus-data"),
                 "--web.listen-address=127.0.0.1:%d" % port],
                stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(stop_process, prometheus)
        url = "http://127.0.0.1:%d/api/v1/targets" % port
        health = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    targets = json.load(r)["data"]["activeTargets"]
                health = {t["labels"]["job"]: (t["health"], t["lastError"]) for t in targets}
            except OSError:
                health = {}
            if {h for h, _ in health.values()} == {"up", "down"}:
                break
            time.sleep(0.5)
        self.assertEqual(health.get("with-token", ("?",))[0], "up", health)
        self.assertEqual(health.get("without-token", ("?",))[0], "down", health)
        self.assertIn("401", health["without-token"][1])

    def test_7_no_token_in_logs_or_answers(self):
        # Runs last (unittest sorts by name): everything above has been said.
        text = "".join(self.queryd.log) + "\n".join(self.bodies)
        self.assertGreater(len(self.bodies), 50)
        for name, token in self.tokens.items():
            self.assertNotIn(token, text, name)


class StartupTest(unittest.TestCase):
    def test_bad_token_file_is_one_line_and_exit_2(self):
        workdir = wt.tmpdir("auth-bad-")
        path = os.path.join(workdir, "tokens")
        token = secrets.token_urlsafe(24)
        with open(path, "w") as f:
            f.write("# ok\nalice read %s\nbob read %s\n" % (hash_token(token), token))
        for args, want in (
                (["--token-file=" + path], "%s:3: the third field must be sha256:" % path),
                (["--token-file=" + path + ".missing"], "cannot read " + path + ".missing")):
            result = subprocess.run(
                [wt.runfile("queryd/weir-queryd"), "--data-dir=" + workdir,
                 "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
                 "--allow-root"] + args, capture_output=True, text=True, timeout=20)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
            self.assertIn(want, result.stderr)
            self.assertNotIn(token, result.stderr)

    def test_hash_token(self):
        token = "0123456789abcdef0123"
        import hashlib
        self.assertEqual(hash_token(token), "sha256:" + hashlib.sha256(token.encode()).hexdigest())
        result = subprocess.run([wt.runfile("queryd/weir-queryd"), "--hash-token"],
                                input="short\n", capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 2)
        self.assertIn("at least 16 characters", result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
