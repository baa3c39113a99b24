"""weir-queryd through gRPC from an outside client (Debian's python3-grpcio).

Ingests known batches from two collectors, then checks every query's answer
exactly; resends acked batches (stored once); restarts and kills queryd
(nothing lost); checks validation, streams, health (per service, and its
changes at shutdown and when the store cannot write), reflection (v1 and
v1alpha, walked like grpcurl does) and that a second queryd cannot take the
same ports.
"""
import errno
import ipaddress
import json
import os
import resource
import signal
import socket
import subprocess
import threading
import time
import unittest

import grpc
from google.protobuf import descriptor_database, descriptor_pb2, descriptor_pool
from google.protobuf import duration_pb2, timestamp_pb2
from grpc_contracts import health_pb2, health_pb2_grpc
from grpc_contracts import reflection_pb2, reflection_pb2_grpc
from grpc_contracts import reflection_v1_pb2, reflection_v1_pb2_grpc
from weir.v1 import flow_pb2, query_pb2, query_pb2_grpc

import weir_testing as wt

from weir_testing import ICMP, TCP, UDP, ingest


def ts(seconds):
    t = timestamp_pb2.Timestamp()
    t.FromNanoseconds(int(seconds * 1e9))
    return t


# wt.dataset's sources by bytes: (address, bytes, packets, flows).
TOP_SOURCES = [("192.0.2.1", 15000 + 180 + 7000 + 392, 21, 4),
               ("2001:db8::1", 960, 8, 2),
               ("2001:db8::2", 120, 1, 1)]


QUERY, INGEST = "weir.v1.QueryService", "weir.v1.IngestService"
HEALTH = "grpc.health.v1.Health"
SERVICES = {QUERY, INGEST, HEALTH, "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"}
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
# Both reflection versions: (messages, stubs).
REFLECTION = [(reflection_v1_pb2, reflection_v1_pb2_grpc), (reflection_pb2, reflection_pb2_grpc)]


def reflect(channel, version, requests):
    """The answers to `requests` (keyword dicts) on one reflection stream."""
    messages, stubs = version
    stub = stubs.ServerReflectionStub(channel)
    return list(stub.ServerReflectionInfo(
        iter([messages.ServerReflectionRequest(**r) for r in requests]), timeout=10))


class Watch:
    """A grpc.health.v1 Watch stream read on a thread: statuses, and how it ended."""

    def __init__(self, channel, service):
        self.call = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=service), timeout=60)
        self.statuses = []
        self.ended = None  # grpc.StatusCode once the stream is over
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        code = grpc.StatusCode.OK
        try:
            for message in self.call:
                with self.changed:
                    self.statuses.append(message.status)
                    self.changed.notify_all()
        except grpc.RpcError as e:
            code = e.code()
        with self.changed:
            self.ended = code
            self.changed.notify_all()

    def wait_for(self, predicate, timeout=20):
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout)


def top_sources(stub, window):
    """TopTalkers by source, top 10: (source, talkers as in TOP_SOURCES, lost packets)."""
    r = stub.TopTalkers(query_pb2.TopTalkersRequest(
        range=window, group_by=query_pb2.GROUP_BY_SRC, limit=10), timeout=10)
    return (r.source, [(t.src_addr, t.bytes, t.packets, t.flows) for t in r.talkers],
            r.losses.packets)


class QuerydCase(unittest.TestCase):
    """A class of tests sharing one weir-queryd (cls.queryd, started by setUpClass)."""

    @classmethod
    def tearDownClass(cls):
        cls.queryd.stop()

    def stub(self):
        channel = grpc.insecure_channel(self.queryd.address)
        self.addCleanup(channel.close)
        return query_pb2_grpc.QueryServiceStub(channel)


