"""The real weir-collector (its BPF program on the lab's veth, tests/weir_lab.py)
shipping to the real weir-queryd over mutual TLS: exact counts with a valid
client certificate; with one from a CA queryd does not trust it is refused
and keeps its batches, and once its certificate files are fixed (replaced
under the running collector) every packet arrives exactly once.
"""
import collections
import os
import re
import socket
import subprocess
import time
import unittest

import grpc
from google.protobuf import timestamp_pb2
from weir.v1 import query_pb2, query_pb2_grpc

import weir_lab as lab
import weir_testing as wt
import weir_tls
from weir_lab import B4, UDP4, Collector, send_udp
from weir_testing import free_port


def ts(seconds):
    t = timestamp_pb2.Timestamp()
    t.FromNanoseconds(int(seconds * 1e9))
    return t


@unittest.skipUnless(os.geteuid() == 0, "needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)")
class CollectorTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One lab for all: a veth pair deleted with its namespace goes away
        # asynchronously, so a new one right after could find it still there.
        cls.lab = lab.Lab()
        cls.addClassCleanup(cls.lab.down)
        cls.lab.up()
        c = cls.certs = weir_tls.Certs()
        c.leaf("server", "weir-queryd", ["DNS:localhost", "IP:127.0.0.1"])
        c.leaf("e2e", "e2e", ["DNS:e2e"])
        c.leaf("stranger", "e2e", ["DNS:e2e"], ca="wrong-ca")

    def setUp(self):
        c = self.certs
        self.queryd = wt.Queryd(extra_args=[
            "--tls-cert=" + c.path("server.crt"), "--tls-key=" + c.path("server.key"),
            "--client-ca=" + c.path("ca.crt")]).start()
        self.addCleanup(self.queryd.kill)
        creds = grpc.ssl_channel_credentials(root_certificates=c.read("ca.crt"))
        self.channel = grpc.secure_channel(self.queryd.address, creds)
        self.addCleanup(self.channel.close)

    def collector(self, cert, key):
        args = ["--queryd-ca=" + self.certs.path("ca.crt"), "--client-cert=" + cert,
                "--client-key=" + key]
        # Pins of each test's own, whatever an earlier one left.
        pins = "%s/weir-%s" % (self.lab.bpffs, self._testMethodName)
        col = Collector(self.queryd.address, pins, free_port(), extra=args)
        return col

    def udp_totals(self, since, dport):
        """{(packets, bytes)} of the stored egress UDP flows to B4:dport."""
        r = query_pb2_grpc.QueryServiceStub(self.channel).ListFlows(query_pb2.ListFlowsRequest(
            range=query_pb2.TimeRange(start=ts(since), end=ts(time.time() + 60)),
            page_size=1000), timeout=10)
        totals = collections.Counter()
        for f in r.flows:
            k = f.key
            if k.protocol == 17 and k.dst_addr == B4 and k.dst_port == dport:
                totals["packets"] += f.packets
                totals["bytes"] += f.bytes
        return totals["packets"], totals["bytes"]

    def wait_for(self, since, dport, want, timeout=30):
        deadline, got = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            got = self.udp_totals(since, dport)
            if got == want:
                return got
            time.sleep(0.5)
        return got

    def assert_arrives(self, col, since, want):
        self.assertEqual(self.wait_for(since, 9000, want), want, "".join(col.log))

    def assert_stops_with(self, col, since, want):
        """A clean stop, after which nothing more arrives."""
        self.assertEqual(col.stop(), 0, "".join(col.log))
        time.sleep(1)
        self.assertEqual(self.udp_totals(since, 9000), want)

    def test_valid_certificate_ships_exactly(self):
        since = time.time() - 5
        col = self.collector(self.certs.path("e2e.crt"), self.certs.path("e2e.key")).start()
        self.addCleanup(col.kill)
        send_udp(B4, 9000, 120, 300)
        want = (120, 120 * (UDP4 + 300))
        self.assert_arrives(col, since, want)
        self.assert_stops_with(col, since, want)

    def test_refused_certificate_keeps_batches_until_fixed_then_exactly_once(self):
        since = time.time() - 5
        folder = wt.tmpdir("client-tls-")
        cert, key = os.path.join(folder, "tls.crt"), os.path.join(folder, "tls.key")
        self.certs.install("stranger", cert, key)
        col = self.collector(cert, key).start()
        self.addCleanup(col.kill)
        send_udp(B4, 9000, 80, 200)
        # Refused at the handshake: nothing arrives, the batches wait.
        time.sleep(3)
        self.assertEqual(self.udp_totals(since, 9000), (0, 0))
        port = re.search(r"--metrics-address=127.0.0.1:(\d+)", " ".join(col.args)).group(1)
        metrics = subprocess.run(["curl", "-sS", "http://127.0.0.1:%s/metrics" % port],
                                 capture_output=True, text=True, timeout=10).stdout
        unacked = re.search(r"(?m)^weir_collector_unacked_batches (\S+)$", metrics)
        self.assertIsNotNone(unacked, metrics)
        self.assertGreater(float(unacked.group(1)), 0)
        # Fixed under the running collector: it reconnects with the new files
        # and every batch arrives, once.
        self.certs.install("e2e", cert, key)
        want = (80, 80 * (UDP4 + 200))
        self.assert_arrives(col, since, want)
        self.assertTrue(any("reloaded" in l for l in col.log), col.log)
        send_udp(B4, 9000, 20, 200)
        want = (100, 100 * (UDP4 + 200))
        self.assert_arrives(col, since, want)
        self.assert_stops_with(col, since, want)

    def test_unreadable_file_stops_the_start_with_one_line(self):
        missing = os.path.join(self.certs.dir, "missing.key")
        code, err = self.collector(self.certs.path("e2e.crt"), missing).run_to_exit()
        lines = err.strip().splitlines()
        self.assertEqual(code, 2, err)
        self.assertEqual(len(lines), 1, err)
        self.assertIn("--client-key", lines[0])


if __name__ == "__main__":
    lab.reexec_in_private_namespaces()
    unittest.main(verbosity=2)
