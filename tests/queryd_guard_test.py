"""weir-queryd's HTTP front against hostile and greedy clients.

Raw bytes over a socket for the framing checks (request smuggling, Host,
WebSocket upgrades), and each limit hit once: body and head size, streams
and connections per peer, WebSocket message size, a slow-loris client.
Every refusal must carry a google.rpc.Status naming the header or the limit
and be counted in /metrics. Every process the test starts is stopped by PID.
"""
import base64
import json
import socket
import subprocess
import threading
import time
import unittest

import grpc
import websocket
from google.protobuf import duration_pb2
from weir.v1 import query_pb2, query_pb2_grpc

import weir_testing as wt

from queryd_http_test import curl, metric_values
from weir_testing import stop_process


def exchange(port, data, timeout=10):
    """Sends `data` at once and reads until queryd closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                return received, True
            received += chunk
        return received, False


def status_of(answer):
    """(status code, google.rpc.Status dict) of one whole HTTP answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    code = int(head.split(b" ", 2)[1])
    return code, json.loads(body.decode()) if body else None


class GuardTestCase(wt.QuerydTestCase):
    def metric(self, name, labels):
        _, _, body = curl(self.queryd.http_url + "/metrics")
        return metric_values(body, name).get(labels, 0.0)

    def assert_next_connection_closed_unread(self):
        """A new connection is closed without an answer to its request."""
        with socket.create_connection(("127.0.0.1", self.queryd.http_port), timeout=5) as extra:
            extra.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                self.assertEqual(extra.recv(100), b"")
            except ConnectionResetError:
                pass

    def assert_refused(self, data, status, code, message):
        answer, closed = exchange(self.queryd.http_port, data)
        self.assertTrue(closed, answer)
        # One answer only: nothing after the head was read as a request.
        self.assertEqual(answer.count(b"HTTP/1.1 "), 1, answer)
        got, error = status_of(answer)
        self.assertEqual(got, status, answer)
        self.assertEqual(error["code"], code, answer)
        self.assertIn(message, error["message"])
        return answer


SMUGGLED = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"


