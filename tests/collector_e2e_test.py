"""weir-collector end to end: the real program in the real kernel on a veth
pair (tests/weir_lab.py), real traffic, and a gRPC IngestService of the
test's own (python3-grpcio) receiving the batches.
"""
import collections
import concurrent.futures
import hashlib
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
import unittest

import grpc
from google.protobuf import timestamp_pb2
from weir.v1 import flow_pb2, ingest_pb2, ingest_pb2_grpc, query_pb2, query_pb2_grpc

import weir_lab as lab
import weir_testing as wt
from weir_lab import B4, B6, Collector, send_udp
from weir_testing import free_port


class Receiver(ingest_pb2_grpc.IngestServiceServicer):
    """Stores each (node, epoch, seq) once and acks it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.batches = {}
        self.last_arrival = {}  # node: time.monotonic() of its latest batch

    def Ingest(self, request_iterator, context):
        for batch in request_iterator:
            with self.lock:
                self.batches.setdefault((batch.node, batch.epoch, batch.seq), batch)
                self.last_arrival[batch.node] = time.monotonic()
            yield ingest_pb2.Ack(epoch=batch.epoch, seq=batch.seq)

    def snapshot(self, node):
        """The batches of one node (each test's collectors have their own)."""
        with self.lock:
            return [b for b in self.batches.values() if b.node == node]

    def arrivals(self, node):
        """(batches of `node` so far, time.monotonic() of the latest)."""
        with self.lock:
            return (sum(1 for k in self.batches if k[0] == node),
                    self.last_arrival.get(node, 0.0))


def pins(path):
    """What a pin folder holds, as sorted relative paths; None when it is absent."""
    if not os.path.isdir(path):
        return None
    found = []
    for root, dirs, files in os.walk(path):
        rel = os.path.relpath(root, path)
        found += [os.path.normpath(os.path.join(rel, n)) + "/" for n in dirs]
        found += [os.path.normpath(os.path.join(rel, n)) for n in files]
    return sorted(found)


def metric(text, name):
    """The value of an unlabelled sample in Prometheus text, or None."""
    m = re.search(r"(?m)^%s (\S+)$" % re.escape(name), text)
    return float(m.group(1)) if m else None


def scrape(port):
    return subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/metrics" % port],
                          capture_output=True, text=True, timeout=10).stdout


def reconcile(test, batches):
    """Per batch: seen = exported + lost; returns (packets, bytes) seen in all."""
    seen_p = seen_b = 0
    for b in batches:
        c = b.counters
        lost_p = sum(l.packets for l in c.losses)
        lost_b = sum(l.bytes for l in c.losses)
        test.assertEqual(c.packets_seen, c.packets_exported + lost_p)
        test.assertEqual(c.bytes_seen, c.bytes_exported + lost_b)
        test.assertEqual(c.packets_exported, sum(f.packets for f in b.flows))
        seen_p += c.packets_seen
        seen_b += c.bytes_seen
    return seen_p, seen_b


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
def egress_udp_packets_by_port(flows):
    """{destination port: packets} of the egress UDP flows among `flows`."""
    by_port = collections.Counter()
    for f in flows:
        if f.key.direction == flow_pb2.DIRECTION_EGRESS and f.key.protocol == 17:
            by_port[f.key.dst_port] += f.packets
    return dict(by_port)


def kill(*daemons):
    """SIGKILL each daemon that was started (None for one that was not)."""
    for daemon in daemons:
        if daemon:
            daemon.kill()


def wire_delta(before, after):
    """(packets, bytes) the veth carried both ways between two veth_counters()."""
    return tuple((after["tx_" + what] - before["tx_" + what]) +
                 (after["rx_" + what] - before["rx_" + what])
                 for what in ("packets", "bytes"))


class CollectorEndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lab = lab.Lab().up()
        cls.receiver = Receiver()
        cls.server = grpc.server(concurrent.futures.ThreadPoolExecutor(4))
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(cls.receiver, cls.server)
        cls.port = cls.server.add_insecure_port("127.0.0.1:0")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(0)
        cls.lab.down()

    def queryd(self):
        return "127.0.0.1:%d" % self.port

    def query_stub(self, addr):
        channel = grpc.insecure_channel(addr)
        self.addCleanup(channel.close)
        return query_pb2_grpc.QueryServiceStub(channel)

    def stored_node(self, stub, node, metadata=None):
        """queryd's ListNodes entry for `node`."""
        nodes = {n.name: n for n in stub.ListNodes(query_pb2.ListNodesRequest(), timeout=10,
                                                   metadata=metadata).nodes}
        return nodes[node]

    def stored_flows(self, stub, node, since, metadata=None):
        """queryd's flows of `node` from `since` on, all on one page."""
        start, end = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
        start.FromNanoseconds(int(since * 1e9))
        end.FromNanoseconds(int((time.time() + 5) * 1e9))
        r = stub.ListFlows(query_pb2.ListFlowsRequest(
            range=query_pb2.TimeRange(start=start, end=end), filter=query_pb2.FlowFilter(node=[node]),
            page_size=1000), timeout=20, metadata=metadata)
        self.assertEqual(r.next_page_token, "")
        return r.flows

    def assert_spool_drains(self, metrics_port, timeout=30):
        """Waits (bounded) until the collector has no batch pending in its
        spool; returns its last /metrics text."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = scrape(metrics_port)
            if metric(text, "weir_collector_spool_pending_batches") == 0:
                break
            time.sleep(0.2)
        self.assertEqual(metric(text, "weir_collector_spool_pending_batches"), 0, text)
        return text

    def assert_counted_as_the_wire(self, stub, node, before, after, metadata=None):
        """queryd's counters of `node` are the veth's between two
        veth_counters(), and all it saw was exported; returns the node."""
        stored = self.stored_node(stub, node, metadata)
        c = stored.counters
        self.assertEqual((c.packets_seen, c.bytes_seen), wire_delta(before, after))
        self.assertEqual(c.packets_seen, c.packets_exported)
        return stored

    def test_a_failed_start_leaves_the_bpffs_as_it_found_it(self):
        pin = self.lab.bpffs + "/fresh-%d" % os.getpid()
        # An interface that is not there: refused before anything is loaded.
        rc, log = Collector(self.queryd(), pin, free_port(), node="e2e-fail",
                            interfaces="wa,weir-nosuch0").run_to_exit()
        self.assertEqual(rc, 1, log)
        self.assertIn("no interface named weir-nosuch0", log)
        self.assertIsNone(pins(pin))

        # A failure after the maps are pinned and the program attached: the
        # metrics port is taken. Once with no pin folder, once with an empty
        # one made beforehand (which stays, empty).
        for made_before in (False, True):
            if made_before:
                os.mkdir(pin)
            with socket.socket() as taken:
                taken.bind(("127.0.0.1", 0))
                taken.listen()
                rc, log = Collector(self.queryd(), pin, taken.getsockname()[1],
                                    node="e2e-fail").run_to_exit()
            self.assertEqual(rc, 1, log)
            self.assertIn("observing wa", log)  # it got as far as attaching
            self.assertIn("--metrics-address: cannot listen", log)
            self.assertEqual(pins(pin), [] if made_before else None, log)
        os.rmdir(pin)

    def test_a_failed_start_keeps_the_pins_it_adopted_and_their_counts(self):
        pin = self.lab.bpffs + "/adopt-%d" % os.getpid()
        node = "e2e-adopt"
        metrics_port = free_port()
        before = self.lab.veth_counters()
        first = Collector(self.queryd(), pin, metrics_port, ["--keep-attached"], node=node).start()
        send_udp(B4, 9000, 40, 100)
        time.sleep(0.5)
        self.assertEqual(first.stop(), 0, "".join(first.log))
        left = pins(pin)
        self.assertEqual(left, ["links/", "links/wa_egress", "links/wa_ingress", "weir_active_slot",
                                "weir_counters", "weir_flow_slots", "weir_flows_0",
                                "weir_flows_1"])

        # Counted into the pinned maps by the program left attached, with no
        # collector running; then three starts that fail, each after it
        # found the pins: the metrics port taken (after adopting the maps and
        # taking over the attached links), another map size, an interface
        # that is not there.
        send_udp(B4, 9002, 30, 64)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            rc, log = Collector(self.queryd(), pin, taken.getsockname()[1],
                                node=node).run_to_exit()
        self.assertEqual(rc, 1, log)
        self.assertIn("adopted the maps", log)
        self.assertIn("--metrics-address: cannot listen", log)
        self.assertEqual(pins(pin), left, log)
        send_udp(B4, 9002, 20, 64)  # still observed: the links stayed
        rc, log = Collector(self.queryd(), pin, free_port(), ["--map-size=2048"],
                            node=node).run_to_exit()
        self.assertEqual(rc, 1, log)
        self.assertIn("flows per interval, not the 2048", log)
        self.assertEqual(pins(pin), left, log)
        rc, log = Collector(self.queryd(), pin, free_port(), node=node,
                            interfaces="wa,weir-nosuch0").run_to_exit()
        self.assertEqual(rc, 1, log)
        self.assertIn("no interface named weir-nosuch0", log)
        self.assertEqual(pins(pin), left, log)
        send_udp(B4, 9002, 10, 64)

        # The next start adopts them and ships every packet, exactly once.
        last = Collector(self.queryd(), pin, metrics_port, node=node).start()
        self.assertTrue(any("adopted" in l for l in last.log), "".join(last.log))
        time.sleep(0.5)
        self.assertEqual(last.stop(), 0, "".join(last.log))
        after = self.lab.veth_counters()
        self.assertIsNone(pins(pin))

        batches = self.receiver.snapshot(node)
        flows = flows_by_key(batches)
        E = flow_pb2.DIRECTION_EGRESS
        def sent_to(port):  # over the flows of every sending socket
            return [sum(v[0] for k, v in flows.items() if k[0] == E and k[5] == port),
                    sum(v[1] for k, v in flows.items() if k[0] == E and k[5] == port)]

        self.assertEqual(sent_to(9000), [40, 40 * (14 + 20 + 8 + 100)])
        self.assertEqual(sent_to(9002), [60, 60 * (14 + 20 + 8 + 64)])
        self.assertEqual(tuple(reconcile(self, batches)), wire_delta(before, after))

    def test_unacked_batches_is_zero_when_every_batch_is_acknowledged(self):
        pin = self.lab.bpffs + "/unacked-%d" % os.getpid()
        node = "e2e-unacked"
        metrics_port = free_port()
        # One batch a second: between a batch's ack (milliseconds after it
        # is sent) and the next batch, every batch is acknowledged.
        collector = Collector(self.queryd(), pin, metrics_port, node=node,
                              flush_interval="1s").start()
        try:
            checked = 0
            deadline = time.monotonic() + 30
            while checked < 3 and time.monotonic() < deadline:
                count, latest = self.receiver.arrivals(node)
                since = time.monotonic() - latest
                if count == 0 or not 0.3 <= since <= 0.6:
                    time.sleep(0.05)
                    continue
                text = scrape(metrics_port)
                if self.receiver.arrivals(node) != (count, latest):
                    continue  # a batch went out meanwhile: not a quiet moment
                self.assertEqual(metric(text, "weir_collector_unacked_batches"), 0, text)
                self.assertEqual(metric(text, "weir_collector_batches_acked"), count, text)
                self.assertEqual(metric(text, "weir_collector_batches_total"), count, text)
                checked += 1
                time.sleep(0.5)  # the next quiet moment is after the next batch
            self.assertEqual(checked, 3)
        finally:
            self.assertEqual(collector.stop(), 0, "".join(collector.log))

    def test_exact_counts_reconciliation_and_restart(self):
        pin = self.lab.bpffs + "/weir"
        metrics_port = free_port()
        before = self.lab.veth_counters()
        collector = Collector("127.0.0.1:%d" % self.port, pin, metrics_port,
                              ["--keep-attached"]).start()

        send_udp(B4, 9000, 100, 200)
        send_udp(B6, 9000, 50, 100, socket.AF_INET6)
        lab.sh("ping", "-c", "5", "-i", "0.2", "-s", "56", B4)
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
        # The second one also reports the kernel's run-time statistics.
        second = Collector("127.0.0.1:%d" % self.port, pin, metrics_port, ["--bpf-stats"]).start()
        self.assertTrue(any("adopted" in l for l in second.log), "".join(second.log))
        sender.join(30)
        # The second program surely runs (the sender may be done before it
        # is attached on a busy machine): ICMPv6, which no check below
        # singles out, and which the totals include.
        lab.sh("ping", "-6", "-c", "3", "-i", "0.2", B6)
        time.sleep(0.5)
        metrics = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/metrics" % metrics_port],
                                 capture_output=True, text=True).stdout
        self.assertEqual(second.stop(), 0, "".join(second.log))
        after = self.lab.veth_counters()

        batches = self.receiver.snapshot("e2e")
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
        self.assertEqual(tuple(reconcile(self, batches)), wire_delta(before, after))
        self.assertRegex(metrics, r"(?m)^weir_collector_unexplained_packets 0$")
        runs = re.search(r'(?m)^weir_bpf_run_count_total\{program="egress"\} (\S+)$', metrics)
        run_time = re.search(r'(?m)^weir_bpf_run_time_seconds_total\{program="egress"\} (\S+)$', metrics)
        self.assertTrue(runs and run_time, metrics)
        self.assertGreater(float(runs.group(1)), 0)
        self.assertGreater(float(run_time.group(1)), 0)
        # A clean stop (no --keep-attached) leaves nothing pinned.
        self.assertEqual(os.listdir(pin) if os.path.isdir(pin) else [], [])

    def test_spool_carries_batches_across_a_killed_collector_and_a_queryd_outage(self):
        """The real weir-queryd down, traffic, the collector killed (SIGKILL),
        restarted, then queryd up: every packet is stored exactly once."""
        node = "spool-%d" % os.getpid()
        pin = self.lab.bpffs + "/spool-%d" % os.getpid()
        spool = wt.tmpdir("spool-")
        port = free_port()  # queryd's; nothing listens there until it starts
        addr = "127.0.0.1:%d" % port
        spool_flags = ["--spool-dir=" + spool]
        metrics_port = free_port()
        since = time.time() - 5
        before = self.lab.veth_counters()
        first = Collector(addr, pin, metrics_port, spool_flags, node=node).start()
        second = None
        queryd = wt.Queryd(extra_args=["--grpc-address=" + addr])
        try:
            send_udp(B4, 9100, 3000, 100, socket.AF_INET, 0.0005)
            time.sleep(1.0)  # several 200 ms batches, each spooled
            first.kill()  # SIGKILL: no flush, no detach; the pins keep counting
            send_udp(B4, 9101, 1000, 100)  # counted by the pinned program alone
            second = Collector(addr, pin, metrics_port, spool_flags, node=node).start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                    "batches to resend" in l for l in second.log):
                time.sleep(0.1)
            resend = [l for l in second.log if "batches to resend" in l]
            self.assertTrue(resend, "".join(second.log))
            self.assertNotIn(" 0 batches to resend", resend[0])
            send_udp(B4, 9102, 500, 100)
            time.sleep(0.6)
            text = scrape(metrics_port)
            self.assertGreater(metric(text, "weir_collector_spool_replayed_batches"), 0, text)
            self.assertGreater(metric(text, "weir_collector_spool_pending_batches"), 0, text)
            self.assertEqual(metric(text, "weir_collector_spool_torn_records"), 0, text)
            self.assertEqual(metric(text, "weir_collector_spool_corrupted_records"), 0, text)

            queryd.start()  # queryd is back
            text = self.assert_spool_drains(metrics_port)
            self.assertRegex(text, r"(?m)^weir_collector_unexplained_packets 0$")
            self.assertEqual(second.stop(), 0, "".join(second.log))
            after = self.lab.veth_counters()

            stub = self.query_stub(addr)
            c = self.assert_counted_as_the_wire(stub, node, before, after).counters
            self.assertEqual([l for l in c.losses if l.packets], [])

            flows = self.stored_flows(stub, node, since)
            self.assertEqual(egress_udp_packets_by_port(flows), {9100: 3000, 9101: 1000, 9102: 500})
            self.assertEqual(sum(f.packets for f in flows), c.packets_exported)
        finally:
            kill(first, second, queryd)

    def assert_logs(self, collector, text, timeout=10):
        """Waits (bounded) until a line of `collector`'s log contains `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not any(text in l for l in collector.log):
            time.sleep(0.1)
        self.assertTrue(any(text in l for l in collector.log), "".join(collector.log))

    def test_a_clock_stepped_back_between_runs_does_not_make_batches_stale(self):
        """A run whose epoch is ahead of the clock (as when the clock is then
        stepped back), then a new run: queryd stores both runs' packets, none
        dropped as a stale epoch, because the epoch kept beside the spool
        never goes backwards."""
        node = "epoch-%d" % os.getpid()
        pin = self.lab.bpffs + "/epoch-%d" % os.getpid()
        spool = wt.tmpdir("spool-")
        addr = "127.0.0.1:%d" % free_port()
        spool_flags = ["--spool-dir=" + spool]
        ahead = time.time_ns() + 3600 * 10**9
        with open(os.path.join(spool, "EPOCH"), "w") as f:
            f.write("%d\n" % ahead)
        queryd = wt.Queryd(extra_args=["--grpc-address=" + addr]).start()
        first = second = None
        try:
            before = self.lab.veth_counters()
            first = Collector(addr, pin, free_port(), spool_flags, node=node).start()
            self.assert_logs(first, "clock is behind")
            send_udp(B4, 9110, 200, 100)
            time.sleep(0.5)
            self.assertEqual(first.stop(), 0, "".join(first.log))
            second = Collector(addr, pin, free_port(), spool_flags, node=node).start()
            self.assert_logs(second, "clock is behind")
            send_udp(B4, 9111, 300, 100)
            time.sleep(0.5)
            self.assertEqual(second.stop(), 0, "".join(second.log))
            after = self.lab.veth_counters()
            with open(os.path.join(spool, "EPOCH")) as f:
                self.assertEqual(int(f.read()), ahead + 2)

            stored = self.stored_node(self.query_stub(addr), node)
            self.assertEqual(stored.stale_batches, 0)
            self.assertEqual(stored.epoch, ahead + 2)
            c = stored.counters
            self.assertEqual(c.packets_seen, wire_delta(before, after)[0])
            self.assertEqual(c.packets_seen, c.packets_exported)
        finally:
            kill(first, second, queryd)

    def test_kill_rounds_of_either_side_lose_nothing(self):
        """kill -9 rounds while UDP flows: the collector (its pinned program
        keeps counting, its spool keeps the batches), queryd (restarted on
        its data), or both; then a clean stop. queryd's counts equal the
        veth's exactly. WEIR_FAULT_ROUNDS sets the rounds (default 12)."""
        rounds = int(os.environ.get("WEIR_FAULT_ROUNDS", "12"))
        node = "kill-%d" % os.getpid()
        pin = self.lab.bpffs + "/kill-%d" % os.getpid()
        spool = wt.tmpdir("spool-")
        addr = "127.0.0.1:%d" % free_port()
        flags = ["--spool-dir=" + spool, "--flush-interval=100ms"]
        queryd = wt.Queryd(extra_args=["--grpc-address=" + addr]).start()
        collector = None
        stop_sending = threading.Event()
        sent = collections.Counter()

        def sender():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for i in range(200000):  # bounded: ~0.5 ms a datagram
                    if stop_sending.is_set():
                        return
                    port = 9200 + i % 8
                    s.sendto(b"k" * 80, (B4, port))
                    sent[port] += 1
                    time.sleep(0.0005)

        rng = random.Random(rounds)
        metrics_port = free_port()
        before = self.lab.veth_counters()
        thread = threading.Thread(target=sender)
        try:
            collector = Collector(addr, pin, metrics_port, flags, node=node).start()
            thread.start()
            for r in range(rounds):
                time.sleep(rng.uniform(0.1, 0.6))
                victim = ("collector", "queryd", "both")[r % 3]
                if victim in ("collector", "both"):
                    collector.kill()
                if victim in ("queryd", "both"):
                    queryd.kill()
                    time.sleep(rng.uniform(0.0, 0.3))  # traffic meanwhile
                    queryd = wt.Queryd(data_dir=queryd.data_dir,
                                       extra_args=["--grpc-address=" + addr]).start()
                if victim in ("collector", "both"):
                    collector = Collector(addr, pin, metrics_port, flags, node=node).start()
            stop_sending.set()
            thread.join(30)
            time.sleep(0.3)
            self.assertEqual(collector.stop(), 0, "".join(collector.log))
            after = self.lab.veth_counters()

            stored = self.assert_counted_as_the_wire(self.query_stub(addr), node, before, after)
            c = stored.counters
            self.assertEqual([(l.reason, l.packets) for l in c.losses if l.packets], [])
            self.assertEqual(stored.stale_batches, 0)
            self.assertGreater(sum(sent.values()), 0)
        finally:
            stop_sending.set()
            if thread.is_alive():
                thread.join(30)
            kill(collector, queryd)

    def test_a_collector_that_dies_between_drain_and_spool_or_spool_and_clear_loses_nothing(self):
        """weir-collector-faults aborts at a named step of a drain (its third):
        after reading the kernel slot and before spooling it, or after
        spooling and before clearing the slot. The next collector ships the
        unspooled slot, or clears the spooled one, and queryd's counts equal
        the veth's exactly."""
        for point, says in (("collector.after_read_before_spool", "left unspooled"),
                            ("collector.after_spool_before_clear", "was spooled")):
            with self.subTest(point=point):
                node = "fault-%s-%d" % (point.split(".")[1], os.getpid())
                pin = self.lab.bpffs + "/" + node
                spool = wt.tmpdir("spool-")
                addr = "127.0.0.1:%d" % free_port()
                flags = ["--spool-dir=" + spool]
                queryd = wt.Queryd(extra_args=["--grpc-address=" + addr]).start()
                faulty = second = None
                try:
                    before = self.lab.veth_counters()
                    env = dict(os.environ, WEIR_FAULT=point + "@3")
                    faulty = Collector(addr, pin, free_port(), flags, node=node,
                                       binary="collector/weir-collector-faults", env=env).start()
                    send_udp(B4, 9300, 400, 100, socket.AF_INET, 0.002)
                    self.assertEqual(faulty.proc.wait(30), -signal.SIGABRT, "".join(faulty.log))
                    send_udp(B4, 9301, 100, 100)  # the pinned program alone counts these
                    second = Collector(addr, pin, free_port(), flags, node=node).start()
                    self.assert_logs(second, says)
                    send_udp(B4, 9302, 100, 100)
                    time.sleep(0.5)
                    self.assertEqual(second.stop(), 0, "".join(second.log))
                    after = self.lab.veth_counters()

                    self.assert_counted_as_the_wire(self.query_stub(addr), node, before, after)
                finally:
                    kill(faulty, second, queryd)

    def test_ingest_token_refused_keeps_batches_and_once_fixed_every_packet_arrives_once(self):
        """queryd with --token-file; the collector first sends a wrong token
        (refused: it keeps every batch in its spool), then the file is fixed
        under it: every packet is stored exactly once, as the veth counted."""
        node = "token-%d" % os.getpid()
        pin = self.lab.bpffs + "/token-%d" % os.getpid()
        workdir = wt.tmpdir("tokens-")
        good, wrong, admin = (secrets.token_urlsafe(24) for _ in range(3))
        sha = lambda t: "sha256:" + hashlib.sha256(t.encode()).hexdigest()
        queryd_tokens = os.path.join(workdir, "queryd-tokens")
        with open(queryd_tokens, "w") as f:
            f.write("%s ingest %s\nops admin %s\n" % (node, sha(good), sha(admin)))
        collector_token = os.path.join(workdir, "collector-token")
        with open(collector_token, "w") as f:
            f.write(wrong + "\n")
        queryd = wt.Queryd(extra_args=["--token-file=" + queryd_tokens]).start()
        self.addCleanup(queryd.kill)
        metrics_port = free_port()
        since = time.time() - 5
        before = self.lab.veth_counters()
        collector = Collector(queryd.address, pin, metrics_port,
                              ["--token-file=" + collector_token], node=node).start()
        self.addCleanup(collector.kill)
        send_udp(B4, 9200, 400, 100, socket.AF_INET, 0.001)
        deadline = time.monotonic() + 15
        text = ""
        while time.monotonic() < deadline:
            text = scrape(metrics_port)
            if (metric(text, "weir_collector_streams_refused") or 0) >= 2:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(metric(text, "weir_collector_streams_refused"), 2, text)
        self.assertGreater(metric(text, "weir_collector_spool_pending_batches"), 0, text)
        self.assertEqual(metric(text, "weir_collector_batches_rejected"), 0, text)
        self.assertEqual(metric(text, "weir_collector_batches_dropped"), 0, text)
        refused = [l for l in collector.log if "refused the ingest stream" in l]
        self.assertEqual(len(refused), 1, "".join(collector.log))  # at most once a minute
        self.assertIn("UNAUTHENTICATED", refused[0])

        with open(collector_token + ".next", "w") as f:
            f.write(good + "\n")
        os.rename(collector_token + ".next", collector_token)
        send_udp(B4, 9201, 200, 100)
        text = self.assert_spool_drains(metrics_port)
        self.assertEqual(collector.stop(), 0, "".join(collector.log))
        after = self.lab.veth_counters()
        self.assertTrue(any("accepts the ingest token again" in l for l in collector.log),
                        "".join(collector.log))

        stub = self.query_stub(queryd.address)
        md = (("authorization", "Bearer " + admin),)
        c = self.assert_counted_as_the_wire(stub, node, before, after, metadata=md).counters
        self.assertEqual([l for l in c.losses if l.packets], [])
        flows = self.stored_flows(stub, node, since, metadata=md)
        self.assertEqual(egress_udp_packets_by_port(flows), {9200: 400, 9201: 200})
        for t in (good, wrong, admin):
            self.assertNotIn(t, "".join(collector.log) + "".join(queryd.log))
        self.assertEqual(queryd.stop(), 0)

    def test_an_unreadable_token_file_is_one_line_and_exit_2(self):
        missing = os.path.join(wt.tmpdir("tokens-"), "none")
        args = Collector("127.0.0.1:1", self.lab.bpffs + "/tokenflag", free_port(),
                         ["--token-file=" + missing]).args
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("--token-file: cannot read " + missing, lines[0])

    def test_bad_spool_flags_name_the_flag_and_exit_2(self):
        for flag, value in (("--spool-fsync", "sometimes"), ("--spool-dir", "relative/spool"),
                            ("--spool-max-bytes", "1000"), ("--spool-max-bytes", "-5"),
                            ("--spool-max-age", "0s"), ("--spool-max-age", "soon")):
            args = Collector("127.0.0.1:1", self.lab.bpffs + "/flags", free_port(),
                             ["%s=%s" % (flag, value)]).args
            p = subprocess.run(args, capture_output=True, text=True, timeout=30)
            lines = p.stderr.strip().splitlines()
            self.assertEqual(p.returncode, 2, (flag, value, p.stderr))
            self.assertTrue(lines and any(flag.lstrip("-") in l for l in lines[:1]),
                            (flag, value, p.stderr))

    def test_a_metrics_port_in_use_stops_the_start(self):
        # Another listener that would share its port (SO_REUSEPORT): the
        # collector's own listener must not, so it cannot start there.
        with socket.socket() as holder:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            collector = Collector("127.0.0.1:%d" % self.port, self.lab.bpffs + "/weir-port",
                                  port)
            p = subprocess.run(collector.args, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        last = p.stderr.strip().splitlines()[-1]
        self.assertIn("--metrics-address: cannot listen on 127.0.0.1:%d" % port, last)


def main():
    lab.reexec_in_private_namespaces()
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