class QuerydGrpcTest(QuerydCase):
    @classmethod
    def setUpClass(cls):
        cls.queryd = wt.Queryd().start()
        cls.now = time.time()
        cls.batches = wt.dataset(cls.now)
        # Two collectors at once, each on its own stream.
        results = {}
        threads = [threading.Thread(target=lambda n=n, bs=bs: results.__setitem__(
            n, ingest(cls.queryd.address, bs))) for n, bs in cls.batches.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        cls.acks = results

    def window(self):
        return query_pb2.TimeRange(start=ts(self.now - 600), end=ts(self.now + 1))

    def all_flows(self, **filter_fields):
        stub = self.stub()
        flows, token = [], ""
        for _ in range(100):
            r = stub.ListFlows(query_pb2.ListFlowsRequest(
                range=self.window(), filter=query_pb2.FlowFilter(**filter_fields),
                page_size=2, page_token=token), timeout=10)
            flows.extend(r.flows)
            token = r.next_page_token
            if not token:
                return flows, r
        self.fail("pagination did not end")

    # --- ingest ---------------------------------------------------------

    def test_every_batch_acked_in_order(self):
        for node, acks in self.acks.items():
            self.assertEqual([(a.epoch, a.seq, a.duplicate) for a in acks],
                             [(1, 1, False), (1, 2, False), (1, 3, False)], node)

    def test_resent_batches_are_acked_as_duplicates_and_stored_once(self):
        acks = ingest(self.queryd.address, self.batches["node-a"])
        self.assertEqual([a.duplicate for a in acks], [True, True, True])
        flows, _ = self.all_flows(node=["node-a"])
        self.assertEqual(sum(f.packets for f in flows), 10 + 2 + 5 + 4)

    def test_malformed_batch_is_rejected_naming_the_field_and_not_stored(self):
        bad = wt.batch("node-c", 1, [wt.flow()])
        bad.flows[0].src_addr = b"\x01\x02\x03\x04\x05"
        with self.assertRaises(grpc.RpcError) as caught:
            ingest(self.queryd.address, [bad])
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("flows[0].src_addr", caught.exception.details())
        nodes = self.stub().ListNodes(query_pb2.ListNodesRequest(), timeout=10).nodes
        self.assertNotIn("node-c", [n.name for n in nodes])

    # --- queries --------------------------------------------------------

    def test_list_flows_exact_and_paginated_once_each(self):
        flows, last = self.all_flows()
        self.assertEqual(len(flows), 7)
        self.assertEqual(sum(f.packets for f in flows), 30)
        self.assertEqual(sum(f.bytes for f in flows), 15000 + 180 + 7000 + 392 + 900 + 60 + 120)
        # Newest first.
        seen = [f.last_seen.ToNanoseconds() for f in flows]
        self.assertEqual(seen, sorted(seen, reverse=True))
        self.assertEqual(last.source, "raw")
        # Text addresses, classes and names.
        icmp = [f for f in flows if f.key.protocol == ICMP][0]
        self.assertEqual((icmp.key.src_addr, icmp.key.dst_addr), ("192.0.2.1", "192.0.2.2"))
        self.assertEqual(icmp.key.icmp_type, 8)
        self.assertEqual(icmp.key.ip_version, flow_pb2.IP_VERSION_4)
        self.assertEqual(icmp.src_class, flow_pb2.ADDRESS_CLASS_DOCUMENTATION)
        v6 = [f for f in flows if f.key.node == "node-b"]
        self.assertEqual({f.key.ifname for f in v6}, {"veth0"})
        self.assertEqual({f.key.src_addr for f in v6}, {"2001:db8::1", "2001:db8::2"})

    def test_filters(self):
        cases = [
            (dict(node=["node-b"]), 9),
            (dict(protocol=["udp"]), 3),
            (dict(protocol=["tcp"], port=[443]), 15),
            (dict(src_addr=["2001:db8::/126"]), 9),
            (dict(src_addr=["2001:db8::/128"]), 0),
            (dict(src_addr=["2001:db8::1/128"]), 8),
            (dict(addr=["198.51.100.0/24"]), 17),
            (dict(dst_port=[22]), 8),
            (dict(direction=flow_pb2.DIRECTION_INGRESS), 8),
            (dict(interface=["eth0"]), 21),
            (dict(protocol=["icmp"], dst_addr=["192.0.2.2"]), 4),
        ]
        for fields, packets in cases:
            flows, _ = self.all_flows(**fields)
            self.assertEqual(sum(f.packets for f in flows), packets, fields)

    def test_losses_reported_with_answers(self):
        _, last = self.all_flows(node=["node-a"])
        self.assertEqual(last.losses.packets, 3)
        (node,) = last.losses.nodes
        self.assertEqual(node.node, "node-a")
        self.assertEqual([(l.reason, l.packets) for l in node.losses],
                         [(flow_pb2.LOSS_REASON_NON_IP, 3)])
        _, clean = self.all_flows(node=["node-b"])
        self.assertEqual(clean.losses.packets, 0)

    def test_top_talkers(self):
        _, talkers, _ = top_sources(self.stub(), self.window())
        self.assertEqual(talkers, TOP_SOURCES)
        r = self.stub().TopTalkers(query_pb2.TopTalkersRequest(
            range=self.window(), group_by=query_pb2.GROUP_BY_DST_PORT,
            order_by=query_pb2.ORDER_BY_PACKETS, limit=2), timeout=10)
        self.assertEqual([(t.port, t.protocol, t.packets) for t in r.talkers],
                         [(443, TCP, 15), (22, TCP, 8)])
        self.assertTrue(r.source)

    def test_time_series_sums_to_totals(self):
        r = self.stub().TimeSeries(query_pb2.TimeSeriesRequest(
            range=self.window(), step=duration_pb2.Duration(seconds=10)), timeout=10)
        (series,) = r.series
        self.assertEqual(sum(p.packets for p in series.points), 30)
        self.assertEqual(len(series.points), 61)
        self.assertIn(0, [p.packets for p in series.points])

    def test_connections_and_nodes_and_stats(self):
        stub = self.stub()
        c = stub.ListConnections(query_pb2.ListConnectionsRequest(), timeout=10)
        self.assertEqual(c.total, 5)  # distinct flows, all within the timeout
        self.assertEqual(c.connections[0].packets, 15)  # 10 + 5 on the same flow
        self.assertEqual(c.connections[0].tcp_flags, 0x12 | 0x10)
        nodes = {n.name: n for n in stub.ListNodes(query_pb2.ListNodesRequest(), timeout=10).nodes}
        self.assertEqual(nodes["node-a"].last_seq, 3)
        self.assertEqual(nodes["node-a"].counters.packets_seen, 24)
        self.assertEqual(nodes["node-b"].counters.packets_exported, 9)
        s = stub.GetStats(query_pb2.GetStatsRequest(), timeout=10)
        self.assertEqual((s.total_packets, s.total_flows, s.nodes), (30, 7, 2))
        self.assertEqual(s.lost_packets, 3)
        h = stub.Health(query_pb2.HealthRequest(), timeout=10)
        self.assertEqual(h.status, "ok")

    def test_bad_requests_name_the_field(self):
        stub = self.stub()
        cases = [
            (lambda: stub.ListFlows(query_pb2.ListFlowsRequest(page_size=-1)), "page_size"),
            (lambda: stub.ListFlows(query_pb2.ListFlowsRequest(
                filter=query_pb2.FlowFilter(src_addr=["10.0.0.0/33"]))), "filter.src_addr[0]"),
            (lambda: stub.ListFlows(query_pb2.ListFlowsRequest(page_token="garbage")), "page_token"),
            (lambda: stub.ListFlows(query_pb2.ListFlowsRequest(
                range=query_pb2.TimeRange(start=ts(self.now), end=ts(self.now - 60)))), "range"),
            (lambda: stub.TopTalkers(query_pb2.TopTalkersRequest()), "group_by"),
            (lambda: stub.TopTalkers(query_pb2.TopTalkersRequest(
                group_by=query_pb2.GROUP_BY_SRC, limit=100000)), "limit"),
            (lambda: stub.TimeSeries(query_pb2.TimeSeriesRequest(
                range=self.window(), step=duration_pb2.Duration(nanos=1000))), "step"),
            (lambda: stub.ListConnections(query_pb2.ListConnectionsRequest(
                filter=query_pb2.FlowFilter(port=[70000]))), "filter.port[0]"),
            (lambda: list(stub.WatchStats(query_pb2.WatchStatsRequest(
                interval=duration_pb2.Duration(nanos=1000)))), "interval"),
        ]
        for call, field in cases:
            with self.assertRaises(grpc.RpcError, msg=field) as caught:
                call()
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, field)
            self.assertTrue(caught.exception.details().startswith(field),
                            (field, caught.exception.details()))

    def test_request_bytes_that_do_not_parse_are_invalid_argument_naming_the_message(self):
        # A length-delimited field 1 that claims 5 bytes and has 2: no
        # message parses from it. Identity serializers send it as it is.
        garbage = b"\x0a\x05ab"
        unary = ["Health", "GetStats", "ListFlows", "TopTalkers", "TimeSeries",
                 "ListConnections", "ListNodes"]
        streams = ["WatchFlows", "WatchStats"]
        service = query_pb2.DESCRIPTOR.services_by_name["QueryService"]
        self.assertEqual(sorted(unary + streams), sorted(m.name for m in service.methods))
        with grpc.insecure_channel(self.queryd.address) as channel:
            for method in unary + streams:
                path = "/weir.v1.QueryService/" + method
                if method in streams:
                    call = lambda: list(channel.unary_stream(path)(garbage, timeout=10))
                else:
                    call = lambda: channel.unary_unary(path)(garbage, timeout=10)
                with self.assertRaises(grpc.RpcError, msg=method) as caught:
                    call()
                self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, method)
                self.assertEqual(caught.exception.details(),
                                 "request: the bytes sent do not parse as weir.v1." +
                                 service.methods_by_name[method].input_type.name)
            # The same raw path still answers bytes that do parse.
            raw = channel.unary_unary("/weir.v1.QueryService/Health")(
                query_pb2.HealthRequest().SerializeToString(), timeout=10)
            self.assertEqual(query_pb2.HealthResponse.FromString(raw).status, "ok")

    # --- streams --------------------------------------------------------

    def test_watch_flows_sees_new_matching_flows(self):
        stub = self.stub()
        stream = stub.WatchFlows(query_pb2.WatchFlowsRequest(
            filter=query_pb2.FlowFilter(node=["node-w"])), timeout=20)
        got = []
        reader = threading.Thread(target=lambda: [got.append(m) for _, m in zip(range(3), stream)])
        reader.start()
        time.sleep(0.5)  # let the subscription register
        now = time.time()
        ingest(self.queryd.address, [
            wt.batch("node-x", 1, [wt.flow(packets=99, when=now)], when=now),
            wt.batch("node-w", 1, [wt.flow(packets=1, when=now), wt.flow(packets=2, dport=54, when=now)], when=now),
        ])
        ingest(self.queryd.address, [
            wt.batch("node-w", 2, [wt.flow(packets=3, dport=55, when=now)], when=now)])
        reader.join(20)
        stream.cancel()
        self.assertEqual([m.flow.packets for m in got], [1, 2, 3])
        self.assertEqual({m.flow.key.node for m in got}, {"node-w"})
        self.assertEqual([m.dropped for m in got], [0, 0, 0])

    def test_watch_stats_streams_until_cancelled(self):
        stream = self.stub().WatchStats(query_pb2.WatchStatsRequest(
            interval=duration_pb2.Duration(nanos=200_000_000)), timeout=20)
        start = time.monotonic()
        messages = [m for _, m in zip(range(3), stream)]
        stream.cancel()
        self.assertEqual(len(messages), 3)
        self.assertGreaterEqual(messages[-1].total_packets, 30)
        self.assertGreater(time.monotonic() - start, 0.35)

    # --- standard services ----------------------------------------------

    def test_health_and_reflection(self):
        with grpc.insecure_channel(self.queryd.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            r = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            self.assertEqual(r.status, health_pb2.HealthCheckResponse.SERVING)
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
            (listing,) = list(reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
            names = {s.name for s in listing.list_services_response.service}
            self.assertTrue({"weir.v1.QueryService", "weir.v1.IngestService",
                             "grpc.health.v1.Health"} <= names, names)
            (files,) = list(reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(
                    file_containing_symbol="weir.v1.QueryService")]), timeout=10))
            self.assertTrue(files.file_descriptor_response.file_descriptor_proto)

    def test_health_has_a_status_per_service(self):
        with grpc.insecure_channel(self.queryd.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in [""] + sorted(SERVICES):
                r = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
                self.assertEqual(r.status, SERVING, service)
            with self.assertRaises(grpc.RpcError) as caught:
                health.Check(health_pb2.HealthCheckRequest(service="weir.v1.Nope"), timeout=10)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
            # Watch: the status at once; an unknown service is SERVICE_UNKNOWN
            # and its stream stays open until the client cancels.
            known, unknown = Watch(channel, QUERY), Watch(channel, "weir.v1.Nope")
            self.assertTrue(known.wait_for(lambda w: w.statuses), "no status")
            self.assertTrue(unknown.wait_for(lambda w: w.statuses), "no status")
            time.sleep(0.3)
            self.assertEqual((known.statuses, unknown.statuses), ([SERVING], [SERVICE_UNKNOWN]))
            self.assertIsNone(unknown.ended)
            known.call.cancel()
            unknown.call.cancel()
            for w in (known, unknown):
                self.assertTrue(w.wait_for(lambda w: w.ended is not None), "stream did not end")
                self.assertEqual(w.ended, grpc.StatusCode.CANCELLED)
            # queryd still serves after the cancelled streams.
            r = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            self.assertEqual(r.status, SERVING)

    def test_reflection_describes_every_listed_service_with_its_dependencies(self):
        # What a reflection-driven client (grpcurl) does: list, resolve each
        # service's file, fetch every dependency by name, build a pool.
        for version in REFLECTION:
            with self.subTest(version[0].DESCRIPTOR.package), \
                    grpc.insecure_channel(self.queryd.address) as channel:
                (listing,) = reflect(channel, version, [dict(list_services="")])
                services = [s.name for s in listing.list_services_response.service]
                self.assertEqual(set(services), SERVICES)
                files = {}

                def add(answer, first):
                    self.assertFalse(answer.HasField("error_response"), answer.error_response)
                    raw = answer.file_descriptor_response.file_descriptor_proto
                    protos = [descriptor_pb2.FileDescriptorProto.FromString(r) for r in raw]
                    self.assertTrue(protos, answer)
                    if first:
                        self.assertEqual(protos[0].name, first)
                    for proto in protos:
                        files[proto.name] = proto
                    return protos[0]

                for service, answer in zip(services, reflect(
                        channel, version, [dict(file_containing_symbol=s) for s in services])):
                    add(answer, None)
                asked, todo = set(), list(files)
                for _ in range(1000):
                    if not todo:
                        break
                    name = todo.pop()
                    if name in asked:
                        continue
                    asked.add(name)
                    (answer,) = reflect(channel, version, [dict(file_by_filename=name)])
                    todo.extend(add(answer, name).dependency)
                self.assertFalse(todo)
                for proto in files.values():
                    self.assertLessEqual(set(proto.dependency), set(files), proto.name)
                database = descriptor_database.DescriptorDatabase()
                for proto in files.values():
                    database.Add(proto)
                pool = descriptor_pool.DescriptorPool(database)
                methods = {s: {m.name for m in pool.FindServiceByName(s).methods}
                           for s in services}
                self.assertEqual(methods[HEALTH], {"Check", "Watch"})
                self.assertEqual(methods["grpc.reflection.v1.ServerReflection"],
                                 {"ServerReflectionInfo"})
                self.assertIn("ListFlows", methods[QUERY])
                self.assertEqual(methods[INGEST], {"Ingest"})
                self.assertEqual(pool.FindServiceByName(HEALTH).file.name,
                                 "grpc_contracts/health.proto")
                self.assertEqual(pool.FindMessageTypeByName("weir.v1.FlowBatch").name,
                                 "FlowBatch")

    def test_reflection_answers_in_order_with_not_found_for_what_it_lacks(self):
        http_rule = 72295728  # google.api.http, an extension of MethodOptions
        for version in REFLECTION:
            with self.subTest(version[0].DESCRIPTOR.package), \
                    grpc.insecure_channel(self.queryd.address) as channel:
                messages = version[0]
                requests = [
                    dict(file_by_filename="weir/v1/nope.proto"),
                    dict(file_containing_symbol="weir.v1.Nope"),
                    dict(file_containing_extension=messages.ExtensionRequest(
                        containing_type="google.protobuf.MethodOptions", extension_number=1)),
                    dict(file_containing_extension=messages.ExtensionRequest(
                        containing_type="weir.v1.Nope", extension_number=1)),
                    dict(all_extension_numbers_of_type="weir.v1.Nope"),
                    dict(host="x"),
                    dict(all_extension_numbers_of_type="google.protobuf.MethodOptions"),
                    dict(file_containing_extension=messages.ExtensionRequest(
                        containing_type="google.protobuf.MethodOptions",
                        extension_number=http_rule)),
                    dict(file_containing_symbol="weir.v1.QueryService.ListFlows"),
                ]
                answers = reflect(channel, version, requests)
                self.assertEqual(len(answers), len(requests))
                for request, answer in zip(requests, answers):
                    self.assertEqual(answer.original_request,
                                     messages.ServerReflectionRequest(**request))
                codes = [a.error_response.error_code for a in answers]
                NOT_FOUND = grpc.StatusCode.NOT_FOUND.value[0]
                INVALID = grpc.StatusCode.INVALID_ARGUMENT.value[0]
                self.assertEqual(codes, [NOT_FOUND] * 5 + [INVALID, 0, 0, 0])
                self.assertIn("weir.v1.Nope", answers[1].error_response.error_message)
                self.assertEqual(answers[5].valid_host, "x")
                numbers = answers[6].all_extension_numbers_response
                self.assertEqual(numbers.base_type_name, "google.protobuf.MethodOptions")
                self.assertIn(http_rule, numbers.extension_number)
                first = descriptor_pb2.FileDescriptorProto.FromString(
                    answers[7].file_descriptor_response.file_descriptor_proto[0])
                self.assertEqual(first.name, "google/api/annotations.proto")
                first = descriptor_pb2.FileDescriptorProto.FromString(
                    answers[8].file_descriptor_response.file_descriptor_proto[0])
                self.assertEqual(first.name, "weir/v1/query.proto")


class QuerydConnectionsPagingTest(QuerydCase):
    """ListConnections paged over a live table of 45,000 connections (more
    than the 1,000 one unpaged answer may hold), while it changes."""

    NODE = "node-paging"
    COUNT = 45000

    @classmethod
    def setUpClass(cls):
        cls.queryd = wt.Queryd().start()
        cls.now = time.time()
        # One connection per source port, 1,000 flows a batch.
        batches = []
        for seq, first in enumerate(range(1, cls.COUNT + 1, 1000), start=1):
            batches.append(wt.batch(cls.NODE, seq, [
                wt.flow(protocol=TCP, src="192.0.2.10", dst="198.51.100.20", sport=port,
                        dport=443, packets=1, nbytes=60, when=cls.now)
                for port in range(first, min(first + 1000, cls.COUNT + 1))], when=cls.now))
        cls.next_seq = len(batches) + 1
        acks = ingest(cls.queryd.address, batches, timeout=120)
        assert len(acks) == len(batches), acks

    def request(self, **fields):
        return query_pb2.ListConnectionsRequest(
            filter=query_pb2.FlowFilter(node=[self.NODE]), **fields)

    def test_an_unpaged_answer_stops_at_its_limit(self):
        r = self.stub().ListConnections(self.request(limit=1000), timeout=30)
        self.assertEqual((len(r.connections), r.total, r.next_page_token),
                         (1000, self.COUNT, ""))

    def test_pages_list_every_connection_exactly_once_while_the_table_changes(self):
        stub = self.stub()
        walk, token, pages = [], "", 0
        changed = False
        while True:
            r = stub.ListConnections(self.request(page_size=1000, page_token=token), timeout=30)
            walk.extend(c.key.src_port for c in r.connections)
            pages += 1
            token = r.next_page_token
            if not token or pages > 100:
                break
            if not changed:
                # After the first page: every connection grows (a ranking by
                # packets would reorder them all) and one new connection
                # starts on a port past 45,000 (its key comes after the
                # point reached, so it is listed, once).
                changed = True
                now = time.time()
                flows = [wt.flow(protocol=TCP, src="192.0.2.10", dst="198.51.100.20",
                                 sport=port, dport=443, packets=port, nbytes=60 * port, when=now)
                         for port in range(1, self.COUNT + 2)]
                batches = [wt.batch(self.NODE, self.next_seq + i, flows[i:i + 1000], when=now)
                           for i in range(0, len(flows), 1000)]
                self.assertEqual(len(ingest(self.queryd.address, batches, timeout=120)),
                                 len(batches))
        self.assertEqual(pages, 46)
        self.assertEqual(len(walk), len(set(walk)), "a connection was listed twice")
        self.assertEqual(sorted(walk), list(range(1, self.COUNT + 2)))
        self.assertEqual(r.total, self.COUNT + 1)

    def test_bad_paging_requests_name_the_field(self):
        stub = self.stub()
        first = stub.ListConnections(self.request(page_size=10), timeout=30)
        cases = [
            (self.request(page_token="garbage!"), "page_token: not a token of this API"),
            (query_pb2.ListConnectionsRequest(page_token=first.next_page_token),
             "page_token: does not belong to this query"),
            (self.request(page_size=1001), "page_size: 1001 is outside 0..1000"),
            (self.request(page_size=10, limit=10), "limit: cannot be combined"),
            (self.request(page_size=10, order_by=query_pb2.ORDER_BY_BYTES),
             "order_by: cannot be combined"),
        ]
        for request, message in cases:
            with self.assertRaises(grpc.RpcError, msg=message) as caught:
                stub.ListConnections(request, timeout=30)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, message)
            self.assertTrue(caught.exception.details().startswith(message),
                            caught.exception.details())

    def test_rest_pages_through_the_same_fields_with_curl(self):
        base = "%s/v1/connections?filter.node=%s" % (self.queryd.http_url, self.NODE)
        out = subprocess.run(["curl", "-sS", "--fail-with-body", base + "&page_size=5000"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 22, out.stdout)  # HTTP 400
        self.assertEqual(json.loads(out.stdout)["code"], 3)  # INVALID_ARGUMENT
        self.assertIn("page_size: 5000 is outside", out.stdout)
        ports, token, pages = [], "", 0
        while pages < 100:
            url = base + "&pageSize=1000"  # lowerCamel as well
            if token:
                url += "&page_token=" + token  # base64url: safe in a URL as it is
            out = subprocess.run(["curl", "-sS", "--fail-with-body", url], capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout)
            page = json.loads(out.stdout)
            ports.extend(c["key"]["srcPort"] for c in page["connections"])
            pages += 1
            token = page.get("nextPageToken", "")
            if not token:
                break
        # The walk test may have run first and added port 45,001.
        self.assertEqual(len(ports), len(set(ports)), "a connection was listed twice")
        self.assertIn(sorted(ports), [list(range(1, self.COUNT + 1)),
                                      list(range(1, self.COUNT + 2))])


class QuerydCounterBoundTest(QuerydCase):
    """What one flow may claim is bounded (no more than a 2^38 bytes/s,
    2^33 packets/s link carries in its first-to-last-seen span plus 1 s), so
    totals never wrap to a small number."""

    NODE = "node-bound"
    # flows[0] spans 1 microsecond (wt.flow): 1.000001 s at the link rates.
    MAX_PACKETS = (2 ** 33 * 1_000_001_000) // 10 ** 9
    MAX_BYTES = (2 ** 38 * 1_000_001_000) // 10 ** 9

    @classmethod
    def setUpClass(cls):
        cls.queryd = wt.Queryd().start()
        cls.now = time.time()
        ingest(cls.queryd.address, [wt.batch("node-small", 1, [
            wt.flow(packets=3, nbytes=300, when=cls.now)], when=cls.now)])

    def totals(self):
        stub = self.stub()
        s = stub.GetStats(query_pb2.GetStatsRequest(), timeout=10)
        top = stub.TopTalkers(query_pb2.TopTalkersRequest(
            range=query_pb2.TimeRange(start=ts(self.now - 600), end=ts(self.now + 60)),
            group_by=query_pb2.GROUP_BY_NODE, order_by=query_pb2.ORDER_BY_PACKETS),
            timeout=10)
        nodes = {n.name: n.counters.packets_exported
                 for n in stub.ListNodes(query_pb2.ListNodesRequest(), timeout=10).nodes}
        return (s.total_packets, s.total_bytes,
                {t.node: (t.packets, t.bytes) for t in top.talkers}, nodes)

    def test_two_batches_of_2_63_packets_are_refused_and_totals_never_read_0(self):
        before = self.totals()
        self.assertGreaterEqual(before[0], 3)
        for seq in (1, 2):
            huge = wt.batch(self.NODE, seq, [wt.flow(packets=2 ** 63, nbytes=100, when=self.now)],
                            when=self.now)
            with self.assertRaises(grpc.RpcError) as caught:
                ingest(self.queryd.address, [huge])
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertTrue(caught.exception.details().startswith(
                "flows[0].packets: 9223372036854775808 is more than a link of 2^33 packets/s "
                "carries in 1.000001s"), caught.exception.details())
            self.assertIn("at most %d" % self.MAX_PACKETS, caught.exception.details())
        self.assertEqual(self.totals(), before)

    def test_flows_at_the_bound_are_stored_and_summed_exactly(self):
        node = self.NODE + "-max"
        batches = [wt.batch(node, seq, [wt.flow(packets=self.MAX_PACKETS, nbytes=self.MAX_BYTES,
                                                 when=self.now)], when=self.now)
                   for seq in (1, 2)]
        self.assertEqual([a.seq for a in ingest(self.queryd.address, batches)], [1, 2])
        packets, nbytes, top, nodes = self.totals()
        self.assertEqual(top[node], (2 * self.MAX_PACKETS, 2 * self.MAX_BYTES))
        self.assertEqual(nodes[node], 2 * self.MAX_PACKETS)
        self.assertEqual(packets, 3 + 2 * self.MAX_PACKETS)
        self.assertEqual(nbytes, 300 + 2 * self.MAX_BYTES)
        # One past the bound is refused, naming the field.
        over = wt.batch(node, 3, [wt.flow(packets=1, nbytes=self.MAX_BYTES + 1, when=self.now)],
                        when=self.now)
        with self.assertRaises(grpc.RpcError) as caught:
            ingest(self.queryd.address, [over])
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(caught.exception.details().startswith("flows[0].bytes: %d is more than"
                                                              % (self.MAX_BYTES + 1)))


class QuerydIngestAheadTest(QuerydCase):
    """Batches sent ahead of their acks, as a collector with a window does."""

    @classmethod
    def setUpClass(cls):
        cls.queryd = wt.Queryd().start()

    def flows_of(self, node):
        now = time.time()
        r = self.stub().ListFlows(query_pb2.ListFlowsRequest(
            range=query_pb2.TimeRange(start=ts(now - 600), end=ts(now + 1)),
            filter=query_pb2.FlowFilter(node=[node]), page_size=1000), timeout=10)
        self.assertEqual(r.next_page_token, "")
        return r.flows

    def test_batches_sent_ahead_of_their_acks_are_each_acked_in_order_and_stored_once(self):
        # The client sends without waiting, so queryd stores them in groups.
        now = time.time()
        batches = [wt.batch("node-e", seq, [
            wt.flow(protocol=TCP, src="192.0.2.20", dst="198.51.100.20", sport=40000 + seq,
                    dport=443, packets=seq, nbytes=100 * seq, when=now - 5)],
            when=now - 5) for seq in range(1, 301)]
        acks = ingest(self.queryd.address, batches)
        self.assertEqual([(a.seq, a.duplicate) for a in acks],
                         [(seq, False) for seq in range(1, 301)])
        flows = self.flows_of("node-e")
        self.assertEqual(len(flows), 300)
        self.assertEqual(sum(f.packets for f in flows), 300 * 301 // 2)
        nodes = {n.name: n for n in self.stub().ListNodes(
            query_pb2.ListNodesRequest(), timeout=10).nodes}
        self.assertEqual((nodes["node-e"].last_seq, nodes["node-e"].gaps), (300, 0))

    def test_a_malformed_batch_ends_the_stream_after_the_acks_of_those_before_it(self):
        now = time.time()

        def good(seq):
            return wt.batch("node-d", seq, [wt.flow(
                protocol=UDP, src="192.0.2.30", dst="198.51.100.30", sport=5000, dport=53,
                packets=seq, nbytes=60 * seq, when=now - 5)], when=now - 5)
        bad = good(3)
        bad.flows[0].src_addr = b"\x01\x02\x03\x04\x05"
        acks = []
        with grpc.insecure_channel(self.queryd.address) as channel:
            stub = wt.ingest_pb2_grpc.IngestServiceStub(channel)
            with self.assertRaises(grpc.RpcError) as caught:
                for ack in stub.Ingest(iter([good(1), good(2), bad, good(4)]), timeout=20):
                    acks.append(ack)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("flows[0].src_addr", caught.exception.details())
        self.assertEqual([(a.seq, a.duplicate) for a in acks], [(1, False), (2, False)])
        nodes = {n.name: n for n in self.stub().ListNodes(
            query_pb2.ListNodesRequest(), timeout=10).nodes}
        self.assertEqual(nodes["node-d"].last_seq, 2)
        flows = self.flows_of("node-d")
        self.assertEqual(sorted(f.packets for f in flows), [1, 2])
        # The batches from the malformed one on were not stored: sent again
        # (fixed), they are.
        acks = ingest(self.queryd.address, [good(3), good(4)])
        self.assertEqual([(a.seq, a.duplicate) for a in acks], [(3, False), (4, False)])

    def test_a_message_that_does_not_parse_ends_the_stream_with_invalid_argument(self):
        # Raw bytes on the Ingest method (a generic call, no serializers):
        # what a broken or hostile client can send. Before the fix the stream
        # ended OK with the message neither stored nor refused.
        now = time.time()
        unparsable = {
            "node-f": b"\x0a\x05ab",  # field 1 says 5 bytes, 2 follow
            "node-g": b"\x0a\x01\xff",  # node (a proto3 string) not UTF-8
            "node-h": b"\x0f",  # wire type 7 does not exist
        }
        for node, garbage in unparsable.items():
            with self.subTest(node=node):
                def good(seq):
                    return wt.batch(node, seq, [wt.flow(
                        protocol=UDP, src="192.0.2.40", dst="198.51.100.40", sport=5000,
                        dport=53, packets=seq, nbytes=60 * seq, when=now - 5)],
                        when=now - 5).SerializeToString()
                acks = []
                with grpc.insecure_channel(self.queryd.address) as channel:
                    ingest_raw = channel.stream_stream("/weir.v1.IngestService/Ingest")
                    with self.assertRaises(grpc.RpcError) as caught:
                        for raw in ingest_raw(iter([good(1), good(2), garbage, good(4)]),
                                              timeout=20):
                            acks.append(wt.ingest_pb2.Ack.FromString(raw))
                self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn("message 3 of the Ingest stream does not parse as "
                              "weir.v1.FlowBatch", caught.exception.details())
                self.assertEqual([(a.seq, a.duplicate) for a in acks],
                                 [(1, False), (2, False)])
                nodes = {n.name: n for n in self.stub().ListNodes(
                    query_pb2.ListNodesRequest(), timeout=10).nodes}
                self.assertEqual(nodes[node].last_seq, 2)
                self.assertEqual(sorted(f.packets for f in self.flows_of(node)), [1, 2])


def limit_file_size(limit):
    """A preexec_fn: the child's files cannot grow past `limit` bytes.

    SIGXFSZ is ignored (and stays so across exec), so a write past the limit
    fails with EFBIG instead of killing the process: a real I/O error.
    """
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


class QuerydHealthChangesTest(unittest.TestCase):
    def check(self, channel, service):
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=10).status

    def test_watch_sees_serving_then_not_serving_when_queryd_stops(self):
        queryd = wt.Queryd().start()
        self.addCleanup(queryd.kill)
        channel = grpc.insecure_channel(queryd.address)
        self.addCleanup(channel.close)
        watches = {s: Watch(channel, s) for s in ("", QUERY, INGEST)}
        for service, w in watches.items():
            self.assertTrue(w.wait_for(lambda w: w.statuses), service)
        self.assertEqual(queryd.stop(), 0)
        for service, w in watches.items():
            self.assertTrue(w.wait_for(lambda w: w.ended is not None), service)
            self.assertEqual((w.statuses, w.ended), ([SERVING, NOT_SERVING], grpc.StatusCode.OK),
                             service)

    def test_ingest_is_not_serving_while_the_store_cannot_write(self):
        # Files of at most 1 MB: the store's write-ahead log soon cannot grow.
        queryd = wt.Queryd(preexec_fn=limit_file_size(1_000_000)).start()
        self.addCleanup(queryd.kill)
        channel = grpc.insecure_channel(queryd.address)
        self.addCleanup(channel.close)
        ingest_watch, query_watch = Watch(channel, INGEST), Watch(channel, QUERY)
        self.assertTrue(ingest_watch.wait_for(lambda w: w.statuses))
        self.assertEqual([self.check(channel, s) for s in ("", INGEST, QUERY)], [SERVING] * 3)
        now = time.time()
        failure = None
        for seq in range(1, 100):  # 2,000 flows each: ~200 kB of log
            flows = [wt.flow(sport=1024 + i, dport=443, packets=1, when=now) for i in range(2000)]
            try:
                ingest(queryd.address, [wt.batch("node-full", seq, flows, when=now)])
            except grpc.RpcError as e:
                failure = e
                break
        self.assertIsNotNone(failure, "the store never failed a write")
        self.assertEqual(failure.code(), grpc.StatusCode.UNAVAILABLE, failure.details())
        self.assertIn("File too large", failure.details())
        self.assertTrue(ingest_watch.wait_for(lambda w: NOT_SERVING in w.statuses),
                        ingest_watch.statuses)
        self.assertEqual(ingest_watch.statuses, [SERVING, NOT_SERVING])
        self.assertEqual([self.check(channel, s) for s in ("", INGEST, QUERY)],
                         [NOT_SERVING, NOT_SERVING, SERVING])
        # Queries still answer, from what was stored, and their status never moved.
        stats = query_pb2_grpc.QueryServiceStub(channel).GetStats(
            query_pb2.GetStatsRequest(), timeout=10)
        self.assertEqual(stats.total_flows, 2000 * (seq - 1))
        self.assertEqual(query_watch.statuses, [SERVING])
        queryd.stop()


class QuerydPortsTest(unittest.TestCase):
    def test_a_second_queryd_on_the_same_ports_does_not_start(self):
        first = wt.Queryd().start()
        self.addCleanup(first.kill)
        for flag, taken, other in (("--grpc-address", first.port, "--http-address"),
                                   ("--http-address", first.http_port, "--grpc-address")):
            args = [wt.runfile("queryd/weir-queryd"), "--data-dir=" + wt.tmpdir("second-"),
                    "%s=127.0.0.1:%d" % (flag, taken), other + "=127.0.0.1:0"]
            if os.geteuid() == 0:
                args.append("--allow-root")
            p = subprocess.run(args, capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, p.stderr)
            lines = p.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn("%s 127.0.0.1:%d: port %d is already in use" % (flag, taken, taken),
                          lines[0])
        # Neither listener lets another socket share its port (SO_REUSEPORT).
        for port in (first.port, first.http_port):
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                with self.assertRaises(OSError) as caught:
                    s.bind(("127.0.0.1", port))
                self.assertEqual(caught.exception.errno, errno.EADDRINUSE, port)
        # The first one goes on serving.
        with grpc.insecure_channel(first.address) as channel:
            h = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                           timeout=10)
            self.assertEqual(h.status, SERVING)
        self.assertEqual(first.stop(), 0)


