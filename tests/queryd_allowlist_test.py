"""weir-queryd's --allowed-ips from real addresses.

The test runs in network and mount namespaces of its own (as root), where
queryd listens on [::] (both families) behind a veth whose far end, in a
second namespace, holds 192.0.2.2 and 192.0.2.3, 2001:db8::2 and
2001:db8::3. Only .2 / ::2 (and loopback, for the test's own scrapes) are
allowed: curl, raw sockets and python3-grpcio from the other addresses get
a closed connection and not one byte; from the allowed ones everything
works. Both namespaces go when the test exits, even on failure.
"""
import os
import socket
import subprocess
import sys
import time
import unittest

import weir_testing as wt
from weir_lab import reexec_in_private_namespaces, sh

from queryd_http_test import curl, metric_values

A4, OK4, NO4 = "192.0.2.1", "192.0.2.2", "192.0.2.3"
A6, OK6, NO6 = "2001:db8::1", "2001:db8::2", "2001:db8::3"

# A gRPC client in the far namespace: the health check of "" as raw bytes
# (an empty HealthCheckRequest), so it needs no generated module. Prints
# OK <response bytes hex> or the status code's name.
GRPC_CLIENT = r"""
import sys, grpc
channel = grpc.insecure_channel(sys.argv[1])
check = channel.unary_unary("/grpc.health.v1.Health/Check")
try:
    print("OK", check(b"", timeout=3).hex())
except grpc.RpcError as e:
    print(e.code().name)
"""


class AllowlistTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (network namespaces)")
        cls.ns = "weir-allow-%d" % os.getpid()
        cls.queryd = None
        try:
            sh("ip", "link", "set", "lo", "up")
            sh("ip", "netns", "add", cls.ns)
            sh("ip", "link", "add", "wa", "type", "veth", "peer", "name", "wb", "netns", cls.ns)
            sh("ip", "addr", "add", A4 + "/24", "dev", "wa")
            sh("ip", "addr", "add", A6 + "/64", "dev", "wa", "nodad")
            for address in (OK4 + "/24", NO4 + "/24"):
                sh("ip", "addr", "add", address, "dev", "wb", ns=cls.ns)
            for address in (OK6 + "/64", NO6 + "/64"):
                sh("ip", "addr", "add", address, "dev", "wb", "nodad", ns=cls.ns)
            sh("ip", "link", "set", "wa", "up")
            sh("ip", "link", "set", "wb", "up", ns=cls.ns)
            sh("ip", "link", "set", "lo", "up", ns=cls.ns)
            cls.queryd = wt.Queryd(extra_args=[
                "--grpc-address=[::]:0", "--http-address=[::]:0", "--plaintext",
                "--allowed-ips=%s,%s,127.0.0.1" % (OK4, OK6)]).start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.queryd is not None:
                code = cls.queryd.stop()
                assert code == 0, "weir-queryd exited %s:\n%s" % (code, "".join(cls.queryd.log))
        finally:
            sh("ip", "netns", "del", cls.ns, check=False)

    def in_ns(self, *cmd, timeout=20):
        return subprocess.run(("ip", "netns", "exec", self.ns) + cmd, capture_output=True,
                              text=True, timeout=timeout)

    def refused(self, listener):
        _, _, body = curl(self.queryd.http_url + "/metrics")
        return metric_values(body, "weir_queryd_connections_refused_total").get(
            '{listener="%s",reason="allowlist"}' % listener, 0.0)

    def raw(self, source, target, port, data):
        """What a socket bound to `source` in the far namespace receives
        after sending `data`, until closed; "reset" when queryd resets it."""
        code = r"""
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(5)
s.bind((sys.argv[1], 0))
s.connect((sys.argv[2], int(sys.argv[3])))
try:
    s.sendall(bytes.fromhex(sys.argv[4]))
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    print("bytes", got.hex())
except ConnectionResetError:
    print("reset")
except socket.timeout:
    print("timeout", got.hex())
"""
        result = self.in_ns(sys.executable, "-c", code, source, target, str(port), data.hex())
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip()

    def test_http_from_inside_and_outside_the_list(self):
        before = self.refused("http")
        for source, target in ((OK4, A4), (OK6, "[%s]" % A6)):
            with self.subTest(source=source):
                result = self.in_ns("curl", "-sS", "-m", "10", "--interface", source,
                                    "-w", "\n%{http_code}",
                                    "http://%s:%d/v1/health" % (target, self.queryd.http_port))
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertTrue(result.stdout.endswith("\n200"), result.stdout)
        request = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        refused = 0
        for source, target in ((NO4, A4), (NO6, A6)):
            with self.subTest(source=source):
                # curl gets nothing back: an empty reply (52) or a reset (56).
                result = self.in_ns("curl", "-sS", "-m", "10", "--interface", source,
                                    "http://%s:%d/v1/health" % (
                                        target if ":" not in target else "[%s]" % target,
                                        self.queryd.http_port))
                self.assertIn(result.returncode, (52, 56), result.stderr)
                self.assertEqual(result.stdout, "")
                got = self.raw(source, target, self.queryd.http_port, request)
                self.assertIn(got, ("bytes", "reset"))  # not one byte
                refused += 2
        # The allowed raw client gets its answer.
        self.assertTrue(self.raw(OK4, A4, self.queryd.http_port, request).startswith(
            "bytes " + b"HTTP/1.1 200".hex()))
        self.assertEqual(self.refused("http"), before + refused)

    def test_grpc_from_inside_and_outside_the_list(self):
        before = self.refused("grpc")
        port = self.queryd.port
        for source, target in ((OK4, A4), (OK6, "[%s]" % A6)):
            with self.subTest(source=source):
                sh("ip", "route", "replace", target.strip("[]"), "dev", "wb", "src", source,
                   ns=self.ns)
                result = self.in_ns(sys.executable, "-c", GRPC_CLIENT, "%s:%d" % (target, port))
                self.assertEqual(result.stdout.strip(), "OK 0801", result.stderr)  # SERVING
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")
        for source, target in ((NO4, A4), (NO6, A6)):
            with self.subTest(source=source):
                # Through the routing table, as any gRPC client connects.
                sh("ip", "route", "replace", target, "dev", "wb", "src", source, ns=self.ns)
                result = self.in_ns(sys.executable, "-c", GRPC_CLIENT,
                                    "%s:%d" % (target if ":" not in target else "[%s]" % target,
                                               port))
                self.assertEqual(result.stdout.strip(), "UNAVAILABLE", result.stderr)
                # gRPC would send its SETTINGS first; here nothing comes.
                self.assertIn(self.raw(source, target, port, preface), ("bytes", "reset"))
        # The allowed address gets an HTTP/2 SETTINGS frame (type 4) at once.
        got = self.raw(OK4, A4, port, preface)
        self.assertTrue(got.startswith("bytes ") or got.startswith("timeout "), got)
        frames = bytes.fromhex(got.split(" ", 1)[1])
        self.assertGreaterEqual(len(frames), 9, got)
        self.assertEqual(frames[3], 4, got)
        self.assertGreater(self.refused("grpc"), before + 2)

    def test_per_listener_lists_override_the_common_one(self):
        # gRPC only from .3, HTTP from the common list (.2): each listener
        # follows its own.
        other = wt.Queryd(extra_args=[
            "--grpc-address=%s:0" % A4, "--http-address=%s:0" % A4, "--plaintext",
            "--allowed-ips=%s" % OK4, "--grpc-allowed-ips=%s" % NO4])
        other.start()
        try:
            request = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            self.assertTrue(self.raw(OK4, A4, other.http_port, request).startswith(
                "bytes " + b"HTTP/1.1 200".hex()))
            self.assertIn(self.raw(NO4, A4, other.http_port, request), ("bytes", "reset"))
            for source, want in ((NO4, "OK 0801"), (OK4, "UNAVAILABLE")):
                sh("ip", "route", "replace", A4, "dev", "wb", "src", source, ns=self.ns)
                result = self.in_ns(sys.executable, "-c", GRPC_CLIENT, "%s:%d" % (A4, other.port))
                self.assertEqual(result.stdout.strip(), want, (source, result.stderr))
        finally:
            self.assertEqual(other.stop(), 0, "".join(other.log))

    def test_loopback_entry_lets_the_test_ingest(self):
        acks = wt.ingest(self.queryd.address, [wt.batch("node-a", 1, [wt.flow()])])
        self.assertEqual(len(acks), 1)


if __name__ == "__main__":
    reexec_in_private_namespaces()
    unittest.main()
