"""weir-queryd's HTTP front through real clients.

curl for every REST route (the seed paths too) and every error class,
curl -N for NDJSON streams, Debian's python3-websocket for the WebSocket
streams (including clients that go away), a real Prometheus server scraping
/metrics (its HTTP API must report exactly the ingested totals), and
promtool on a scrape. Every process the test starts is stopped by PID.
"""
import gzip
import json
import os
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse
import urllib.request

import grpc
import websocket

import weir_testing as wt

from weir_testing import ICMP, free_port, ingest, stop_process


def dataset(now):
    """weir_testing.dataset's batches, node-a's then node-b's: 30 packets,
    23652 bytes, 7 flow records, 3 packets lost."""
    return [b for batches in wt.dataset(now).values() for b in batches]


TOTAL_PACKETS = 30
TOTAL_BYTES = 15000 + 180 + 7000 + 392 + 900 + 60 + 120
TOTAL_FLOWS = 7


def rfc3339(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(seconds))) + "Z"


def curl(url, *args, timeout=20):
    """(status, headers, body) of one request made by curl."""
    result = subprocess.run(
        ["curl", "-sS", "-D", "-", "-o", "-", "-w", "\n%{http_code}", *args, url],
        capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError("curl %s: %s" % (url, result.stderr))
    # (text mode turned the head's CRLFs into LFs)
    text, code = result.stdout.rsplit("\n", 1)
    head, _, body = text.partition("\n\n")
    headers = {}
    for line in head.split("\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(code), headers, body


def curl_head(url, *args, timeout=20):
    """(status, headers) of a HEAD request made by curl -I."""
    result = subprocess.run(["curl", "-sS", "-I", "-w", "\n%{http_code}", *args, url],
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError("curl -I %s: %s" % (url, result.stderr))
    text, code = result.stdout.rsplit("\n", 1)
    headers = {}
    for line in text.strip("\n").split("\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(code), headers


def raw_head(port, target, timeout=10):
    """Everything queryd sends for `HEAD target` on a connection it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                     % target.encode())
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def metric_values(text, name):
    """{labels text: value} of one metric in a text-format scrape."""
    values = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            series, value = line.rsplit(" ", 1)
            values[series[len(name):]] = float(value)
    return values


class HttpTestCase(wt.QuerydTestCase):
    """A queryd of its own per test class, holding `dataset`."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.now = time.time()
        acks = ingest(cls.queryd.address, dataset(cls.now))
        assert len(acks) == 6, acks

    def url(self, path, **params):
        query = urllib.parse.urlencode(params, doseq=True)
        return self.queryd.http_url + path + ("?" + query if query else "")

    def get(self, path, **params):
        code, headers, body = curl(self.url(path, **params))
        self.assertEqual(headers.get("content-type"), "application/json", (path, body))
        return code, json.loads(body)

    def get_ok(self, path, **params):
        code, body = self.get(path, **params)
        self.assertEqual(code, 200, (path, params, body))
        return body

    def assert_error(self, path, status, code, message, params=None, method="GET", extra=()):
        got, headers, body = curl(self.url(path, **(params or {})), "-X", method, *extra)
        self.assertEqual(got, status, (path, params, body))
        self.assertEqual(headers.get("content-type"), "application/json")
        error = json.loads(body)
        self.assertEqual(set(error), {"code", "message", "details"})
        self.assertEqual((error["code"], error["details"]), (code, []))
        self.assertIn(message, error["message"])
        return headers, error

    def window(self):
        return {"range.start": rfc3339(self.now - 600), "range.end": rfc3339(self.now + 60)}

    def scrape(self):
        code, headers, body = curl(self.queryd.http_url + "/metrics")
        self.assertEqual(code, 200)
        return headers, body

    def wait_for_stream_clients(self, want, timeout=10):
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = metric_values(self.scrape()[1], "weir_stream_clients")[""]
            if value == want:
                return
            time.sleep(0.1)
        self.fail("weir_stream_clients is %s, want %s" % (value, want))



class QuerydRestTest(HttpTestCase):
    """REST routes, errors, slow clients and /metrics; nothing but `dataset`
    is ingested, so every answer is exact."""
    QUERYD_ARGS = ("--http-read-timeout=2s",)

    # --- REST routes ----------------------------------------------------

    def test_health_and_stats_on_v1_and_seed_paths(self):
        for path in ("/v1/health", "/api/health"):
            h = self.get_ok(path)
            self.assertEqual(h["status"], "ok")
            self.assertTrue(h["uptime"].endswith("s"))
            self.assertIn("collectorsConnected", h)  # zero values are shown
        for path in ("/v1/stats", "/api/stats"):
            s = self.get_ok(path)
            # int64 as strings, as the proto3 JSON mapping says.
            self.assertEqual((s["totalPackets"], s["totalBytes"], s["totalFlows"]),
                             (str(TOTAL_PACKETS), str(TOTAL_BYTES), str(TOTAL_FLOWS)))
            self.assertEqual(s["nodes"], 2)
            self.assertEqual(s["lostPackets"], "3")

    def test_list_flows_paginated_with_filters(self):
        flows, token, pages = [], "", 0
        while True:
            params = dict(self.window(), pageSize=2)  # lowerCamel accepted
            if token:
                params["page_token"] = token
            page = self.get_ok("/v1/flows", **params)
            flows += page["flows"]
            token = page["nextPageToken"]
            pages += 1
            if not token:
                break
        self.assertEqual((len(flows), pages), (TOTAL_FLOWS, 4))
        self.assertEqual(sum(int(f["packets"]) for f in flows), TOTAL_PACKETS)
        icmp = [f for f in flows if f["key"]["protocol"] == ICMP][0]
        self.assertEqual(icmp["key"]["direction"], "DIRECTION_EGRESS")  # enum names
        self.assertEqual(icmp["srcClass"], "ADDRESS_CLASS_DOCUMENTATION")
        self.assertEqual(icmp["key"]["srcPort"], 0)
        for filters, packets in [
                ({"filter.node": "node-b"}, 9),
                ({"filter.port": ["443", "22"]}, 15 + 8),  # repeated by repetition
                ({"filter.direction": "DIRECTION_INGRESS"}, 8),
                ({"filter.direction": "1"}, 8),  # enum by number
                ({"filter.src_addr": "2001:db8::/127"}, 8),  # ::0 and ::1
                ({"filter.srcAddr": "192.0.2.0/24", "filter.protocol": "icmp"}, 4)]:
            page = self.get_ok("/v1/flows", page_size=100, **self.window(), **filters)
            self.assertEqual(sum(int(f["packets"]) for f in page["flows"]), packets, filters)

    def test_history_seed_path_takes_a_limit(self):
        page = self.get_ok("/api/history", limit=3, **self.window())
        self.assertEqual(len(page["flows"]), 3)
        self.assertTrue(page["nextPageToken"])
        # Newest first.
        seen = [f["lastSeen"] for f in page["flows"]]
        self.assertEqual(seen, sorted(seen, reverse=True))

    def test_top_talkers_and_time_series(self):
        top = self.get_ok("/v1/top", group_by="GROUP_BY_SRC", limit=10, **self.window())
        self.assertEqual([(t["srcAddr"], t["bytes"], t["packets"]) for t in top["talkers"]],
                         [("192.0.2.1", "22572", "21"), ("2001:db8::1", "960", "8"),
                          ("2001:db8::2", "120", "1")])
        self.assertTrue(top["source"])
        series = self.get_ok("/v1/timeseries", step="10s", **self.window())
        (one,) = series["series"]
        self.assertEqual(sum(int(p["packets"]) for p in one["points"]), TOTAL_PACKETS)
        self.assertEqual(series["step"], "10s")

    def test_groups_show_only_their_grouping_and_totals(self):
        top = self.get_ok("/v1/top", group_by="dst_port", **self.window())
        for talker in top["talkers"]:
            # The grouping's fields (port 0 of ICMP included) and the
            # totals: no "" or 0 of other key fields.
            self.assertEqual(set(talker), {"port", "protocol", "bytes", "packets", "flows"},
                             talker)
        self.assertIn(ICMP, [t["protocol"] for t in top["talkers"] if t["port"] == 0])
        series = self.get_ok("/v1/timeseries", step="1m", group_by="src", **self.window())
        self.assertEqual(len(series["series"]), 3)
        for s in series["series"]:
            group = s["group"]
            self.assertEqual(set(group), {"srcAddr", "bytes", "packets", "flows"}, group)
            # The group's totals are its points' sums, not 0.
            self.assertEqual(int(group["bytes"]), sum(int(p["bytes"]) for p in s["points"]))
            self.assertEqual(int(group["packets"]), sum(int(p["packets"]) for p in s["points"]))
            self.assertGreater(int(group["bytes"]), 0)
        by_src = {s["group"]["srcAddr"]: s["group"] for s in series["series"]}
        self.assertEqual((by_src["192.0.2.1"]["bytes"], by_src["192.0.2.1"]["packets"]),
                         ("22572", "21"))
        (whole,) = self.get_ok("/v1/timeseries", step="10s", **self.window())["series"]
        self.assertEqual(whole["group"], {"bytes": str(TOTAL_BYTES),
                                          "packets": str(TOTAL_PACKETS),
                                          "flows": str(TOTAL_FLOWS)})

    def test_enums_by_full_name_number_or_short_form(self):
        def packets(page):
            return sum(int(f["packets"]) for f in page["flows"])
        for value in ("DIRECTION_INGRESS", "1", "ingress", "INGRESS"):
            page = self.get_ok("/v1/flows", page_size=100, **self.window(),
                               **{"filter.direction": value})
            self.assertEqual(packets(page), 8, value)
        full = self.get_ok("/v1/top", group_by="GROUP_BY_SRC", order_by="ORDER_BY_PACKETS",
                           **self.window())
        for group_by, order_by in (("src", "packets"), ("1", "2")):
            short = self.get_ok("/v1/top", group_by=group_by, order_by=order_by,
                                **self.window())
            self.assertEqual(short["talkers"], full["talkers"])
        live = self.get_ok("/v1/connections", order_by="bytes")
        self.assertEqual(live["total"], "5")
        byte_counts = [int(c["bytes"]) for c in live["connections"]]
        self.assertEqual(byte_counts, sorted(byte_counts, reverse=True))
        # Errors name the field and list every accepted form, on every route.
        forms = ("(want one of ORDER_BY_UNSPECIFIED, ORDER_BY_BYTES, ORDER_BY_PACKETS, "
                 "ORDER_BY_FLOWS; in short unspecified, bytes, packets, flows; or its number)")
        for path in ("/v1/connections", "/api/live", "/v1/top"):
            for value in ("bytez", "7"):
                _, error = self.assert_error(path, 400, 3, 'query parameter "order_by": '
                                             'invalid value "%s"' % value, {"order_by": value})
                self.assertTrue(error["message"].endswith(forms), error["message"])
        self.assert_error("/v1/top", 400, 3, "in short unspecified, src, dst, pair, src_port",
                          {"group_by": "everything"})

    def test_durations_in_json_and_unit_forms(self):
        for step, seconds in (("90s", 90), ("1m30s", 90), ("2m", 120), ("0.5h", 1800)):
            series = self.get_ok("/v1/timeseries", step=step, **self.window())
            self.assertEqual(series["step"], "%ds" % seconds, step)
        self.assertEqual(self.get_ok("/v1/timeseries", step="1d", **{
            "range.start": rfc3339(self.now - 7 * 86400),
            "range.end": rfc3339(self.now)})["step"], "86400s")
        for step, message in (("-5s", 'query parameter "step": negative duration "-5s"'),
                              ("99999999999d", 'query parameter "step": duration '
                                               '"99999999999d" is too long'),
                              ("5 minutes", 'query parameter "step": invalid value')):
            _, error = self.assert_error("/v1/timeseries", 400, 3, message, {"step": step})
            self.assertIn("90s or 1.5s (seconds, the proto3 JSON form) or 1m30s, 2h, 7d, 500ms",
                          error["message"])
        # A streaming route's Duration too.
        proc = subprocess.run(["curl", "-sS", "-N", "-m", "3",
                               self.url("/v1/stats:watch", interval="250ms")],
                              capture_output=True, text=True)
        lines = [json.loads(line) for line in proc.stdout.splitlines() if line]
        self.assertGreaterEqual(len(lines), 5, proc.stdout)
        self.assertTrue(all("result" in m for m in lines))

    # --- HEAD, compression ----------------------------------------------

    def test_head_is_get_without_the_body(self):
        top = dict(self.window(), group_by="src")
        for path, params in (("/v1/health", {}), ("/api/stats", {}), ("/v1/flows", self.window()),
                             ("/v1/top", top), ("/metrics", {}), ("/v1/nope", {}),
                             ("/v1/top", {}),  # 400: the service's own validation
                             ("/v1/flows", {"bogus": "1"})):
            url = self.url(path, **params)
            got, got_headers, got_body = curl(url)
            head, head_headers = curl_head(url)
            self.assertEqual(head, got, path)
            self.assertEqual(head_headers["content-type"], got_headers["content-type"], path)
            if path == "/metrics":  # the scrape's length varies from one to the next
                self.assertGreater(int(head_headers["content-length"]), 1000)
            else:
                self.assertEqual(int(head_headers["content-length"]),
                                 len(got_body.encode()), path)
        # On the wire: the head and nothing after it.
        data = raw_head(self.queryd.http_port, "/v1/health")
        head, _, rest = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK"), data)
        self.assertIn(b"Content-Length: ", head)
        self.assertEqual(rest, b"")
        # A method that is not GET on the path is still 405.
        self.assert_error("/v1/flows", 405, 12, "not allowed", method="POST")

    def test_head_on_a_stream_sends_its_head_and_ends(self):
        for path, params in (("/v1/stats:watch", {"interval": "0.2s"}), ("/api/stream", {}),
                             ("/v1/flows:watch", {})):
            start = time.monotonic()
            # -m: a stream that never ended would fail here rather than hang.
            code, headers = curl_head(self.url(path, **params), "-m", "10")
            self.assertLess(time.monotonic() - start, 5, path)
            self.assertEqual(code, 200, path)
            self.assertEqual(headers["content-type"], "application/x-ndjson")
            self.assertNotIn("content-length", headers)
        # The connection ends after the head, with no stream line on it.
        data = raw_head(self.queryd.http_port, "/v1/stats:watch?interval=0.1s")
        head, _, rest = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK"), data)
        self.assertEqual(rest, b"")
        # A request the method rejects: the status a GET gets.
        code, _ = curl_head(self.url("/v1/stats:watch", interval="0.001s"), "-m", "10")
        self.assertEqual(code, 400)
        self.wait_for_stream_clients(0)

    def test_gzip_when_asked(self):
        url = self.url("/v1/flows", page_size=100, **self.window())
        code, plain_headers, plain = curl(url)
        self.assertEqual(code, 200)
        self.assertGreater(len(plain), 1024)
        self.assertNotIn("content-encoding", plain_headers)  # not asked: not compressed
        self.assertEqual(plain_headers["vary"], "Accept-Encoding")
        code, headers, unpacked = curl(url, "--compressed")
        self.assertEqual(code, 200)
        self.assertEqual(headers["content-encoding"], "gzip")
        self.assertEqual(headers["vary"], "Accept-Encoding")
        self.assertEqual(unpacked, plain)
        self.assertLess(int(headers["content-length"]), len(plain))
        # What went over the wire is gzip (curl without --compressed keeps it).
        raw = subprocess.run(["curl", "-sS", "-H", "Accept-Encoding: gzip", url],
                             capture_output=True, timeout=20).stdout
        self.assertEqual(raw[:2], b"\x1f\x8b")
        self.assertEqual(len(raw), int(headers["content-length"]))
        self.assertEqual(gzip.decompress(raw).decode(), plain)
        # gzip;q=0 refuses it; /metrics is compressed too.
        _, refused, _ = curl(url, "-H", "Accept-Encoding: gzip;q=0")
        self.assertNotIn("content-encoding", refused)
        code, headers, text = curl(self.queryd.http_url + "/metrics", "--compressed")
        self.assertEqual((code, headers["content-encoding"]), (200, "gzip"))
        self.assertIn("weir_packets_total", text)
        # Small answers are sent as they are.
        _, headers, _ = curl(self.url("/v1/health"), "--compressed")
        self.assertNotIn("content-encoding", headers)
        # Streams are not compressed.
        result = subprocess.run(
            ["curl", "-sS", "-N", "-i", "-m", "1.5", "-H", "Accept-Encoding: gzip",
             self.url("/v1/stats:watch", interval="0.2s")], capture_output=True, text=True)
        self.assertNotIn("content-encoding", result.stdout.split("\n\n", 1)[0].lower())
        self.assertIn('{"result":', result.stdout)

    def test_no_cors_headers_unless_configured(self):
        _, headers, _ = curl(self.url("/v1/health"), "-H", "Origin: https://a.example")
        self.assertFalse([h for h in headers if h.startswith("access-control-")])
        # A preflight is just an OPTIONS request: 405.
        self.assert_error("/v1/health", 405, 12, "OPTIONS", method="OPTIONS",
                          extra=("-H", "Origin: https://a.example",
                                 "-H", "Access-Control-Request-Method: GET"))

    def test_connections_live_and_nodes(self):
        for path in ("/v1/connections", "/api/live"):
            c = self.get_ok(path)
            self.assertEqual(c["total"], "5")
            self.assertEqual(c["connections"][0]["packets"], "15")
        limited = self.get_ok("/api/live", limit=2)
        self.assertEqual(len(limited["connections"]), 2)
        nodes = {n["name"]: n for n in self.get_ok("/v1/nodes")["nodes"]}
        self.assertEqual(nodes["node-a"]["lastSeq"], "3")
        self.assertEqual(nodes["node-b"]["counters"]["packetsExported"], "9")

    def test_keep_alive_reuses_the_connection(self):
        result = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects}\n",
             self.url("/v1/health"), self.url("/api/stats")],
            capture_output=True, text=True, timeout=20)
        self.assertEqual(result.stdout.split(), ["1", "0"])

    # --- errors ---------------------------------------------------------

    def test_bad_parameters_are_400_naming_them(self):
        cases = [
            ("/v1/flows", {"bogus": "1"}, 'query parameter "bogus": no field'),
            ("/v1/flows", {"filter.nope": "1"}, 'query parameter "filter.nope"'),
            ("/v1/flows", {"page_size": "ten"}, 'query parameter "page_size": invalid value'),
            ("/v1/flows", {"page_size": ["1", "2"]}, 'query parameter "page_size": given more'),
            ("/v1/flows", {"filter.direction": "SIDEWAYS"},
             'query parameter "filter.direction": invalid value "SIDEWAYS"'),
            ("/v1/top", {"group_by": "GROUP_BY_NOTHING"}, 'query parameter "group_by"'),
            ("/v1/flows", {"range.start": "yesterday"},
             'query parameter "range.start": invalid value "yesterday" (want an RFC 3339'),
            ("/v1/timeseries", {"step": "10"}, 'query parameter "step"'),
            ("/v1/flows", {"filter": "x"}, 'query parameter "filter": is a message'),
            # Validation by the service itself, through the gateway.
            ("/v1/flows", {"filter.src_addr": "10.0.0.0/33"}, "filter.src_addr[0]"),
            ("/v1/flows", {"page_size": "-1"}, "page_size"),
            ("/v1/flows", {"page_token": "garbage"}, "page_token"),
            ("/v1/top", {}, "group_by: required"),
            ("/api/live", {"filter.port": "70000"}, "filter.port[0]"),
            ("/v1/stats:watch", {"interval": "0.001s"}, "interval"),
        ]
        for path, params, message in cases:
            self.assert_error(path, 400, 3, message, params)
        # A malformed escape in the query string.
        got, _, body = curl(self.queryd.http_url + "/v1/flows?page_size=%zz")
        self.assertEqual(got, 400)
        self.assertIn("malformed percent-encoding", json.loads(body)["message"])

    def test_unknown_path_is_404(self):
        self.assert_error("/v1/nope", 404, 5, "no route for GET /v1/nope")
        self.assert_error("/", 404, 5, "no route for GET /")

    def test_wrong_method_is_405_with_allow(self):
        headers, _ = self.assert_error("/v1/flows", 405, 12,
                                       "method POST is not allowed on /v1/flows", method="POST")
        self.assertEqual(headers["allow"], "GET")
        headers, _ = self.assert_error("/api/stream", 405, 12, "DELETE", method="DELETE")
        self.assertEqual(headers["allow"], "GET")

    def test_body_over_the_limit_is_413(self):
        big = os.path.join(wt.tmpdir("body-"), "big.json")
        with open(big, "wb") as f:
            f.write(b"{" + b" " * (2 << 20) + b"}")
        self.assert_error("/v1/flows", 413, 3, "larger than 1048576 bytes", method="POST",
                          extra=("--data-binary", "@" + big, "-H", "Content-Type: application/json"))

    def test_websocket_upgrade_on_a_unary_path_is_400(self):
        with self.assertRaises(websocket.WebSocketBadStatusException) as caught:
            websocket.create_connection(self.queryd.http_url.replace("http", "ws") + "/v1/health",
                                        timeout=10)
        self.assertEqual(caught.exception.status_code, 400)

    def test_slow_and_silent_clients_are_dropped_without_holding_others(self):
        # One sends half a request head and stops; one sends nothing.
        slow = socket.create_connection(("127.0.0.1", self.queryd.http_port))
        silent = socket.create_connection(("127.0.0.1", self.queryd.http_port))
        self.addCleanup(slow.close)
        self.addCleanup(silent.close)
        slow.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        # Others are served meanwhile.
        self.assertEqual(self.get_ok("/v1/health")["status"], "ok")
        self.assertLess(time.monotonic() - start, 1.5)
        for sock in (slow, silent):
            sock.settimeout(10)
            self.assertEqual(sock.recv(100), b"")  # closed by queryd, no answer
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, 1.5)  # --http-read-timeout=2s
        self.assertLess(elapsed, 8)

    def test_malformed_request_is_400(self):
        with socket.create_connection(("127.0.0.1", self.queryd.http_port)) as sock:
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nBad Header Line\r\n\r\n")
            sock.settimeout(10)
            answer = sock.recv(4096).decode()
        self.assertTrue(answer.startswith("HTTP/1.1 400 "), answer)
        self.assertIn('"code":3', answer)

    # --- /metrics -----------------------------------------------------------

    def test_metrics_text_format_and_route_labels(self):
        self.get("/v1/nope-at-all")
        self.get_ok("/v1/stats")
        headers, text = self.scrape()
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        requests = metric_values(text, "weir_http_requests_total")
        self.assertIn('{code="200",route="/v1/stats"}', requests)
        self.assertIn('{code="404",route="unmatched"}', requests)
        self.assertFalse([k for k in requests if "nope" in k])  # never raw paths
        self.assertIn('{route="/v1/stats",le="+Inf"}',
                      metric_values(text, "weir_http_request_duration_seconds_bucket"))
        for name in ("weir_packets_total", "weir_bytes_total", "weir_flows_total",
                     "weir_active_connections", "weir_ingest_batches_total",
                     "weir_ingest_records_total", "weir_ingest_rejects_total",
                     "weir_ingest_duplicates_total", "weir_ingest_lag_seconds",
                     "weir_collector_lost_packets_total", "weir_store_bytes",
                     "weir_store_memory_bytes",
                     "weir_stream_clients", "weir_ip_bytes_total",
                     "process_resident_memory_bytes", "process_cpu_seconds_total",
                     "process_open_fds", "ayaflow_packets_total", "ayaflow_bytes_total",
                     "ayaflow_active_connections", "network_traffic_bytes_total"):
            self.assertTrue(metric_values(text, name), name)
        self.assertEqual(
            metric_values(text, "weir_collector_lost_packets_total"),
            {'{node="node-a",reason="non_ip"}': 3.0})
        memory = metric_values(text, "weir_store_memory_bytes")
        self.assertEqual(set(memory), {'{part="memtables"}', '{part="block_cache"}'})
        self.assertGreater(memory['{part="memtables"}'], 0)  # the batches stored

    def test_promtool_finds_nothing_to_report(self):
        _, text = self.scrape()
        result = subprocess.run(["promtool", "check", "metrics"], input=text,
                                capture_output=True, text=True, timeout=30)
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, "", ""))