class QuerydRestartTest(unittest.TestCase):
    def test_restart_and_kill_lose_nothing_and_store_nothing_twice(self):
        queryd = wt.Queryd().start()
        self.addCleanup(queryd.kill)
        now = time.time()
        batches = wt.dataset(now)
        ingest(queryd.address, batches["node-a"])
        self.assertEqual(queryd.stop(), 0)

        queryd = wt.Queryd(queryd.data_dir).start()
        self.addCleanup(queryd.kill)
        acks = ingest(queryd.address, batches["node-a"] + batches["node-b"])
        self.assertEqual([a.duplicate for a in acks], [True] * 3 + [False] * 3)
        queryd.kill()  # SIGKILL right after the acks: acked means durable

        queryd = wt.Queryd(queryd.data_dir).start()
        self.addCleanup(queryd.kill)
        with grpc.insecure_channel(queryd.address) as channel:
            stub = query_pb2_grpc.QueryServiceStub(channel)
            s = stub.GetStats(query_pb2.GetStatsRequest(), timeout=10)
            self.assertEqual((s.total_packets, s.total_flows), (30, 7))
            r = stub.ListFlows(query_pb2.ListFlowsRequest(
                range=query_pb2.TimeRange(start=ts(now - 600), end=ts(now + 1)), page_size=100),
                timeout=10)
            self.assertEqual(sum(f.packets for f in r.flows), 30)
            # The rollups too: queryd sums them in memory and was killed
            # before writing them out, so they were redone from raw at
            # start. A window of whole minutes is answered from 1m.
            minutes = query_pb2.TimeRange(start=ts((now - 600) // 60 * 60),
                                          end=ts((now + 60) // 60 * 60 + 60))
            self.assertEqual(top_sources(stub, minutes), ("1m/src", TOP_SOURCES, 3))
        self.assertEqual(queryd.stop(), 0)

    def test_kill_after_the_rollups_went_out_loses_and_doubles_nothing(self):
        # A rollup read writes the buffer out first, into memtables only (it
        # skips the WAL); SIGKILL then loses that write, and with it the
        # deletion of its batches' pending records, so start-up redoes those
        # rollups from raw: once, not twice, and not never. The flows are 70
        # minutes old, so their hour has closed: the read of whole hours sums
        # it into h1 (also without the WAL), and after the kill again.
        queryd = wt.Queryd().start()
        self.addCleanup(queryd.kill)
        now = time.time() - 4200
        batches = wt.dataset(now)
        ingest(queryd.address, batches["node-a"] + batches["node-b"])
        minutes = query_pb2.TimeRange(start=ts((now - 600) // 60 * 60),
                                      end=ts((now + 60) // 60 * 60 + 60))
        hours = query_pb2.TimeRange(start=ts((now - 600) // 3600 * 3600),
                                    end=ts((now + 60) // 3600 * 3600 + 3600))

        def check(address):
            with grpc.insecure_channel(address) as channel:
                stub = query_pb2_grpc.QueryServiceStub(channel)
                for window, source in ((minutes, "1m/src"), (hours, "1h/src")):
                    self.assertEqual(top_sources(stub, window), (source, TOP_SOURCES, 3))

        check(queryd.address)
        queryd.kill()
        queryd = wt.Queryd(queryd.data_dir).start()
        self.addCleanup(queryd.kill)
        check(queryd.address)
        # And once more after a clean stop, which writes the memtables out.
        self.assertEqual(queryd.stop(), 0)
        queryd = wt.Queryd(queryd.data_dir).start()
        self.addCleanup(queryd.kill)
        check(queryd.address)
        self.assertEqual(queryd.stop(), 0)

    def test_bad_flags_get_one_line_and_exit_2(self):
        for flag, message in (
                ("--rollup-buffer-keys=-1", "--rollup-buffer-keys"),
                ("--rollup-buffer-keys=100000000", "--rollup-buffer-keys"),
                ("--rollup-flush-interval=0s", "--rollup-flush-interval"),
                ("--rollup-flush-interval=2h", "--rollup-flush-interval"),
                ("--max-page-size=0", "--max-page-size"),
                ("--retention-raw=10s", "--retention-raw")):
            p = subprocess.run([wt.runfile("queryd/weir-queryd"), "--allow-root", flag],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, (flag, p.stderr))
            self.assertIn(message, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
