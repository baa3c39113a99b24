"""TLS on weir-queryd with real outside clients: python3-grpcio secure
channels (queries, reflection, ingest with client certificates), the openssl
command (protocol versions, the serial a new connection is shown), curl
(REST and NDJSON over HTTPS) and python3-websocket (wss).
Certificates are made by the test with openssl (tests/weir_tls.py).
"""
import hashlib
import json
import os
import queue
import secrets
import socket
import ssl
import subprocess
import threading
import time
import unittest
import urllib.request

import grpc
import websocket
from google.protobuf import timestamp_pb2
from grpc_contracts import reflection_v1_pb2, reflection_v1_pb2_grpc
from weir.v1 import ingest_pb2_grpc, query_pb2, query_pb2_grpc

import weir_testing as wt
import weir_tls
from weir_testing import UDP, batch, flow

SERVER_SERIAL, ROTATED_SERIAL = 0x1001, 0x1002


def ts(seconds):
    t = timestamp_pb2.Timestamp()
    t.FromNanoseconds(int(seconds * 1e9))
    return t


class Stream:
    """One Ingest stream kept open: batches go in one at a time, acks come back."""

    def __init__(self, channel):
        self.outgoing = queue.Queue()
        self.acks = queue.Queue()
        self.error = None
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        self.call = stub.Ingest(iter(self.outgoing.get, None), timeout=120)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for ack in self.call:
                self.acks.put(ack)
        except grpc.RpcError as e:
            self.error = e
        self.acks.put(None)

    def send(self, b, timeout=20):
        """Sends one batch; returns its ack, or None when the stream ended."""
        self.outgoing.put(b)
        return self.acks.get(timeout=timeout)

    def close(self):
        self.outgoing.put(None)


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        c = cls.certs = weir_tls.Certs()
        c.leaf("server", "weir-queryd", ["DNS:localhost", "IP:127.0.0.1"], serial=SERVER_SERIAL)
        c.leaf("rotated", "weir-queryd", ["DNS:localhost", "IP:127.0.0.1"], serial=ROTATED_SERIAL)
        c.leaf("node-a", "node-a", ["DNS:node-a"])
        c.leaf("node-b", "node-b", ["DNS:node-b"])
        c.leaf("cn-only", "node-cn")
        c.leaf("shared", "weir-collector", ["DNS:weir-collector"])
        c.leaf("stranger", "node-a", ["DNS:node-a"], ca="wrong-ca")
        c.leaf("expired", "node-a", ["DNS:node-a"], start="20200101000000Z",
               end="20200102000000Z")
        c.leaf("expired-server", "weir-queryd", ["IP:127.0.0.1"], start="20200101000000Z",
               end="20200102000000Z")

    def start_queryd(self, mtls=True, cert="server", extra=()):
        # Files of this queryd's own, so a test may replace them.
        folder = wt.tmpdir("tls-")
        self.cert_path = os.path.join(folder, "tls.crt")
        self.key_path = os.path.join(folder, "tls.key")
        self.certs.install(cert, self.cert_path, self.key_path)
        args = ["--tls-cert=" + self.cert_path, "--tls-key=" + self.key_path]
        if mtls:
            args.append("--client-ca=" + self.certs.path("ca.crt"))
        q = wt.Queryd(extra_args=args + list(extra)).start()
        self.addCleanup(q.kill)
        return q

    def channel(self, port, ca="ca.crt", client=None):
        creds = grpc.ssl_channel_credentials(
            root_certificates=self.certs.read(ca) if ca else None,
            private_key=self.certs.read(client + ".key") if client else None,
            certificate_chain=self.certs.read(client + ".crt") if client else None)
        ch = grpc.secure_channel("127.0.0.1:%d" % port, creds)
        self.addCleanup(ch.close)
        return ch

    def stored(self, channel, node=None):
        """Packets stored, of `node` or of all."""
        stub = query_pb2_grpc.QueryServiceStub(channel)
        r = stub.ListFlows(query_pb2.ListFlowsRequest(
            range=query_pb2.TimeRange(start=ts(time.time() - 3600), end=ts(time.time() + 60)),
            page_size=1000), timeout=10)
        flows = [f for f in r.flows if node is None or f.key.node == node]
        return sum(f.packets for f in flows)

    # --- start-up ---------------------------------------------------------

    def test_start_refuses_bad_files_and_unasked_plaintext_with_one_line(self):
        c = self.certs
        missing = os.path.join(c.dir, "missing.crt")
        cases = [
            (["--tls-cert=" + missing, "--tls-key=" + c.path("server.key")], "--tls-cert"),
            (["--tls-cert=" + c.path("server.crt"), "--tls-key=" + c.path("node-a.key")],
             "--tls-key"),
            (["--tls-cert=" + c.path("server.key"), "--tls-key=" + c.path("server.key")],
             "--tls-cert"),
            (["--tls-cert=" + c.path("expired-server.crt"),
              "--tls-key=" + c.path("expired-server.key")], "--tls-cert"),
            (["--tls-cert=" + c.path("server.crt"), "--tls-key=" + c.path("server.key"),
              "--client-ca=" + missing], "--client-ca"),
            (["--tls-cert=" + c.path("server.crt")], "--tls-cert"),
            (["--client-ca=" + c.path("ca.crt")], "--client-ca"),
            (["--tls-cert=" + c.path("server.crt"), "--tls-key=" + c.path("server.key"),
              "--plaintext"], "--plaintext"),
            # Not loopback, neither TLS nor --plaintext: refused before binding.
            (["--grpc-address=192.0.2.1:0"], "--grpc-address"),
            (["--http-address=[2001:db8::1]:0"], "--http-address"),
        ]
        for extra, flag in cases:
            args = [wt.runfile("queryd/weir-queryd"), "--data-dir=" + wt.tmpdir("refused-"),
                    "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0", "--allow-root",
                    *extra]
            p = subprocess.run(args, capture_output=True, text=True, timeout=30)
            lines = p.stderr.strip().splitlines()
            self.assertEqual(p.returncode, 2, (extra, p.stderr))
            self.assertEqual(len(lines), 1, (extra, p.stderr))
            self.assertIn(flag, lines[0], extra)
        # The expired one says so.
        p = subprocess.run([wt.runfile("queryd/weir-queryd"), "--data-dir=" + wt.tmpdir("x-"),
                            "--tls-cert=" + c.path("expired-server.crt"),
                            "--tls-key=" + c.path("expired-server.key"), "--allow-root"],
                           capture_output=True, text=True, timeout=30)
        self.assertIn("expired", p.stderr)

    def curl(self, q, path, *args):
        """(curl's exit code, body) of GET https://127.0.0.1:<http port><path>."""
        done = subprocess.run(["curl", "-sS", "-m", "10", *args,
                               "https://127.0.0.1:%d%s" % (q.http_port, path)],
                              capture_output=True, text=True, timeout=30)
        return done.returncode, done.stdout

    @staticmethod
    def refusals(q, connect, timeout=10):
        """queryd's "refused" reload lines, once there is one (the files
        are checked when a connection arrives: `connect` makes one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not any("were refused" in l for l in q.log):
            connect()
            time.sleep(0.3)
        return [l for l in q.log if "were refused" in l]

    @staticmethod
    def serial_becomes(port, want, timeout=10):
        """The serial new connections to `port` see, once it is `want` (or at the timeout)."""
        deadline, serial = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            serial = weir_tls.serial_of(port)
            if serial == "%04X" % want:
                break
            time.sleep(0.3)
        return serial

    def wss(self, q, path):
        return websocket.create_connection(
            "wss://127.0.0.1:%d%s" % (q.http_port, path), timeout=30,
            sslopt={"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": self.certs.path("ca.crt")})

    # --- gRPC -------------------------------------------------------------

    def test_grpc_clients_need_the_right_ca_and_tls_1_2(self):
        q = self.start_queryd(mtls=False)
        self.assertIn("TLS", q.log[-1])
        # The right CA: queries and reflection work, without a client certificate.
        ch = self.channel(q.port)
        self.assertEqual(self.stored(ch), 0)
        answers = list(reflection_v1_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
            iter([reflection_v1_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
        names = {s.name for s in answers[0].list_services_response.service}
        self.assertIn("weir.v1.QueryService", names)
        self.assertIn("weir.v1.IngestService", names)
        # A wrong CA, no CA (the system's roots) and plaintext: refused.
        for bad in (self.channel(q.port, ca="wrong-ca.crt"), self.channel(q.port, ca=None),
                    grpc.insecure_channel(q.address)):
            with self.assertRaises(grpc.RpcError) as refused:
                self.stored(bad)
            self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # TLS 1.1 and 1.0 are refused, 1.2 and 1.3 served.
        for version, ok in (("-tls1", False), ("-tls1_1", False), ("-tls1_2", True),
                            ("-tls1_3", True)):
            code, out = weir_tls.handshake(q.port, version, "-CAfile", self.certs.path("ca.crt"),
                                           "-alpn", "h2")
            if ok:
                self.assertIn("BEGIN CERTIFICATE", out, version)
                self.assertIn("Verify return code: 0 (ok)", out, version)
            else:
                self.assertIn("no peer certificate available", out, version)
                self.assertNotIn("BEGIN CERTIFICATE", out, version)

    def test_ingest_needs_a_client_certificate_naming_the_node(self):
        q = self.start_queryd()
        self.assertIn("client certificate", q.log[-1])
        now = time.time()
        # node-a's certificate writes node-a's batches.
        a = self.channel(q.port, client="node-a")
        acks = list(ingest_pb2_grpc.IngestServiceStub(a).Ingest(iter([
            batch("node-a", 1, [flow(protocol=UDP, packets=3, nbytes=300, when=now)], when=now),
            batch("node-a", 2, [flow(protocol=UDP, packets=4, nbytes=400, when=now)], when=now),
        ]), timeout=20))
        self.assertEqual([(x.seq, x.duplicate) for x in acks], [(1, False), (2, False)])
        self.assertEqual(self.stored(a, "node-a"), 7)

        # ... but not node-b's: PERMISSION_DENIED naming node-b, after the
        # ack of the batch before it; nothing of node-b is stored.
        with self.assertRaises(grpc.RpcError) as denied:
            list(ingest_pb2_grpc.IngestServiceStub(a).Ingest(iter([
                batch("node-a", 3, [flow(protocol=UDP, packets=5, nbytes=500, when=now)],
                      when=now),
                batch("node-b", 1, [flow(protocol=UDP, packets=9, nbytes=900, when=now)],
                      when=now),
            ]), timeout=20))
        self.assertEqual(denied.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn('"node-b"', denied.exception.details())
        self.assertIn("node-a", denied.exception.details())
        self.assertEqual(self.stored(a, "node-b"), 0)
        self.assertEqual(self.stored(a, "node-a"), 12)

        # A certificate without SAN: its common name is the node name.
        cn = self.channel(q.port, client="cn-only")
        acks = list(ingest_pb2_grpc.IngestServiceStub(cn).Ingest(iter([
            batch("node-cn", 1, [flow(protocol=UDP, packets=1, nbytes=100, when=now)], when=now),
        ]), timeout=20))
        self.assertEqual(len(acks), 1)

        # No client certificate: queries work, ingest is UNAUTHENTICATED.
        anonymous = self.channel(q.port)
        self.assertEqual(self.stored(anonymous, "node-a"), 12)
        with self.assertRaises(grpc.RpcError) as unauthenticated:
            list(ingest_pb2_grpc.IngestServiceStub(anonymous).Ingest(iter([
                batch("node-a", 4, [flow(protocol=UDP, packets=1, nbytes=100, when=now)],
                      when=now)]), timeout=20))
        self.assertEqual(unauthenticated.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

        # A certificate from another CA, or an expired one: no handshake.
        for client in ("stranger", "expired"):
            with self.assertRaises(grpc.RpcError) as refused:
                list(ingest_pb2_grpc.IngestServiceStub(self.channel(q.port, client=client)).Ingest(
                    iter([batch("node-a", 5, [flow(protocol=UDP, when=now)], when=now)]),
                    timeout=20))
            self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAVAILABLE, client)
        self.assertEqual(self.stored(anonymous, "node-a"), 12)

    def test_a_shared_collector_certificate_writes_as_any_node_only_when_named(self):
        now = time.time()
        # Without --shared-client-cert-name it is one node's certificate.
        q = self.start_queryd()
        shared = self.channel(q.port, client="shared")
        with self.assertRaises(grpc.RpcError) as denied:
            list(ingest_pb2_grpc.IngestServiceStub(shared).Ingest(iter([
                batch("node-x", 1, [flow(protocol=UDP, packets=2, nbytes=200, when=now)],
                      when=now)]), timeout=20))
        self.assertEqual(denied.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        # With it, the fleet's certificate writes under any node name...
        q = self.start_queryd(extra=["--shared-client-cert-name=weir-collector"])
        shared = self.channel(q.port, client="shared")
        for node in ("node-x", "node-y"):
            acks = list(ingest_pb2_grpc.IngestServiceStub(shared).Ingest(iter([
                batch(node, 1, [flow(protocol=UDP, packets=2, nbytes=200, when=now)],
                      when=now)]), timeout=20))
            self.assertEqual([(x.seq, x.duplicate) for x in acks], [(1, False)])
            self.assertEqual(self.stored(shared, node), 2)
        # ... and a node's own certificate still only its own.
        with self.assertRaises(grpc.RpcError) as denied:
            list(ingest_pb2_grpc.IngestServiceStub(self.channel(q.port, client="node-a")).Ingest(
                iter([batch("node-b", 1, [flow(protocol=UDP, when=now)], when=now)]),
                timeout=20))
        self.assertEqual(denied.exception.code(), grpc.StatusCode.PERMISSION_DENIED)

    def test_prometheus_scrapes_metrics_over_tls_with_a_bearer_token(self):
        """A real Prometheus server, its own scrape config: https with
        queryd's CA and a token of scope metrics is up; without the token
        (401) or without the CA (unknown authority) it is down."""
        folder = wt.tmpdir("prom-tls-")
        token = secrets.token_urlsafe(24)
        tokens = os.path.join(folder, "tokens")
        with open(tokens, "w") as f:
            f.write("prometheus metrics sha256:%s\n" % hashlib.sha256(token.encode()).hexdigest())
        credentials = os.path.join(folder, "prom-token")
        with open(credentials, "w") as f:
            f.write(token + "\n")
        q = self.start_queryd(mtls=False, extra=["--token-file=" + tokens])
        target = "['127.0.0.1:%d']" % q.http_port
        ca = self.certs.path("ca.crt")
        jobs = {
            "tls-and-token": "    tls_config:\n      ca_file: %s\n"
                             "    authorization:\n      credentials_file: %s\n" % (ca, credentials),
            "tls-no-token": "    tls_config:\n      ca_file: %s\n" % ca,
            "token-no-ca": "    authorization:\n      credentials_file: %s\n" % credentials,
        }
        config = os.path.join(folder, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n")
            for job, extra in jobs.items():
                f.write("  - job_name: %s\n    scheme: https\n%s"
                        "    static_configs:\n      - targets: %s\n" % (job, extra, target))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(os.path.join(folder, "prometheus.log"), "w") as log:
            prometheus = subprocess.Popen(
                ["/usr/bin/prometheus", "--config.file=" + config,
                 "--storage.tsdb.path=" + os.path.join(folder, "data"),
                 "--web.listen-address=127.0.0.1:%d" % port],
                stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: (prometheus.terminate(), prometheus.wait(20)))
        health = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/targets" % port,
                                            timeout=5) as r:
                    targets = json.load(r)["data"]["activeTargets"]
                health = {t["labels"]["job"]: (t["health"], t["lastError"]) for t in targets}
            except OSError:
                health = {}
            if len(health) == 3 and "unknown" not in {h for h, _ in health.values()}:
                break
            time.sleep(0.5)
        self.assertEqual(health.get("tls-and-token", ("?",))[0], "up", health)
        self.assertEqual(health.get("tls-no-token", ("?",))[0], "down", health)
        self.assertIn("401", health["tls-no-token"][1])
        self.assertEqual(health.get("token-no-ca", ("?",))[0], "down", health)
        self.assertIn("certificate", health["token-no-ca"][1])
        self.assertNotIn(token, "".join(q.log))

    def test_rotation_serves_new_connections_and_keeps_open_streams(self):
        q = self.start_queryd()
        self.assertEqual(weir_tls.serial_of(q.port), "%04X" % SERVER_SERIAL)
        now = time.time()
        stream = Stream(self.channel(q.port, client="node-a"))
        self.addCleanup(stream.close)
        self.assertEqual(stream.send(batch("node-a", 1, [flow(when=now)], when=now)).seq, 1)

        # A replacement that does not check out: one line, the old one stays.
        with open(self.cert_path + ".new", "w") as f:
            f.write("not a certificate\n")
        os.rename(self.cert_path + ".new", self.cert_path)
        refused = self.refusals(q, lambda: weir_tls.serial_of(q.port))
        self.assertEqual(len(refused), 1, q.log)
        self.assertIn("--tls-cert", refused[0])
        self.assertEqual(weir_tls.serial_of(q.port), "%04X" % SERVER_SERIAL)
        self.assertEqual(self.stored(self.channel(q.port)), 1)

        # The new pair: new connections see its serial.
        self.certs.install("rotated", self.cert_path, self.key_path)
        self.assertEqual(self.serial_becomes(q.port, ROTATED_SERIAL), "%04X" % ROTATED_SERIAL,
                         q.log)
        self.assertEqual(self.stored(self.channel(q.port)), 1)
        # The stream opened before goes on.
        self.assertEqual(stream.send(batch("node-a", 2, [flow(when=now, sport=40001)],
                                           when=now)).seq, 2)
        stream.close()
        self.assertEqual(self.stored(self.channel(q.port), "node-a"), 2)
        self.assertIsNone(stream.error)


    # --- HTTP -------------------------------------------------------------

    def test_https_rest_ndjson_and_wss_need_the_right_ca_and_tls_1_2(self):
        q = self.start_queryd()
        ca = "--cacert", self.certs.path("ca.crt")
        code, body = self.curl(q, "/v1/health", *ca)
        self.assertEqual(code, 0, body)
        self.assertIsInstance(json.loads(body), dict)
        # No CA (the system's roots), a wrong CA: curl refuses queryd.
        self.assertEqual(self.curl(q, "/v1/health")[0], 60)
        self.assertEqual(self.curl(q, "/v1/health", "--cacert",
                                   self.certs.path("wrong-ca.crt"))[0], 60)
        # Plaintext against the TLS port gets nothing.
        plain = subprocess.run(["curl", "-sS", "-m", "10", "http://127.0.0.1:%d/v1/health" %
                                q.http_port], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(plain.returncode, 0)
        self.assertEqual(plain.stdout, "")
        # TLS 1.1 is refused; 1.2 is served.
        self.assertNotEqual(self.curl(q, "/v1/health", *ca, "--tlsv1.1", "--tls-max", "1.1")[0], 0)
        self.assertEqual(self.curl(q, "/v1/health", *ca, "--tlsv1.2", "--tls-max", "1.2")[0], 0)
        for version, ok in (("-tls1_1", False), ("-tls1_2", True)):
            _, out = weir_tls.handshake(q.http_port, version, "-CAfile", self.certs.path("ca.crt"))
            self.assertEqual("BEGIN CERTIFICATE" in out, ok, version)
        # An NDJSON stream over TLS.
        code, body = self.curl(q, "/v1/stats:watch?interval=0.1s", *ca, "-N", "-m", "2")
        lines = [json.loads(l) for l in body.splitlines() if l.strip()]
        self.assertGreaterEqual(len(lines), 2, body)
        self.assertIn("result", lines[0])
        # A WebSocket over TLS.
        ws = self.wss(q, "/v1/stats:watch?interval=0.1s")
        self.addCleanup(ws.close)
        message = json.loads(ws.recv())
        self.assertIsInstance(message, dict)
        self.assertTrue(message)
        with self.assertRaises(ssl.SSLError):
            websocket.create_connection(
                "wss://127.0.0.1:%d/v1/stats:watch" % q.http_port, timeout=10,
                sslopt={"cert_reqs": ssl.CERT_REQUIRED,
                        "ca_certs": self.certs.path("wrong-ca.crt")})

    def test_https_rotation_keeps_an_open_websocket(self):
        q = self.start_queryd()
        ca = "--cacert", self.certs.path("ca.crt")
        self.assertEqual(weir_tls.serial_of(q.http_port), "%04X" % SERVER_SERIAL)
        watcher = self.wss(q, "/v1/flows:watch")
        self.addCleanup(watcher.close)
        stream = Stream(self.channel(q.port, client="node-a"))
        self.addCleanup(stream.close)
        now = time.time()
        self.assertEqual(stream.send(batch("node-a", 1, [flow(packets=2, when=now)],
                                           when=now)).seq, 1)
        self.assertEqual(int(json.loads(watcher.recv())["flow"]["packets"]), 2)

        # An expired replacement is refused with one line; the old one stays.
        self.certs.install("expired-server", self.cert_path, self.key_path)
        refused = self.refusals(q, lambda: self.curl(q, "/v1/health", *ca))
        self.assertEqual(len(refused), 1, q.log)
        self.assertIn("expired", refused[0])
        self.assertEqual(self.curl(q, "/v1/health", *ca)[0], 0)
        self.assertEqual(weir_tls.serial_of(q.http_port), "%04X" % SERVER_SERIAL)

        # The new pair: new connections (HTTPS and gRPC) present it.
        self.certs.install("rotated", self.cert_path, self.key_path)
        self.assertEqual(self.serial_becomes(q.http_port, ROTATED_SERIAL), "%04X" % ROTATED_SERIAL,
                         q.log)
        self.assertEqual(weir_tls.serial_of(q.port), "%04X" % ROTATED_SERIAL)
        self.assertEqual(self.curl(q, "/v1/health", *ca)[0], 0)
        # The WebSocket and the ingest stream opened before go on.
        self.assertEqual(stream.send(batch("node-a", 2, [flow(packets=3, sport=40001, when=now)],
                                           when=now)).seq, 2)
        self.assertEqual(int(json.loads(watcher.recv())["flow"]["packets"]), 3)
        stream.close()
        self.assertIsNone(stream.error)


if __name__ == "__main__":
    unittest.main(verbosity=2)
