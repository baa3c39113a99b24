"""weir-collector end to end: the real program in the real kernel on a veth
pair, real traffic, and a gRPC IngestService of the test's own (python3-grpcio)
receiving the batches.

The test re-runs itself in a private network and mount namespace (gone when
it exits, even on failure), mounts a bpffs there for the pins, and puts the
far end of a veth pair in a second namespace it creates and removes. Offloads
are off and neighbours are static, so the link carries only the test's
traffic and the veth's own counters are an exact, independent reference.
Addresses come from 192.0.2.0/24 and 2001:db8::/32.
"""
import collections
import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc
from weir.v1 import flow_pb2, ingest_pb2, ingest_pb2_grpc

import weir_testing as wt

NS = "weir-e2e-%d" % os.getpid()
A4, B4 = "192.0.2.1", "192.0.2.2"
A6, B6 = "2001:db8::1", "2001:db8::2"
MAC_A, MAC_B = "02:00:00:00:0a:01", "02:00:00:00:0b:02"


def sh(*cmd, ns=None, check=True):
    if ns:
        cmd = ("ip", "netns", "exec", ns) + cmd
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


def veth_counters():
    """The veth's own counters, over netlink (sysfs shows the host's netns)."""
    (link,) = json.loads(sh("ip", "-j", "-s", "link", "show", "wa"))
    stats = link["stats64"]
    return {"rx_packets": stats["rx"]["packets"], "rx_bytes": stats["rx"]["bytes"],
            "tx_packets": stats["tx"]["packets"], "tx_bytes": stats["tx"]["bytes"]}


