"""weir-queryd under resource faults, with real parts: a full disk (a tmpfs the
test mounts and fills) and descriptors run out (a low RLIMIT_NOFILE and many
idle connections). queryd must never abort, refuse what it cannot store
without acking it, say so in gRPC health, /v1/health and /metrics, resume by
itself once the cause is gone, and end with exact totals.

Needs root (mount, raising the test's own descriptor limit): runs outside
Bazel's sandbox.
"""
import json
import os
import queue
import re
import resource
import socket
import subprocess
import time
import unittest

import grpc
from grpc_contracts import health_pb2, health_pb2_grpc
from weir.v1 import ingest_pb2, query_pb2, query_pb2_grpc

import weir_testing as wt

QUERY, INGEST = "weir.v1.QueryService", "weir.v1.IngestService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
FLOWS_PER_BATCH = 2000  # ~100 kB of WAL each


def curl_json(url):
    out = subprocess.run(["curl", "-sS", "--max-time", "10", url], capture_output=True,
                         text=True, timeout=20, check=True).stdout
    return json.loads(out)


def metric(text, name, labels=""):
    """The value of one series of a scrape, or None."""
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


UNCAPPED = ["--http-max-connections=0", "--http-max-connections-per-peer=0"]


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


class Sender:
    """One collector's batches, each sent on a stream of its own; a refused
    batch is kept and sent again, as the collector does with its spool."""

    def __init__(self, node):
        self.node = node
        self.seq = 0
        self.pending = []  # refused, to send again
        self.acked = {}  # seq -> packets
        self.when = time.time()

    def next_batch(self):
        self.seq += 1
        # seq packets per flow: totals tell which batches are stored.
        flows = [wt.flow(sport=1024 + i, dport=443, packets=self.seq, nbytes=100,
                         when=self.when) for i in range(FLOWS_PER_BATCH)]
        return wt.batch(self.node, self.seq, flows, when=self.when)

    def send(self, address, batch):
        """Acks the batch (True) or keeps it pending and returns the error."""
        try:
            acks = wt.ingest(address, [batch], timeout=20)
        except grpc.RpcError as e:
            self.pending.append(batch)
            return e
        assert len(acks) == 1 and acks[0].seq == batch.seq, acks
        assert batch.seq not in self.acked, "batch %d acked twice" % batch.seq
        self.acked[batch.seq] = batch.seq * FLOWS_PER_BATCH
        return True

    def send_new(self, address):
        return self.send(address, self.next_batch())

    def resend_pending(self, address):
        pending, self.pending = self.pending, []
        for batch in pending:
            result = self.send(address, batch)
            if result is not True:
                return result
        return True

    def packets(self):
        return sum(self.acked.values())


class RawIngestStream:
    """One Ingest stream kept open, a batch at a time, sent serialized."""

    def __init__(self, channel):
        self.requests = queue.Queue()

        def requests():
            while True:
                item = self.requests.get()
                if item is None:
                    return
                yield item
        method = channel.stream_stream("/weir.v1.IngestService/Ingest",
                                       request_serializer=None,
                                       response_deserializer=ingest_pb2.Ack.FromString)
        self.responses = method(requests(), timeout=300)

    def send(self, body, seq):
        """Sends `body` (a serialized batch without seq) as batch `seq`;
        returns its ack, or raises the stream's RpcError. Serialized
        messages concatenated parse as one merged message: the 5,000 flows
        are serialized once, not once per batch."""
        self.requests.put(body + ingest_pb2.FlowBatch(seq=seq).SerializeToString())
        return next(self.responses)

    def close(self):
        self.requests.put(None)
        self.responses.cancel()


def stats(address):
    with grpc.insecure_channel(address) as channel:
        return query_pb2_grpc.QueryServiceStub(channel).GetStats(
            query_pb2.GetStatsRequest(), timeout=10)


def health(address, service):
    with grpc.insecure_channel(address) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=10).status


def fill(path, leave=0):
    """Fills the file system of `path` with a file, up to `leave` bytes free."""
    st = os.statvfs(os.path.dirname(path))
    room = st.f_bavail * st.f_frsize - leave
    with open(path, "wb") as f:
        try:
            while room > 0:
                n = min(room, 1 << 20)
                f.write(b"\0" * n)
                f.flush()
                room -= n
        except OSError:
            pass


