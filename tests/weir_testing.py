"""Helpers shared by Weir's Python end-to-end tests.

Starts the real binaries and waits for them; builds ingest batches. Every
process a test starts is ended by the test itself, by PID.
"""
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import grpc
from weir.v1 import flow_pb2, ingest_pb2, ingest_pb2_grpc


def runfile(path):
    """A file of this test's runfiles, e.g. "queryd/weir-queryd"."""
    for root in (os.environ.get("TEST_SRCDIR", ""), os.getcwd()):
        for candidate in (os.path.join(root, "weir", path), os.path.join(root, path)):
            if os.path.exists(candidate):
                return candidate
    raise FileNotFoundError(path)


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TEST_TMPDIR"))


class Queryd:
    """weir-queryd on a free loopback port, with its own data directory."""

    def __init__(self, data_dir=None, extra_args=(), preexec_fn=None):
        self.data_dir = data_dir or tmpdir("queryd-")
        self.extra_args = list(extra_args)
        self.preexec_fn = preexec_fn  # run in the child before exec
        self.proc = None
        self.port = None
        self.http_port = None
        self.log = []

    def start(self, timeout=30):
        args = [runfile("queryd/weir-queryd"), "--data-dir=" + self.data_dir,
                "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0"]
        if os.geteuid() == 0:
            args.append("--allow-root")
        self.proc = subprocess.Popen(args + self.extra_args, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=self.preexec_fn)
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r"gRPC \(.*?\) on \S+:(\d+);", line)
                if m:
                    self.port = int(m.group(1))
                    h = re.search(r"HTTP \(.*?\) on \S+:(\d+)", line)
                    if h:
                        self.http_port = int(h.group(1))
                    ready.set()
            # EOF: queryd exited. The pipe is done with.
            self.proc.stderr.close()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout):
            self.kill()
            raise RuntimeError("weir-queryd did not start:\n" + "".join(self.log))
        return self

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    @property
    def http_url(self):
        """Base URL of the HTTP front (REST, streams, /metrics)."""
        return "http://127.0.0.1:%d" % self.http_port

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill(self):
        """SIGKILL: no chance to flush anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, timeout=20):
    """SIGTERM (then SIGKILL) one process we started, by PID; closes its pipes."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe:
            pipe.close()


class QuerydTestCase(unittest.TestCase):
    """A weir-queryd of its own per test class, started with QUERYD_ARGS."""
    QUERYD_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.queryd = Queryd(extra_args=list(cls.QUERYD_ARGS)).start()
        assert cls.queryd.http_port, "".join(cls.queryd.log)

    @classmethod
    def tearDownClass(cls):
        # A clean exit: under --config=asan a sanitizer report fails it.
        code = cls.queryd.stop()
        assert code == 0, "weir-queryd exited %s:\n%s" % (code, "".join(cls.queryd.log))


def v4(text):
    return bytes(int(x) for x in text.split("."))


def flow(ifindex=1, direction=flow_pb2.DIRECTION_EGRESS, protocol=17, src="192.0.2.1",
         dst="198.51.100.1", sport=40000, dport=53, packets=1, nbytes=100, when=None, **extra):
    now = int((when if when is not None else time.time()) * 1e9)
    import ipaddress
    return ingest_pb2.IngestFlow(
        ifindex=ifindex, direction=direction, protocol=protocol,
        src_addr=ipaddress.ip_address(src).packed, dst_addr=ipaddress.ip_address(dst).packed,
        src_port=sport, dst_port=dport, packets=packets, bytes=nbytes,
        first_seen_unix_nano=now - 1000, last_seen_unix_nano=now, **extra)


def batch(node, seq, flows, epoch=1, losses=(), interfaces=((1, "eth0"),), when=None):
    now = int((when if when is not None else time.time()) * 1e9)
    b = ingest_pb2.FlowBatch(node=node, epoch=epoch, seq=seq,
                             interval_start_unix_nano=now - 10**9, interval_end_unix_nano=now,
                             collector_version="test")
    for index, name in interfaces:
        b.interfaces.add(ifindex=index, name=name)
    b.flows.extend(flows)
    exported_p = sum(f.packets for f in flows)
    exported_b = sum(f.bytes for f in flows)
    lost_p = sum(p for _, p, _ in losses)
    lost_b = sum(x for _, _, x in losses)
    b.counters.packets_seen = exported_p + lost_p
    b.counters.bytes_seen = exported_b + lost_b
    b.counters.packets_exported = exported_p
    b.counters.bytes_exported = exported_b
    for reason, p, x in losses:
        b.counters.losses.add(reason=reason, packets=p, bytes=x)
    return b


TCP, UDP, ICMP = 6, 17, 1


def ingest(address, batches, timeout=20):
    """Sends batches on one IngestService stream; returns the acks (or raises RpcError)."""
    with grpc.insecure_channel(address) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        return list(stub.Ingest(iter(batches), timeout=timeout))


def dataset(now):
    """Two nodes, three batches each, by node: known flows of TCP, UDP and ICMP
    over IPv4 and IPv6, 3 packets lost on node-a."""
    a = [
        batch("node-a", 1, [
            flow(protocol=TCP, src="192.0.2.1", dst="198.51.100.7", sport=40001, dport=443,
                 packets=10, nbytes=15000, when=now - 30, tcp_flags=0x12),
            flow(protocol=UDP, src="192.0.2.1", dst="198.51.100.53", sport=40002, dport=53,
                 packets=2, nbytes=180, when=now - 30),
        ], when=now - 30),
        batch("node-a", 2, [
            flow(protocol=TCP, src="192.0.2.1", dst="198.51.100.7", sport=40001, dport=443,
                 packets=5, nbytes=7000, when=now - 20, tcp_flags=0x10),
        ], when=now - 20, losses=[(flow_pb2.LOSS_REASON_NON_IP, 3, 180)]),
        batch("node-a", 3, [
            flow(protocol=ICMP, src="192.0.2.1", dst="192.0.2.2", sport=0, dport=0,
                 packets=4, nbytes=392, when=now - 10, icmp_type=8),
        ], when=now - 10),
    ]
    b = [
        batch("node-b", 1, [
            flow(direction=flow_pb2.DIRECTION_INGRESS, protocol=TCP, src="2001:db8::1",
                 dst="2001:db8::2", sport=50000, dport=22, packets=7, nbytes=900,
                 when=now - 25, ifindex=2)
        ], when=now - 25, interfaces=((2, "veth0"),)),
        batch("node-b", 2, [
            flow(direction=flow_pb2.DIRECTION_INGRESS, protocol=TCP, src="2001:db8::1",
                 dst="2001:db8::2", sport=50000, dport=22, packets=1, nbytes=60,
                 when=now - 15, ifindex=2)
        ], when=now - 15, interfaces=((2, "veth0"),)),
        batch("node-b", 3, [
            flow(direction=flow_pb2.DIRECTION_EGRESS, protocol=UDP, src="2001:db8::2",
                 dst="2001:db8::1", sport=53, dport=50001, packets=1, nbytes=120,
                 when=now - 5, ifindex=2)
        ], when=now - 5, interfaces=((2, "veth0"),)),
    ]
    return {"node-a": a, "node-b": b}