class Receiver(ingest_pb2_grpc.IngestServiceServicer):
    """Stores each (node, epoch, seq) once and acks it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.batches = {}

    def Ingest(self, request_iterator, context):
        for batch in request_iterator:
            with self.lock:
                self.batches.setdefault((batch.node, batch.epoch, batch.seq), batch)
            yield ingest_pb2.Ack(epoch=batch.epoch, seq=batch.seq)

    def snapshot(self):
        with self.lock:
            return list(self.batches.values())


class Collector:
    def __init__(self, queryd, pin_path, metrics_port, extra=()):
        self.args = [wt.runfile("collector/weir-collector"), "--interfaces=wa",
                     "--queryd=" + queryd, "--flush-interval=200ms", "--node=e2e",
                     "--pin-path=" + pin_path, "--metrics-address=127.0.0.1:%d" % metrics_port,
                     *extra]
        self.log = []

    def start(self):
        self.proc = subprocess.Popen(self.args, stderr=subprocess.PIPE, text=True)
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.log.append(line)
                if "observing" in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30):
            self.proc.kill()
            raise RuntimeError("collector did not start:\n" + "".join(self.log))
        return self

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(30)
        time.sleep(0.2)
        return code


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send_udp(dst, port, count, size, family=socket.AF_INET, pause=0.0):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        for _ in range(count):
            s.sendto(b"x" * size, (dst, port))
            if pause:
                time.sleep(pause)


def flows_by_key(batches):
    totals = collections.defaultdict(lambda: [0, 0])
    for b in batches:
        for f in b.flows:
            key = (f.direction, f.protocol, socket.inet_ntop(
                socket.AF_INET if len(f.src_addr) == 4 else socket.AF_INET6, f.src_addr),
                socket.inet_ntop(socket.AF_INET if len(f.dst_addr) == 4 else socket.AF_INET6,
                                 f.dst_addr), f.src_port, f.dst_port)
            totals[key][0] += f.packets
            totals[key][1] += f.bytes
    return totals


@unittest.skipUnless(os.geteuid() == 0, "needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)")
class CollectorEndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sh("ip", "link", "set", "lo", "up")
        cls.bpffs = tempfile.mkdtemp(prefix="bpffs-", dir=os.environ.get("TEST_TMPDIR"))
        sh("mount", "-t", "bpf", "bpf", cls.bpffs)
        sh("ip", "netns", "add", NS)
        sh("ip", "link", "add", "wa", "address", MAC_A, "type", "veth", "peer", "name", "wb",
           "address", MAC_B, "netns", NS)
        for ns, dev, a4, a6, peer4, peer6, mac in ((None, "wa", A4, A6, B4, B6, MAC_B),
                                                   (NS, "wb", B4, B6, A4, A6, MAC_A)):
            sh("sysctl", "-qw", "net.ipv6.conf.%s.accept_ra=0" % dev, ns=ns, check=False)
            sh("sysctl", "-qw", "net.ipv6.conf.%s.router_solicitations=0" % dev, ns=ns, check=False)
            sh("ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", ns=ns, check=False)
            sh("ip", "addr", "add", a4 + "/24", "dev", dev, ns=ns)
            sh("ip", "addr", "add", a6 + "/64", "dev", dev, "nodad", ns=ns)
            sh("ip", "link", "set", dev, "up", ns=ns)
            sh("ip", "neigh", "replace", peer4, "lladdr", mac, "dev", dev, "nud", "permanent", ns=ns)
            sh("ip", "neigh", "replace", peer6, "lladdr", mac, "dev", dev, "nud", "permanent", ns=ns)
        sh("ip", "link", "set", "lo", "up", ns=NS)
        # Sinks in the far namespace: UDP (v4, v6) and a TCP server that
        # reads everything.
        cls.sinks = subprocess.Popen(
            ["ip", "netns", "exec", NS, "/usr/bin/python3", "-c", SINKS], text=True,
            stdout=subprocess.PIPE)
        assert cls.sinks.stdout.readline().strip() == "ready"
        time.sleep(3)  # let IPv6 multicast reports of the new link settle
        cls.receiver = Receiver()
        cls.server = grpc.server(concurrent.futures.ThreadPoolExecutor(4))
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(cls.receiver, cls.server)
        cls.port = cls.server.add_insecure_port("127.0.0.1:0")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(0)
        cls.sinks.kill()
        cls.sinks.wait()
        sh("ip", "netns", "del", NS, check=False)
        sh("umount", cls.bpffs, check=False)

    def test_exact_counts_reconciliation_and_restart(self):
        pin = self.bpffs + "/weir"
        metrics_port = free_port()
        before = veth_counters()
        collector = Collector("127.0.0.1:%d" % self.port, pin, metrics_port,
                              ["--keep-attached"]).start()

        send_udp(B4, 9000, 100, 200)
        send_udp(B6, 9000, 50, 100, socket.AF_INET6)
        sh("ping", "-c", "5", "-i", "0.2", "-s", "56", B4)
        with socket.create_connection((B4, 9001)) as c:
            c.sendall(b"y" * 100000)
            c.shutdown(socket.SHUT_WR)
            c.recv(1)  # the sink closes after reading everything

        # Restart mid-traffic: a sender keeps going while the collector stops
        # (leaving its program attached and maps pinned) and a new one adopts.
        sender = threading.Thread(target=send_udp, args=(B4, 9002, 300, 64, socket.AF_INET, 0.005))
        sender.start()
        time.sleep(0.4)
        # --keep-attached was not given at start; the flag only matters at
        # exit, so the first collector is started with it from the outset.
        self.assertEqual(collector.stop(), 0, "".join(collector.log))
        second = Collector("127.0.0.1:%d" % self.port, pin, metrics_port).start()
        self.assertTrue(any("adopted" in l for l in second.log), "".join(second.log))
        sender.join(30)
        time.sleep(0.5)
        metrics = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/metrics" % metrics_port],
                                 capture_output=True, text=True).stdout
        self.assertEqual(second.stop(), 0, "".join(second.log))
        after = veth_counters()

        batches = self.receiver.snapshot()
        flows = flows_by_key(batches)
        E, I = flow_pb2.DIRECTION_EGRESS, flow_pb2.DIRECTION_INGRESS
        udp4 = [v for k, v in flows.items() if k[0] == E and k[1] == 17 and k[3] == B4 and k[5] == 9000]
        self.assertEqual(udp4, [[100, 100 * (14 + 20 + 8 + 200)]])
        udp6 = [v for k, v in flows.items() if k[0] == E and k[1] == 17 and k[3] == B6 and k[5] == 9000]
        self.assertEqual(udp6, [[50, 50 * (14 + 40 + 8 + 100)]])
        echo = [v for k, v in flows.items() if k[0] == E and k[1] == 1 and k[3] == B4]
        reply = [v for k, v in flows.items() if k[0] == I and k[1] == 1 and k[2] == B4]
        self.assertEqual(echo, [[5, 5 * (14 + 20 + 8 + 56)]])
        self.assertEqual(reply, [[5, 5 * (14 + 20 + 8 + 56)]])
        # Across the restart: every one of the 300 datagrams, once.
        restarted = [v for k, v in flows.items() if k[0] == E and k[1] == 17 and k[5] == 9002]
        self.assertEqual(restarted, [[300, 300 * (14 + 20 + 8 + 64)]])
        tcp_out = [v for k, v in flows.items() if k[0] == E and k[1] == 6 and k[5] == 9001]
        self.assertEqual(len(tcp_out), 1)
        self.assertGreater(tcp_out[0][1], 100000)

        # Reconciliation, per batch and in total, and against the veth.
        seen_p = seen_b = 0
        for b in batches:
            c = b.counters
            lost_p = sum(l.packets for l in c.losses)
            lost_b = sum(l.bytes for l in c.losses)
            self.assertEqual(c.packets_seen, c.packets_exported + lost_p)
            self.assertEqual(c.bytes_seen, c.bytes_exported + lost_b)
            self.assertEqual(c.packets_exported, sum(f.packets for f in b.flows))
            seen_p += c.packets_seen
            seen_b += c.bytes_seen
        self.assertEqual(seen_p, (after["tx_packets"] - before["tx_packets"]) +
                         (after["rx_packets"] - before["rx_packets"]))
        self.assertEqual(seen_b, (after["tx_bytes"] - before["tx_bytes"]) +
                         (after["rx_bytes"] - before["rx_bytes"]))
        self.assertRegex(metrics, r"(?m)^weir_collector_unexplained_packets 0$")
        # A clean stop (no --keep-attached) leaves nothing pinned.
        self.assertEqual(os.listdir(pin) if os.path.isdir(pin) else [], [])


SINKS = r"""
import socket, threading
def udp(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM); s.bind(addr)
    while True: s.recv(65535)
for family, host in ((socket.AF_INET, "192.0.2.2"), (socket.AF_INET6, "2001:db8::2")):
    for port in (9000, 9002):
        threading.Thread(target=udp, args=(family, (host, port)), daemon=True).start()
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("192.0.2.2", 9001)); srv.listen()
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    while c.recv(65536): pass
    c.close()
"""


def main():
    # Re-run in private network and mount namespaces: whatever the test
    # creates dies with it.
    if os.geteuid() == 0 and not os.environ.get("WEIR_E2E_INSIDE"):
        env = dict(os.environ, WEIR_E2E_INSIDE="1")
        os.execvpe("unshare", ["unshare", "--net", "--mount", "--propagation", "private",
                               sys.executable, "-u"] + sys.argv, env)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
