"""The whole path: the real weir-collector on a veth in the real kernel,
shipping to the real weir-queryd, asked through gRPC (python3-grpcio), REST
(curl), a WebSocket watcher (python3-websocket) and a real Prometheus server.
Real traffic between two hosts of tests/weir_lab.py, with the counts taken
independently of Weir: the sender's own numbers and the veth's counters.
Then queryd is killed with SIGKILL mid-traffic and restarted, and the stored
totals are still exact.
"""
import collections
import json
import os
import socket
import subprocess
import threading
import time
import unittest

import grpc
import websocket
from google.protobuf import timestamp_pb2
from weir.v1 import flow_pb2, query_pb2, query_pb2_grpc

import weir_lab as lab
import weir_testing as wt
from weir_lab import B4, B6, BLOB, ICMP4, UDP4, UDP6, Collector, send_udp
from weir_testing import free_port

E, I = flow_pb2.DIRECTION_EGRESS, flow_pb2.DIRECTION_INGRESS


def ts(seconds):
    t = timestamp_pb2.Timestamp()
    t.FromNanoseconds(int(seconds * 1e9))
    return t


def key_of(f):
    k = f.key
    return (k.direction, k.protocol, k.src_addr, k.dst_addr, k.src_port, k.dst_port)


class Prometheus:
    """Debian's Prometheus on loopback, scraping queryd every second."""

    def __init__(self, target):
        self.dir = wt.tmpdir("prometheus-")
        self.port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global: {scrape_interval: 1s}\nscrape_configs:\n"
                    "  - job_name: weir\n    static_configs: [{targets: ['%s']}]\n" % target)
        self.proc = subprocess.Popen(
            ["/usr/bin/prometheus", "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "w"))

    def query(self, expr):
        out = subprocess.run(["curl", "-sS", "--get", "--data-urlencode", "query=" + expr,
                              "http://127.0.0.1:%d/api/v1/query" % self.port],
                             capture_output=True, text=True).stdout
        result = json.loads(out)["data"]["result"] if out.startswith("{") else []
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, expr, want, timeout=60):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.query(expr)
            if got == want:
                return got
            time.sleep(1)
        return got

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


@unittest.skipUnless(os.geteuid() == 0, "needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)")
class EndToEndTest(unittest.TestCase):
    def setUp(self):
        self.lab = lab.Lab().up()
        self.addCleanup(self.lab.down)
        self.grpc_port = free_port()
        self.http_port = free_port()
        # Fixed ports: the restarted queryd must be where the collector and
        # Prometheus look.
        self.ports = ["--grpc-address=127.0.0.1:%d" % self.grpc_port,
                      "--http-address=127.0.0.1:%d" % self.http_port]
        self.queryd = wt.Queryd(extra_args=self.ports)
        self.queryd.start()
        self.addCleanup(self.queryd.kill)

    def stub(self):
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.grpc_port)
        self.addCleanup(channel.close)
        return query_pb2_grpc.QueryServiceStub(channel)

    def stored_flows(self, since):
        flows, token = [], ""
        for _ in range(1000):
            r = self.stub().ListFlows(query_pb2.ListFlowsRequest(
                range=query_pb2.TimeRange(start=ts(since), end=ts(time.time() + 1)),
                page_size=1000, page_token=token), timeout=20)
            flows.extend(r.flows)
            token = r.next_page_token
            if not token:
                return flows
        self.fail("pagination did not end")

    def settle(self, since, timeout=30):
        """Waits until the stored totals stop moving (collector flushed)."""
        last, deadline = None, time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(1)
            flows = self.stored_flows(since)
            now = (len(flows), sum(f.packets for f in flows))
            if now == last:
                return flows
            last = now
        return flows

    def test_whole_path_is_exact_and_survives_a_queryd_kill(self):
        start = time.time() - 5
        pin = self.lab.bpffs + "/weir"
        # A WebSocket watcher of every new flow, from before the traffic.
        watcher = websocket.create_connection(
            self.queryd.http_url.replace("http://", "ws://") + "/v1/flows:watch", timeout=60)
        self.addCleanup(watcher.close)
        watched = []

        def watch():
            try:
                while True:
                    watched.append(json.loads(watcher.recv()))
            except Exception:
                pass

        threading.Thread(target=watch, daemon=True).start()
        prometheus = Prometheus("127.0.0.1:%d" % self.queryd.http_port)
        self.addCleanup(prometheus.stop)

        before = self.lab.veth_counters()
        self.metrics_port = free_port()
        collector = Collector("127.0.0.1:%d" % self.grpc_port, pin, self.metrics_port).start()
        self.addCleanup(collector.kill)

        # Traffic with known sizes.
        send_udp(B4, 9000, 100, 200)
        send_udp(B6, 9000, 50, 100, socket.AF_INET6)
        lab.sh("ping", "-c", "5", "-i", "0.2", "-s", "56", B4)
        fetched = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}",
                                  "http://%s:8080/blob" % B4], capture_output=True, text=True)
        self.assertEqual(int(fetched.stdout), BLOB)

        # The watcher saw every flow stored so far, exactly.
        stored_before_kill = sum(f.packets for f in self.settle(start))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.watched_packets(watched) < stored_before_kill:
            time.sleep(0.2)
        self.assertEqual(self.watched_packets(watched), stored_before_kill)
        # Prometheus, scraping queryd's /metrics, sees the same total.
        self.assertEqual(
            prometheus.wait_for('sum(weir_packets_total{node="e2e"})', stored_before_kill),
            stored_before_kill)

        # queryd is killed mid-traffic and comes back on the same port and
        # data; the collector resends what was not acknowledged.
        sender = threading.Thread(target=send_udp, args=(B4, 9002, 400, 64, socket.AF_INET, 0.005))
        sender.start()
        time.sleep(0.5)
        self.queryd.kill()
        time.sleep(1.0)
        self.queryd = wt.Queryd(self.queryd.data_dir, extra_args=self.ports)
        self.queryd.start()
        self.addCleanup(self.queryd.kill)
        sender.join(30)
        self.assertEqual(collector.stop(), 0, "".join(collector.log + self.queryd.log))
        after = self.lab.veth_counters()

        flows = self.settle(start)
        totals = collections.defaultdict(lambda: [0, 0])
        for f in flows:
            totals[key_of(f)][0] += f.packets
            totals[key_of(f)][1] += f.bytes

        def one(direction, protocol, dst=None, src=None, dport=None):
            found = [v for k, v in totals.items() if k[0] == direction and k[1] == protocol
                     and (dst is None or k[3] == dst) and (src is None or k[2] == src)
                     and (dport is None or k[5] == dport)]
            self.assertEqual(len(found), 1, (direction, protocol, dst, dport, dict(totals)))
            return found[0]

        self.assertEqual(one(E, 17, B4, dport=9000), [100, 100 * (UDP4 + 200)])
        self.assertEqual(one(E, 17, B6, dport=9000), [50, 50 * (UDP6 + 100)])
        self.assertEqual(one(E, 1, B4), [5, 5 * (ICMP4 + 56)])
        self.assertEqual(one(I, 1, src=B4), [5, 5 * (ICMP4 + 56)])
        self.assertEqual(one(E, 17, B4, dport=9002), [400, 400 * (UDP4 + 64)])
        http_in = one(I, 6, src=B4)
        self.assertGreater(http_in[1], BLOB)  # the body plus headers of every segment

        # Everything the veth carried is in a flow or a named loss, exactly.
        nodes = {n.name: n for n in self.stub().ListNodes(query_pb2.ListNodesRequest(),
                                                           timeout=10).nodes}
        c = nodes["e2e"].counters
        lost_p = sum(l.packets for l in c.losses)
        wire_p = (after["tx_packets"] - before["tx_packets"]) + (after["rx_packets"] - before["rx_packets"])
        wire_b = (after["tx_bytes"] - before["tx_bytes"]) + (after["rx_bytes"] - before["rx_bytes"])
        self.assertEqual(c.packets_seen, wire_p)
        self.assertEqual(c.bytes_seen, wire_b)
        self.assertEqual(c.packets_seen, c.packets_exported + lost_p)
        stored_p = sum(f.packets for f in flows)
        self.assertEqual(stored_p, c.packets_exported)

        # REST says the same.
        rest = json.loads(subprocess.run(
            ["curl", "-sS", "%s/v1/flows?page_size=1000&range.start=%s" % (
                self.queryd.http_url,
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)))],
            capture_output=True, text=True).stdout)
        self.assertEqual(sum(int(f.get("packets", 0)) for f in rest["flows"]), stored_p)


    @staticmethod
    def watched_packets(messages):
        # One JSON WatchFlowsResponse per frame (or {"result": ...}).
        return sum(int(m.get("result", m).get("flow", {}).get("packets", 0)) for m in messages)

if __name__ == "__main__":
    lab.reexec_in_private_namespaces()
    unittest.main(verbosity=2)
