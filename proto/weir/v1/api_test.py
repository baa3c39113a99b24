"""Checks the v1 API contract as a gRPC client outside Weir's C++ sees it.

Loads the generated Python modules (python3-protobuf, python3-grpcio from
Debian) and reads the services' descriptors: every QueryService call of the
design has its google.api.http route, the seeds' paths are bound, and every
message and field is documented in the .proto source.
"""
import os
import re
import sys
import unittest

from google.api import annotations_pb2
from weir.v1 import flow_pb2, ingest_pb2, ingest_pb2_grpc, query_pb2, query_pb2_grpc

HERE = os.path.dirname(os.path.abspath(__file__))

# docs/design.md §6: call -> (primary GET path, seed paths bound as additional_bindings)
EXPECTED_ROUTES = {
    "Health": ("/v1/health", ["/api/health"]),
    "GetStats": ("/v1/stats", ["/api/stats"]),
    "ListFlows": ("/v1/flows", ["/api/history"]),
    "TopTalkers": ("/v1/top", []),
    "TimeSeries": ("/v1/timeseries", []),
    "ListConnections": ("/v1/connections", ["/api/live"]),
    "ListNodes": ("/v1/nodes", []),
    "WatchFlows": ("/v1/flows:watch", []),
    "WatchStats": ("/v1/stats:watch", ["/api/stream"]),
}


def http_rule(method):
    return method.GetOptions().Extensions[annotations_pb2.http]


class QueryServiceRoutesTest(unittest.TestCase):
    def test_every_call_has_its_route(self):
        service = query_pb2.DESCRIPTOR.services_by_name["QueryService"]
        self.assertEqual(sorted(m.name for m in service.methods), sorted(EXPECTED_ROUTES))
        for method in service.methods:
            primary, seeds = EXPECTED_ROUTES[method.name]
            rule = http_rule(method)
            self.assertEqual(rule.get, primary, method.name)
            self.assertEqual([b.get for b in rule.additional_bindings], seeds, method.name)

    def test_streams_are_server_streams(self):
        service = query_pb2.DESCRIPTOR.services_by_name["QueryService"]
        for method in service.methods:
            streaming = method.name.startswith("Watch")
            # The descriptor has no streaming flag in this protobuf; the
            # generated stub class knows: unary calls are UnaryUnary.
            stub = query_pb2_grpc.QueryServiceStub(_FakeChannel())
            kind = getattr(stub, method.name).kind
            self.assertEqual(kind, "unary_stream" if streaming else "unary_unary", method.name)

    def test_ingest_is_bidirectional_and_not_on_rest(self):
        service = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"]
        (method,) = service.methods
        self.assertEqual(method.name, "Ingest")
        self.assertFalse(method.GetOptions().HasExtension(annotations_pb2.http))
        stub = ingest_pb2_grpc.IngestServiceStub(_FakeChannel())
        self.assertEqual(stub.Ingest.kind, "stream_stream")


class WireContractTest(unittest.TestCase):
    def test_loss_reasons_are_pinned(self):
        # These numbers cross the kernel/user boundary and reach disk.
        self.assertEqual(flow_pb2.LOSS_REASON_NON_IP, 1)
        self.assertEqual(flow_pb2.LOSS_REASON_MAP_FULL, 8)
        self.assertEqual(flow_pb2.LOSS_REASON_SPOOL_FULL, 11)
        self.assertEqual(flow_pb2.LOSS_REASON_REJECTED, 12)

    def test_batch_round_trips(self):
        batch = ingest_pb2.FlowBatch(node="n1", epoch=7, seq=3)
        flow = batch.flows.add(direction=flow_pb2.DIRECTION_EGRESS, protocol=17,
                               src_addr=bytes([192, 0, 2, 1]), dst_addr=bytes([198, 51, 100, 2]),
                               src_port=5000, dst_port=53, packets=2, bytes=180)
        batch.counters.packets_seen = 2
        batch.counters.packets_exported = 2
        again = ingest_pb2.FlowBatch.FromString(batch.SerializeToString())
        self.assertEqual(again, batch)
        self.assertEqual(again.flows[0].dst_port, flow.dst_port)


class DocumentationTest(unittest.TestCase):
    def test_every_message_enum_value_and_field_has_a_comment(self):
        for name in ("flow.proto", "ingest.proto", "query.proto"):
            with open(os.path.join(HERE, name)) as f:
                lines = f.read().splitlines()
            undocumented = []
            for i, line in enumerate(lines):
                stripped = line.strip()
                declares = re.match(r"(message|enum|service|rpc)\s+\w+", stripped) or re.match(
                    r"(repeated\s+)?[\w.]+\s+\w+\s*=\s*\d+;", stripped) or re.match(
                    r"[A-Z0-9_]+\s*=\s*\d+;", stripped)
                if declares and not lines[i - 1].strip().startswith("//"):
                    undocumented.append(f"{name}:{i + 1}: {stripped}")
            self.assertEqual(undocumented, [])


class _FakeChannel:
    """Records which multicallable kind a stub asks for; never sends."""

    def unary_unary(self, *a, **k):
        return _Kind("unary_unary")

    def unary_stream(self, *a, **k):
        return _Kind("unary_stream")

    def stream_unary(self, *a, **k):
        return _Kind("stream_unary")

    def stream_stream(self, *a, **k):
        return _Kind("stream_stream")


class _Kind:
    def __init__(self, kind):
        self.kind = kind


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