class QuerydStreamTest(HttpTestCase):
    """NDJSON and WebSocket streams (these tests ingest more flows)."""

    # --- NDJSON streams ---------------------------------------------------

    def curl_stream(self, path, **params):
        proc = subprocess.Popen(["curl", "-sS", "-N", self.url(path, **params)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(stop_process, proc)
        return proc

    def read_lines(self, proc, n, timeout=20):
        lines = []
        reader = threading.Thread(target=lambda: [lines.append(proc.stdout.readline())
                                                  for _ in range(n)], daemon=True)
        reader.start()
        reader.join(timeout)
        self.assertEqual(len(lines), n, lines)
        return [json.loads(line) for line in lines]

    def test_ndjson_stats_stream(self):
        for path in ("/v1/stats:watch", "/api/stream"):
            proc = self.curl_stream(path, interval="0.2s")
            start = time.monotonic()
            messages = self.read_lines(proc, 3)
            self.assertGreater(time.monotonic() - start, 0.35)
            for m in messages:
                self.assertEqual(list(m), ["result"])
                self.assertGreaterEqual(int(m["result"]["totalPackets"]), TOTAL_PACKETS)
            stop_process(proc)  # the client goes away mid-stream
        self.wait_for_stream_clients(0)

    def test_ndjson_head_and_flow_stream(self):
        proc = self.curl_stream("/v1/flows:watch", **{"filter.node": "node-n"})
        time.sleep(0.5)  # let the watch register
        now = time.time()
        ingest(self.queryd.address, [
            wt.batch("node-x", 1, [wt.flow(packets=99, when=now)], when=now),
            wt.batch("node-n", 1, [wt.flow(packets=1, when=now),
                                   wt.flow(packets=2, dport=54, when=now)], when=now),
            wt.batch("node-n", 2, [wt.flow(packets=3, dport=55, when=now)], when=now)])
        messages = self.read_lines(proc, 3)
        self.assertEqual([int(m["result"]["flow"]["packets"]) for m in messages], [1, 2, 3])
        self.assertEqual({m["result"]["flow"]["key"]["node"] for m in messages}, {"node-n"})
        self.assertEqual([m["result"]["dropped"] for m in messages], ["0", "0", "0"])
        stop_process(proc)
        self.wait_for_stream_clients(0)

    def test_ndjson_response_head(self):
        result = subprocess.run(
            ["curl", "-sS", "-N", "-i", "-m", "1.5", self.url("/v1/stats:watch", interval="0.2s")],
            capture_output=True, text=True)
        head = result.stdout.split("\n\n", 1)[0].lower()
        self.assertIn("http/1.1 200 ok", head)
        self.assertIn("content-type: application/x-ndjson", head)
        self.assertIn("transfer-encoding: chunked", head)

    # --- WebSocket streams ------------------------------------------------

    def ws(self, path, **params):
        url = self.url(path, **params).replace("http://", "ws://")
        conn = websocket.create_connection(url, timeout=20)
        self.addCleanup(conn.close)
        return conn

    def test_websocket_stats_streams(self):
        conn = self.ws("/v1/stats:watch", interval="0.2s")
        messages = [json.loads(conn.recv()) for _ in range(3)]
        for m in messages:  # the bare Stats message per frame
            self.assertGreaterEqual(int(m["totalPackets"]), TOTAL_PACKETS)
            self.assertNotIn("result", m)
        conn.close()

        # The seed's /api/stream pushes stats every second.
        conn = self.ws("/api/stream")
        start = time.monotonic()
        first = json.loads(conn.recv())
        second = json.loads(conn.recv())
        self.assertGreater(time.monotonic() - start, 0.8)
        self.assertGreaterEqual(first["nodes"], 2)
        self.assertGreater(second["time"], first["time"])
        conn.close()
        self.wait_for_stream_clients(0)

    def test_websocket_flows_stream(self):
        conn = self.ws("/v1/flows:watch", **{"filter.node": "node-ws"})
        time.sleep(0.5)
        now = time.time()
        ingest(self.queryd.address, [
            wt.batch("node-ws", 1, [wt.flow(packets=4, when=now), wt.flow(packets=5, dport=9, when=now)],
                     when=now)])
        got = [json.loads(conn.recv()) for _ in range(2)]
        self.assertEqual([int(m["flow"]["packets"]) for m in got], [4, 5])

    def test_websocket_clients_that_go_away_cancel_their_calls(self):
        conns = [self.ws("/v1/stats:watch", interval="0.1s"), self.ws("/api/stream"),
                 self.ws("/v1/flows:watch")]
        for conn in conns[:2]:
            conn.recv()
        self.wait_for_stream_clients(3)
        # Mid-stream: one vanishes without a close frame, one closes politely,
        # one stops reading and vanishes.
        conns[0].sock.shutdown(socket.SHUT_RDWR)
        conns[0].sock.close()
        conns[1].close()
        conns[2].sock.close()
        self.wait_for_stream_clients(0)
        # And the server is still fine.
        self.assertEqual(self.get_ok("/v1/health")["status"], "ok")

    def test_websocket_rejected_request_gets_the_http_status(self):
        with self.assertRaises(websocket.WebSocketBadStatusException) as caught:
            self.ws("/v1/stats:watch", interval="0.001s")
        self.assertEqual(caught.exception.status_code, 400)
        with self.assertRaises(websocket.WebSocketBadStatusException) as caught:
            self.ws("/v1/flows:watch", bogus="1")
        self.assertEqual(caught.exception.status_code, 400)



    def test_streams_end_with_an_error_when_queryd_stops(self):
        queryd = wt.Queryd().start()
        self.addCleanup(queryd.kill)
        base = "127.0.0.1:%d" % queryd.http_port
        proc = subprocess.Popen(["curl", "-sS", "-N", "http://%s/v1/stats:watch?interval=0.2s" % base],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(stop_process, proc)
        self.assertIn("result", self.read_lines(proc, 1)[0])
        conn = websocket.create_connection("ws://%s/v1/flows:watch" % base, timeout=20)
        self.addCleanup(conn.close)

        self.assertEqual(queryd.stop(), 0)
        stopping = {"code": 14, "message": "queryd is stopping", "details": []}
        tail = [json.loads(line) for line in proc.stdout.read().splitlines() if line]
        self.assertEqual(tail[-1], {"error": stopping})
        self.assertTrue(all("result" in m for m in tail[:-1]))
        self.assertEqual(json.loads(conn.recv()), {"error": stopping})
        opcode, frame = conn.recv_data_frame(control_frame=True)
        self.assertEqual(opcode, websocket.ABNF.OPCODE_CLOSE)
        self.assertEqual(int.from_bytes(frame.data[:2], "big"), 1001)  # going away
        self.assertEqual(frame.data[2:], b"queryd is stopping")


class QuerydCorsTest(HttpTestCase):
    """--http-cors-origins with a list of origins, checked with curl sending
    Origin headers as a browser would."""
    LISTED = "https://dash.example.org"
    QUERYD_ARGS = ("--http-cors-origins=%s,http://127.0.0.1:3000" % LISTED,)

    def test_listed_origin_gets_the_header(self):
        for path, args in (("/v1/health", ()), ("/v1/flows", ("--compressed",)),
                           ("/v1/nope", ()), ("/metrics", ())):
            code, headers, _ = curl(self.url(path), "-H", "Origin: " + self.LISTED, *args)
            self.assertEqual(headers.get("access-control-allow-origin"), self.LISTED, path)
            self.assertIn("Origin", headers["vary"], path)
        code, headers, _ = curl(self.url("/v1/health"), "-H", "Origin: http://127.0.0.1:3000")
        self.assertEqual(headers["access-control-allow-origin"], "http://127.0.0.1:3000")
        # Streams too.
        result = subprocess.run(
            ["curl", "-sS", "-N", "-i", "-m", "1.5", "-H", "Origin: " + self.LISTED,
             self.url("/v1/stats:watch", interval="0.2s")], capture_output=True, text=True)
        head = result.stdout.split("\n\n", 1)[0].lower()
        self.assertIn("access-control-allow-origin: " + self.LISTED, head)

    def test_other_origins_and_plain_requests_get_none(self):
        for origin in ("https://evil.example", "https://dash.example.org.evil.example",
                       "http://dash.example.org", "null"):
            code, headers, _ = curl(self.url("/v1/health"), "-H", "Origin: " + origin)
            self.assertEqual(code, 200)  # answered; the browser keeps it from the page
            self.assertNotIn("access-control-allow-origin", headers, origin)
            self.assertEqual(headers["vary"], "Origin, Accept-Encoding")
        _, headers, _ = curl(self.url("/v1/health"))
        self.assertNotIn("access-control-allow-origin", headers)

    def test_preflight(self):
        code, headers, body = curl(
            self.url("/v1/flows"), "-X", "OPTIONS", "-H", "Origin: " + self.LISTED,
            "-H", "Access-Control-Request-Method: GET",
            "-H", "Access-Control-Request-Headers: Authorization, X-Other, Grpc-Metadata-Tenant")
        self.assertEqual((code, body), (204, ""))
        self.assertEqual(headers["access-control-allow-origin"], self.LISTED)
        self.assertEqual(headers["access-control-allow-methods"], "GET, HEAD")
        self.assertEqual(headers["access-control-allow-headers"],
                         "authorization, grpc-metadata-tenant")
        self.assertEqual(headers["access-control-max-age"], "600")
        # An origin not listed: 403 naming it, no CORS headers.
        headers, _ = self.assert_error(
            "/v1/flows", 403, 7, 'origin "https://evil.example" is not allowed', method="OPTIONS",
            extra=("-H", "Origin: https://evil.example",
                   "-H", "Access-Control-Request-Method: GET"))
        self.assertNotIn("access-control-allow-origin", headers)
        # An unknown path: 404.
        self.assert_error("/v1/nope", 404, 5, "no route for OPTIONS /v1/nope", method="OPTIONS",
                          extra=("-H", "Origin: " + self.LISTED,
                                 "-H", "Access-Control-Request-Method: GET"))

    def test_bad_flag_values_are_one_line_and_exit_2(self):
        for value, message in (("https://a.example/", "something after the host"),
                               ("*,https://a.example", "must stand alone"),
                               ("a.example", "must start with http://")):
            result = subprocess.run(
                [wt.runfile("queryd/weir-queryd"), "--data-dir=" + wt.tmpdir("cors-"),
                 "--allow-root", "--http-cors-origins=" + value],
                capture_output=True, text=True, timeout=20)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
            self.assertIn("--http-cors-origins: ", result.stderr)
            self.assertIn(message, result.stderr)


class QuerydCorsAnyOriginTest(HttpTestCase):
    QUERYD_ARGS = ("--http-cors-origins=*",)

    def test_any_origin(self):
        code, headers, _ = curl(self.url("/v1/health"), "-H", "Origin: https://any.example")
        self.assertEqual((code, headers["access-control-allow-origin"]), (200, "*"))
        self.assertEqual(headers["vary"], "Accept-Encoding")  # not by Origin
        code, headers, _ = curl(self.url("/api/stream"), "-X", "OPTIONS",
                                "-H", "Origin: https://any.example",
                                "-H", "Access-Control-Request-Method: GET")
        self.assertEqual((code, headers["access-control-allow-origin"]), (204, "*"))


class PrometheusScrapeTest(unittest.TestCase):
    """A real Prometheus server scrapes queryd; its API reports exact totals."""

    def test_prometheus_sees_the_exact_totals(self):
        queryd = wt.Queryd(extra_args=["--metrics-top-k=2"]).start()
        self.addCleanup(queryd.kill)
        ingest(queryd.address, dataset(time.time()))

        workdir = wt.tmpdir("prometheus-")
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: weir-queryd\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % queryd.http_port)
        port = free_port()
        log = open(os.path.join(workdir, "prometheus.log"), "w")
        self.addCleanup(log.close)
        prometheus = subprocess.Popen(
            ["/usr/bin/prometheus", "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(workdir, "data"),
             "--web.listen-address=127.0.0.1:%d" % port],
            stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(stop_process, prometheus)
        api = "http://127.0.0.1:%d" % port

        def query(expr):
            url = api + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            with urllib.request.urlopen(url, timeout=10) as r:
                answer = json.load(r)
            self.assertEqual(answer["status"], "success")
            return {json.dumps(s["metric"], sort_keys=True): float(s["value"][1])
                    for s in answer["data"]["result"]}

        expected = {
            "sum(weir_packets_total)": TOTAL_PACKETS,
            "sum(weir_bytes_total)": TOTAL_BYTES,
            "sum(weir_flows_total)": TOTAL_FLOWS,
            "sum(weir_ip_bytes_total)": TOTAL_BYTES,
            "sum(network_traffic_bytes_total)": TOTAL_BYTES,
            "sum(ayaflow_packets_total)": TOTAL_PACKETS,
            "sum(ayaflow_bytes_total)": TOTAL_BYTES,
            "sum(weir_ingest_batches_total)": 6,
            "sum(weir_ingest_records_total)": TOTAL_FLOWS,
            'sum(weir_collector_lost_packets_total{reason="non_ip"})': 3,
            'sum(up{job="weir-queryd"})': 1,
        }
        deadline = time.monotonic() + 60
        got = {}
        while time.monotonic() < deadline:
            try:
                got = {expr: next(iter(query(expr).values()), None) for expr in expected}
            except OSError:
                got = {}
            if got == expected:
                break
            time.sleep(0.5)
        self.assertEqual(got, expected)

        by_direction = query("sum by (direction) (weir_packets_total)")
        self.assertEqual(sorted(by_direction.values()), [8.0, 22.0])
        by_node = query('weir_bytes_total{direction="egress"}')
        self.assertEqual(by_node, {
            json.dumps({"__name__": "weir_bytes_total", "direction": "egress",
                        "instance": "127.0.0.1:%d" % queryd.http_port, "job": "weir-queryd",
                        "node": n}, sort_keys=True): float(b)
            for n, b in (("node-a", 15000 + 180 + 7000 + 392), ("node-b", 120))})
        # Top-K: at most 2 address pairs plus the remainder series per direction.
        ip_series = query("weir_ip_bytes_total")
        self.assertLessEqual(len(ip_series), 2 + 2)
        others = [v for k, v in ip_series.items() if '"src_ip": "other"' in k]
        self.assertEqual(len(others), 2)
        self.assertGreater(sum(others), 0)
        self.assertEqual(queryd.stop(), 0, "".join(queryd.log))


if __name__ == "__main__":
    unittest.main(verbosity=2)