class FramingTest(GuardTestCase):
    def post(self, headers, body=b""):
        return (b"POST /v1/flows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + headers + b"\r\n" + body)

    def test_transfer_encodings_other_than_chunked_are_400_and_close(self):
        chunked_then_smuggled = b"2\r\n{}\r\n0\r\n\r\n" + SMUGGLED
        for te in (b"gzip, chunked", b"chunked, identity", b"xchunked", b"identity",
                   b"chunked;q=1"):
            with self.subTest(te=te):
                self.assert_refused(
                    self.post(b"Transfer-Encoding: " + te + b"\r\n", chunked_then_smuggled),
                    400, 3, "Transfer-Encoding")

    def test_refusal_reaches_a_client_still_sending_its_body(self):
        # The 400 must not be lost to a reset while body bytes are unread.
        body = b"ffff\r\n" + b"a" * 0xffff + b"\r\n"
        with socket.create_connection(("127.0.0.1", self.queryd.http_port), timeout=10) as sock:
            sock.sendall(self.post(b"Transfer-Encoding: gzip, chunked\r\n"))
            time.sleep(0.2)
            try:
                for _ in range(4):
                    sock.sendall(body)
            except OSError:
                pass
            answer = b""
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
            except ConnectionResetError:
                pass
        self.assertTrue(answer.startswith(b"HTTP/1.1 400 "), answer)
        self.assertEqual(answer.count(b"HTTP/1.1 "), 1, answer)

    def test_transfer_encoding_with_content_length_is_400(self):
        for headers in (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"):
            with self.subTest(headers=headers):
                answer = self.assert_refused(self.post(headers, b"0\r\n\r\n" + SMUGGLED),
                                             400, 3, "")
                self.assertRegex(status_of(answer)[1]["message"],
                                 "Transfer-Encoding|Content-Length")

    def test_plain_chunked_body_still_works(self):
        # The body is read whole (no route takes POST: 405, not 400), and the
        # request after it on the same connection is answered too.
        data = (self.post(b"Transfer-Encoding: Chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n") +
                b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer, closed = exchange(self.queryd.http_port, data)
        self.assertTrue(closed)
        self.assertTrue(answer.startswith(b"HTTP/1.1 405 "), answer)
        self.assertEqual(answer.count(b"HTTP/1.1 405 "), 1, answer)
        self.assertEqual(answer.count(b"HTTP/1.1 200 "), 1, answer)

    def test_host_missing_or_twice_is_400(self):
        self.assert_refused(b"GET /v1/health HTTP/1.1\r\n\r\n", 400, 3, "missing Host header")
        self.assert_refused(b"GET /v1/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                            400, 3, "more than one Host header")
        # HTTP/1.0 may leave Host out.
        answer, _ = exchange(self.queryd.http_port, b"GET /v1/health HTTP/1.0\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.0 200 "), answer)

    def upgrade(self, extra):
        return (b"GET /v1/stats:watch?interval=1s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\n" + extra + b"\r\n")

    def test_websocket_upgrades_without_a_valid_key_or_version_are_400(self):
        good_key = base64.b64encode(bytes(range(16)))
        cases = [
            (b"Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key"),
            (b"Sec-WebSocket-Key: \r\nSec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key"),
            (b"Sec-WebSocket-Key: not-base64!!\r\nSec-WebSocket-Version: 13\r\n",
             "Sec-WebSocket-Key"),
            (b"Sec-WebSocket-Key: " + base64.b64encode(bytes(15)) +
             b"\r\nSec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key"),
            (b"Sec-WebSocket-Key: " + base64.b64encode(bytes(17)) +
             b"\r\nSec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key"),
            (b"Sec-WebSocket-Key: " + good_key + b"\r\nSec-WebSocket-Key: " + good_key +
             b"\r\nSec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key"),
            (b"Sec-WebSocket-Key: " + good_key + b"\r\n", "Sec-WebSocket-Version"),
            (b"Sec-WebSocket-Key: " + good_key + b"\r\nSec-WebSocket-Version: 8\r\n",
             "Sec-WebSocket-Version"),
        ]
        for extra, header in cases:
            with self.subTest(extra=extra):
                answer = self.assert_refused(self.upgrade(extra), 400, 3, header)
                self.assertIn(b"\r\nSec-WebSocket-Version: 13\r\n", answer)
        # The same request with a valid key is upgraded.
        with socket.create_connection(("127.0.0.1", self.queryd.http_port), timeout=10) as s:
            s.sendall(self.upgrade(b"Sec-WebSocket-Key: " + good_key +
                                   b"\r\nSec-WebSocket-Version: 13\r\n"))
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 101 "))


class LimitsTest(GuardTestCase):
    QUERYD_ARGS = ("--http-read-timeout=2s", "--max-streams-per-peer=2",
                   "--websocket-max-message-bytes=1024", "--http-max-connections-per-peer=8",
                   "--http-max-header-bytes=4096", "--http-max-body-bytes=2048",
                   "--max-query-window=1h", "--max-page-size=50")

    def test_query_window_and_page_size_ceilings(self):
        now = int(time.time())
        def rfc3339(t):
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        base = self.queryd.http_url + "/v1/flows?"
        ok = "range.start=%s&range.end=%s" % (rfc3339(now - 3600), rfc3339(now))
        code, _, body = curl(base + ok)
        self.assertEqual(code, 200, body)
        long = "range.start=%s&range.end=%s" % (rfc3339(now - 7200), rfc3339(now))
        code, _, body = curl(base + long)
        self.assertEqual(code, 400, body)
        error = json.loads(body)
        self.assertEqual(error["code"], 3)
        self.assertTrue(error["message"].startswith("range: the window from "), error)
        self.assertIn("longer than the maximum 1h (--max-query-window)", error["message"])
        # The same over gRPC.
        channel = grpc.insecure_channel(self.queryd.address)
        self.addCleanup(channel.close)
        stub = query_pb2_grpc.QueryServiceStub(channel)
        request = query_pb2.ListFlowsRequest()
        request.range.start.seconds = now - 7200
        request.range.end.seconds = now
        with self.assertRaises(grpc.RpcError) as caught:
            stub.ListFlows(request, timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("--max-query-window", caught.exception.details())
        self.assertEqual(self.metric("weir_queryd_limit_hits_total", '{limit="query_window"}'), 2)
        # Pages: an error naming the field (not clamped).
        code, _, body = curl(base + ok + "&page_size=51")
        self.assertEqual(code, 400, body)
        self.assertIn("page_size: 51 is above the maximum 50", json.loads(body)["message"])
        code, _, body = curl(base + ok + "&page_size=50")
        self.assertEqual(code, 200, body)
        self.assertEqual(self.metric("weir_queryd_limit_hits_total", '{limit="page_size"}'), 1)

    def test_body_over_the_limit_is_413_and_counted(self):
        before = self.metric("weir_queryd_limit_hits_total", '{limit="body_bytes"}')
        data = (b"POST /v1/flows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 4096\r\n\r\n{" + b" " * 4094 + b"}")
        self.assert_refused(data, 413, 3, "larger than 2048 bytes")
        self.assertEqual(self.metric("weir_queryd_limit_hits_total", '{limit="body_bytes"}'),
                         before + 1)

    def test_head_over_the_limit_is_431_and_counted(self):
        data = (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
        self.assert_refused(data, 431, 3, "request header is too large")
        self.assertEqual(self.metric("weir_queryd_limit_hits_total", '{limit="header_bytes"}'), 1)

    def test_grpc_streams_per_peer(self):
        before = self.metric("weir_queryd_limit_hits_total", '{limit="streams_per_peer"}')
        channel = grpc.insecure_channel(self.queryd.address)
        self.addCleanup(channel.close)
        stub = query_pb2_grpc.QueryServiceStub(channel)
        request = query_pb2.WatchStatsRequest(interval=duration_pb2.Duration(nanos=200_000_000))
        streams = [stub.WatchStats(request, timeout=30) for _ in range(2)]
        for stream in streams:
            self.addCleanup(stream.cancel)
            next(stream)  # open and streaming
        with self.assertRaises(grpc.RpcError) as caught:
            next(stub.WatchStats(request, timeout=10))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("--max-streams-per-peer=2", caught.exception.details())
        self.assertEqual(
            self.metric("weir_queryd_limit_hits_total", '{limit="streams_per_peer"}'), before + 1)
        # A stream that ends gives its place back.
        streams[0].cancel()
        deadline = time.monotonic() + 10
        while True:
            try:
                third = stub.WatchStats(request, timeout=10)
                next(third)
                third.cancel()
                break
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
                self.assertLess(time.monotonic(), deadline, "the place was not given back")
                time.sleep(0.1)

    def test_streams_per_peer(self):
        before = self.metric("weir_queryd_limit_hits_total", '{limit="streams_per_peer"}')
        url = self.queryd.http_url + "/v1/stats:watch?interval=0.2s"
        procs = []
        for _ in range(2):
            proc = subprocess.Popen(["curl", "-sS", "-N", url], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            self.addCleanup(stop_process, proc)
            procs.append(proc)
            self.assertIn('"result"', proc.stdout.readline())  # open and streaming
        code, _, body = curl(url, "-m", "10")
        self.assertEqual(code, 429, body)
        error = json.loads(body)
        self.assertEqual(error["code"], 8)  # RESOURCE_EXHAUSTED
        self.assertIn("--max-streams-per-peer=2", error["message"])
        # A WebSocket stream counts too.
        with self.assertRaises(websocket.WebSocketBadStatusException) as caught:
            websocket.create_connection(url.replace("http", "ws"), timeout=10)
        self.assertEqual(caught.exception.status_code, 429)
        self.assertEqual(
            self.metric("weir_queryd_limit_hits_total", '{limit="streams_per_peer"}'),
            before + 2)
        # A stream that ends gives its place back.
        stop_process(procs[0])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ws = None
            try:
                ws = websocket.create_connection(url.replace("http", "ws"), timeout=10)
                self.assertIn("totalPackets", ws.recv())
                break
            except websocket.WebSocketBadStatusException:
                time.sleep(0.1)
            finally:
                if ws is not None:
                    ws.close()
        else:
            self.fail("the stream's place was not given back")

    def test_websocket_message_over_the_limit_closes_1009(self):
        ws = websocket.create_connection(
            self.queryd.http_url.replace("http", "ws") + "/v1/stats:watch?interval=0.2s",
            timeout=10)
        self.addCleanup(ws.close)
        ws.send("x" * 1000)  # under the limit: read and dropped
        ws.recv()
        ws.send("x" * 2000)
        deadline = time.monotonic() + 10
        code = None
        while time.monotonic() < deadline:
            opcode, frame = ws.recv_data_frame(True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(frame.data[:2], "big")
                break
        self.assertEqual(code, 1009)
        self.assertEqual(self.metric("weir_queryd_limit_hits_total",
                                     '{limit="websocket_message_bytes"}'), 1)

    def test_connections_per_peer_and_slow_loris(self):
        # Eight slow-loris clients, each sending one byte of a head a second:
        # they hold the peer's eight connections, a ninth is closed unread,
        # and all are dropped at --http-read-timeout (2s) however they trickle.
        head = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"
        refused_before = self.metric("weir_queryd_connections_refused_total",
                                     '{listener="http",reason="connections"}')
        slow = [socket.create_connection(("127.0.0.1", self.queryd.http_port), timeout=10)
                for _ in range(8)]
        for s in slow:
            self.addCleanup(s.close)
        start = time.monotonic()
        dropped = []

        def trickle(sock):
            for i in range(10):  # at most 10 bytes, 10 s
                try:
                    sock.sendall(head[i:i + 1])
                except OSError:
                    break
                time.sleep(1)
                try:
                    sock.setblocking(False)
                    if sock.recv(1) == b"":
                        dropped.append(time.monotonic() - start)
                        return
                except BlockingIOError:
                    pass
                except OSError:
                    dropped.append(time.monotonic() - start)
                    return
                finally:
                    sock.setblocking(True)

        threads = [threading.Thread(target=trickle, args=(s,), daemon=True) for s in slow]
        for t in threads:
            t.start()
        time.sleep(0.3)
        # The ninth connection from this address is closed before a byte is read.
        self.assert_next_connection_closed_unread()
        for t in threads:
            t.join(15)
        self.assertEqual(len(dropped), 8, dropped)
        self.assertTrue(all(1.5 < d < 5 for d in dropped), dropped)
        # Their places are free again: a normal client is served at once.
        begin = time.monotonic()
        code, _, _ = curl(self.queryd.http_url + "/v1/health", "-m", "5")
        self.assertEqual(code, 200)
        self.assertLess(time.monotonic() - begin, 1.5)
        self.assertEqual(self.metric("weir_queryd_connections_refused_total",
                                     '{listener="http",reason="connections"}'),
                         refused_before + 1)

    def test_slow_loris_does_not_block_others(self):
        slow = []
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", self.queryd.http_port), timeout=10)
            self.addCleanup(s.close)
            s.sendall(b"G")
            slow.append(s)
        start = time.monotonic()
        for i in range(3):  # bounded: 3 requests while the slow ones trickle
            for s in slow:
                try:
                    s.sendall(b"E")
                except OSError:
                    pass
            code, _, _ = curl(self.queryd.http_url + "/v1/health", "-m", "5")
            self.assertEqual(code, 200)
            time.sleep(0.5)
        self.assertLess(time.monotonic() - start, 4)
        for s in slow:
            s.settimeout(5)
            try:
                self.assertEqual(s.recv(100), b"")
            except ConnectionResetError:
                pass


class TotalConnectionsTest(GuardTestCase):
    QUERYD_ARGS = ("--http-max-connections=3",)

    def test_connections_past_the_total_cap_are_closed_unread(self):
        held = [socket.create_connection(("127.0.0.1", self.queryd.http_port), timeout=5)
                for _ in range(3)]
        for s in held:
            self.addCleanup(s.close)
        time.sleep(0.2)  # accepted
        self.assert_next_connection_closed_unread()
        for s in held:
            s.close()
        # Places given back once queryd sees them close.
        deadline = time.monotonic() + 10
        while True:
            answer, _ = exchange(self.queryd.http_port,
                                 b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if answer.startswith(b"HTTP/1.1 200 "):
                break
            self.assertLess(time.monotonic(), deadline, answer)
            time.sleep(0.1)
        self.assertGreaterEqual(self.metric("weir_queryd_limit_hits_total",
                                            '{limit="connections"}'), 1)
        self.assertGreaterEqual(self.metric("weir_queryd_connections_refused_total",
                                            '{listener="http",reason="connections"}'), 1)


class FlagsTest(unittest.TestCase):
    def test_bad_limit_and_allowlist_flags_are_one_line_and_exit_2(self):
        for flag, name in (("--allowed-ips=192.0.2.0/33", "--allowed-ips"),
                           ("--grpc-allowed-ips=nonsense", "--grpc-allowed-ips"),
                           ("--http-allowed-ips=192.0.2.1/24", "--http-allowed-ips"),
                           ("--max-streams-per-peer=-1", "--max-streams-per-peer"),
                           ("--http-max-connections=-5", "--http-max-connections"),
                           ("--websocket-max-message-bytes=10", "--websocket-max-message-bytes"),
                           ("--http-max-header-bytes=10", "--http-max-header-bytes"),
                           ("--max-query-window=10s", "--max-query-window")):
            with self.subTest(flag=flag):
                result = subprocess.run(
                    [wt.runfile("queryd/weir-queryd"), "--data-dir=" + wt.tmpdir("flags-"),
                     flag], capture_output=True, text=True, timeout=30)
                self.assertEqual(result.returncode, 2, result.stderr)
                lines = result.stderr.strip().splitlines()
                self.assertIn(name, lines[0])


if __name__ == "__main__":
    unittest.main()