class QuerydDiskFullTest(unittest.TestCase):
    def setUp(self):
        self.mnt = wt.tmpdir("tmpfs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", self.mnt],
                       check=True, timeout=30)
        self.addCleanup(self.unmount)

    def unmount(self):
        if subprocess.run(["umount", self.mnt], timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", self.mnt], timeout=30)

    def start(self):
        queryd = wt.Queryd(data_dir=os.path.join(self.mnt, "data")).start()
        self.addCleanup(queryd.kill)
        return queryd

    def test_a_full_disk_refuses_without_acks_and_resumes_by_itself(self):
        queryd = self.start()
        sender = Sender("node-disk")
        for _ in range(5):
            self.assertIs(sender.send_new(queryd.address), True)
        filler = os.path.join(self.mnt, "filler")
        fill(filler)

        # Each refusal is clean and nothing refused is acked.
        failure = None
        for _ in range(50):
            result = sender.send_new(queryd.address)
            if result is not True:
                failure = result
                break
        self.assertIsNotNone(failure, "the full disk never refused a batch")
        self.assertEqual(failure.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, failure.details())
        self.assertIn("No space left on device", failure.details())
        for _ in range(3):
            result = sender.resend_pending(queryd.address)
            self.assertIsNot(result, True)
            self.assertEqual(result.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
            time.sleep(0.5)

        # Health tells the truth; queries still answer.
        wait_until(lambda: health(queryd.address, INGEST) == NOT_SERVING, 10, "NOT_SERVING")
        self.assertEqual(health(queryd.address, ""), NOT_SERVING)
        self.assertEqual(health(queryd.address, QUERY), SERVING)
        h = curl_json(queryd.http_url + "/v1/health")
        self.assertEqual((h["status"], h["storeWritable"], h["storeState"]),
                         ("degraded", False, "disk_full"), h)
        self.assertIn("No space left on device", h["storeError"])
        scrape = subprocess.run(["curl", "-sS", "--max-time", "10", queryd.http_url + "/metrics"],
                                capture_output=True, text=True, timeout=20, check=True).stdout
        self.assertEqual(metric(scrape, "weir_queryd_store_writable"), 0)
        self.assertEqual(metric(scrape, "weir_queryd_store_state", '{state="disk_full"}'), 1)
        self.assertEqual(metric(scrape, "weir_queryd_store_state", '{state="ok"}'), 0)
        self.assertGreaterEqual(
            metric(scrape, "weir_queryd_store_write_errors_total", '{cause="disk_full"}'), 4)
        self.assertEqual(stats(queryd.address).total_packets, sender.packets())
        # Well past the second at which it used to abort.
        time.sleep(2)
        self.assertIsNone(queryd.proc.poll(), "".join(queryd.log))

        # Space back: ingest resumes by itself, and what was refused is
        # stored once.
        os.unlink(filler)
        wait_until(lambda: health(queryd.address, INGEST) == SERVING, 15, "SERVING again")
        self.assertIs(sender.resend_pending(queryd.address), True)
        for _ in range(5):
            self.assertIs(sender.send_new(queryd.address), True)
        self.assertEqual(len(sender.acked), sender.seq)
        s = stats(queryd.address)
        self.assertEqual((s.total_packets, s.total_flows),
                         (sender.packets(), FLOWS_PER_BATCH * sender.seq))
        self.assertEqual(curl_json(queryd.http_url + "/v1/health")["status"], "ok")
        log = "".join(queryd.log)
        self.assertEqual(log.count("the store cannot write (disk_full)"), 1, log)
        self.assertEqual(log.count("the store writes again"), 1, log)
        self.assertEqual(queryd.stop(), 0, log)

        # A restart on a nearly full disk works, reads answer, and writes
        # wait for space.
        fill(filler, leave=1 << 20)
        queryd = self.start()
        self.assertEqual(stats(queryd.address).total_packets, sender.packets())
        for _ in range(30):
            if sender.send_new(queryd.address) is not True:
                break
        self.assertEqual(len(sender.pending), 1, "the nearly full disk never refused")
        wait_until(lambda: health(queryd.address, INGEST) == NOT_SERVING, 10, "NOT_SERVING")
        os.unlink(filler)
        wait_until(lambda: health(queryd.address, INGEST) == SERVING, 15, "SERVING again")
        self.assertIs(sender.resend_pending(queryd.address), True)
        self.assertEqual(len(sender.acked), sender.seq)
        self.assertEqual(stats(queryd.address).total_packets, sender.packets())
        self.assertEqual(queryd.stop(), 0, "".join(queryd.log))

        # With no byte free the store cannot be opened (RocksDB writes a new
        # MANIFEST at every open): one line and exit 1, no crash.
        fill(filler)
        args = [wt.runfile("queryd/weir-queryd"), "--data-dir=" + queryd.data_dir,
                "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0"]
        if os.geteuid() == 0:
            args.append("--allow-root")
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        lines = p.stderr.strip().splitlines()
        self.assertEqual((p.returncode, len(lines)), (1, 1), p.stderr)
        self.assertIn("opening data directory", lines[0])
        self.assertIn("No space left on device", lines[0])
        os.unlink(filler)

        # And what was acked survived every process.
        queryd = self.start()
        s = stats(queryd.address)
        self.assertEqual((s.total_packets, s.total_flows),
                         (sender.packets(), FLOWS_PER_BATCH * sender.seq))
        self.assertEqual(queryd.stop(), 0)


def low_nofile(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return apply


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class QuerydDescriptorsTest(unittest.TestCase):
    LIMIT = 1024

    def setUp(self):
        # This process holds the idle connections: room for them.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 8192), max(hard, 8192)))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))

    def connect_many(self, port, count):
        sockets = []
        self.addCleanup(lambda: [s.close() for s in sockets])
        for _ in range(count):
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        return sockets

    def test_idle_connections_leave_descriptors_for_the_store(self):
        # The connection caps (--http-max-connections*) off: this is about
        # the descriptor reserve alone.
        queryd = wt.Queryd(preexec_fn=low_nofile(self.LIMIT), extra_args=UNCAPPED).start()
        self.addCleanup(queryd.kill)
        sender = Sender("node-fds")
        for _ in range(3):
            self.assertIs(sender.send_new(queryd.address), True)

        # 1,100 idle HTTP connections: queryd takes in only as many as leave
        # a quarter of its descriptors and 64 more; the rest wait queued.
        idle = self.connect_many(queryd.http_port, 1100)
        wait_until(lambda: open_fds(queryd.proc.pid) >= self.LIMIT - 256 - 64 - 1, 10,
                   "queryd to take in the connections it will")
        time.sleep(0.5)
        self.assertLess(open_fds(queryd.proc.pid), self.LIMIT - 256 - 64 + 1)
        for _ in range(10):
            result = sender.send_new(queryd.address)
            self.assertIs(result, True, result)
        self.assertEqual(health(queryd.address, INGEST), SERVING)
        self.assertEqual(health(queryd.address, ""), SERVING)
        self.assertEqual(stats(queryd.address).total_packets, sender.packets())

        # Gone: HTTP answers again, and ingest never stopped.
        for s in idle:
            s.close()
        idle.clear()
        h = wait_until(lambda: self.try_health(queryd), 20, "/v1/health to answer")
        self.assertEqual((h["status"], h["storeWritable"], h["storeState"]),
                         ("ok", True, "ok"), h)
        for _ in range(3):
            self.assertIs(sender.send_new(queryd.address), True)
        s = stats(queryd.address)
        self.assertEqual((s.total_packets, s.total_flows),
                         (sender.packets(), FLOWS_PER_BATCH * sender.seq))

        # Every descriptor taken (gRPC connections are not bounded): SIGTERM
        # still ends queryd cleanly, and nothing acked is lost.
        self.connect_many(queryd.port, 1100)
        wait_until(lambda: open_fds(queryd.proc.pid) >= self.LIMIT - 1, 10,
                   "queryd to run out of descriptors")
        self.assertEqual(queryd.stop(), 0, "".join(queryd.log))
        queryd = wt.Queryd(queryd.data_dir).start()
        self.addCleanup(queryd.kill)
        s = stats(queryd.address)
        self.assertEqual((s.total_packets, s.total_flows),
                         (sender.packets(), FLOWS_PER_BATCH * sender.seq))
        self.assertEqual(queryd.stop(), 0)

    def test_a_wal_that_cannot_be_created_stops_ingest_and_sigterm_is_clean(self):
        # The connection caps (--http-max-connections*) off: this is about
        # the descriptor reserve alone.
        queryd = wt.Queryd(preexec_fn=low_nofile(self.LIMIT), extra_args=UNCAPPED).start()
        self.addCleanup(queryd.kill)
        # One channel for everything: no new connection can be made later.
        channel = grpc.insecure_channel(queryd.address)
        self.addCleanup(channel.close)
        stream = RawIngestStream(channel)
        self.addCleanup(stream.close)
        flows = 5000
        when = time.time()
        batch = wt.batch("node-wal", 0, [
            wt.flow(sport=1024 + i % 60000, dport=443 + i // 60000, when=when)
            for i in range(flows)], when=when)
        body = batch.SerializeToString()
        acked = 0

        # RocksDB starts a new WAL file when the raw family's memtable
        # reaches 64 MiB: fill it to near that, then take every descriptor
        # (gRPC connections have no bound) and write on.
        def memtables():
            scrape = subprocess.run(
                ["curl", "-sS", "--max-time", "10", queryd.http_url + "/metrics"],
                capture_output=True, text=True, timeout=20, check=True).stdout
            return metric(scrape, "weir_store_memory_bytes", '{part="memtables"}')
        while batch.seq < 400 and (batch.seq % 10 or memtables() < 60 << 20):
            batch.seq += 1
            self.assertEqual(stream.send(body, batch.seq).seq, batch.seq)
            acked += flows
        self.connect_many(queryd.port, 1100)
        wait_until(lambda: open_fds(queryd.proc.pid) >= self.LIMIT - 1, 10,
                   "queryd to run out of descriptors")
        failure = None
        while failure is None and batch.seq < 600:
            batch.seq += 1
            try:
                self.assertEqual(stream.send(body, batch.seq).seq, batch.seq)
                acked += flows
            except grpc.RpcError as e:
                failure = e
        self.assertIsNotNone(failure, "no write needed a new file")
        self.assertEqual(failure.code(), grpc.StatusCode.UNAVAILABLE, failure.details())
        self.assertIn("Too many open files", failure.details())
        health_stub = health_pb2_grpc.HealthStub(channel)
        wait_until(lambda: health_stub.Check(health_pb2.HealthCheckRequest(service=INGEST),
                                             timeout=10).status == NOT_SERVING, 10, "NOT_SERVING")
        stats_stub = query_pb2_grpc.QueryServiceStub(channel)
        self.assertEqual(stats_stub.GetStats(query_pb2.GetStatsRequest(), timeout=10).total_flows,
                         acked)
        log = "".join(queryd.log)
        self.assertIn("the store cannot write (out_of_descriptors)", log)
        # RocksDB cannot resume from a WAL it could not create: queryd says
        # so, and SIGTERM (which used to abort in RocksDB) ends it cleanly.
        self.assertIn("writes wait for a restart", log)
        self.assertEqual(queryd.stop(), 0, "".join(queryd.log))

        # Restarted, it has every acked batch and takes the refused one.
        queryd = wt.Queryd(queryd.data_dir).start()
        self.addCleanup(queryd.kill)
        self.assertEqual(stats(queryd.address).total_flows, acked)
        acks = wt.ingest(queryd.address, [batch])
        self.assertEqual([(a.seq, a.duplicate) for a in acks], [(batch.seq, False)])
        self.assertEqual(stats(queryd.address).total_flows, acked + flows)
        self.assertEqual(queryd.stop(), 0)

    @staticmethod
    def try_health(queryd):
        try:
            return curl_json(queryd.http_url + "/v1/health")
        except (subprocess.SubprocessError, ValueError):
            return None


if __name__ == "__main__":
    unittest.main()
