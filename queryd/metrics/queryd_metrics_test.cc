#include "queryd/metrics/queryd_metrics.h"

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queryd/stats_tracker.h"

namespace weir::queryd::metrics {
namespace {

using ::testing::HasSubstr;

// Sample lines of a scrape: "name{labels}" -> value.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    const std::string name(line.substr(0, space));
    const std::string value(line.substr(space + 1));
    samples[name] = std::strtod(value.c_str(), nullptr);
  }
  return samples;
}

double SumOf(const std::map<std::string, double>& samples,
             const std::string& name) {
  double sum = 0;
  for (const auto& [key, value] : samples) {
    if (key == name || absl::StartsWith(key, name + "{")) sum += value;
  }
  return sum;
}

store::FlowRecord Flow(const std::string& node, weir::v1::Direction direction,
                       uint8_t last_octet, uint64_t packets, uint64_t bytes) {
  store::FlowRecord flow;
  flow.node = node;
  flow.direction = direction;
  flow.src_addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
  flow.dst_addr = {0, 0, 0,    0,    0, 0, 0, 0,
                   0, 0, 0xff, 0xff, 8, 8, 8, last_octet};
  flow.packets = packets;
  flow.bytes = bytes;
  return flow;
}

weir::v1::FlowBatch Batch(const std::string& node, int flows) {
  weir::v1::FlowBatch batch;
  batch.set_node(node);
  for (int i = 0; i < flows; ++i) batch.add_flows();
  return batch;
}

TEST(QuerydMetricsTest, TrafficCountersAreExactAndPerIpSeriesSumToThem) {
  StatsTracker stats;
  QuerydMetrics metrics(MetricsSources{nullptr, &stats, nullptr, nullptr},
                        /*top_k=*/1);
  const std::vector<store::FlowRecord> a = {
      Flow("a", weir::v1::DIRECTION_EGRESS, 1, 10, 15000),
      Flow("a", weir::v1::DIRECTION_EGRESS, 2, 2, 180),
      Flow("a", weir::v1::DIRECTION_INGRESS, 3, 5, 700)};
  const std::vector<store::FlowRecord> b = {
      Flow("b", weir::v1::DIRECTION_EGRESS, 1, 1, 60)};
  metrics.OnStored(Batch("a", 3), a);
  metrics.OnStored(Batch("b", 1), b);
  stats.RecordBatch(Batch("a", 3));

  const std::string text = metrics.Scrape();
  const std::map<std::string, double> s = Samples(text);
  EXPECT_EQ(s.at(R"(weir_packets_total{direction="egress",node="a"})"), 12);
  EXPECT_EQ(s.at(R"(weir_packets_total{direction="ingress",node="a"})"), 5);
  EXPECT_EQ(s.at(R"(weir_packets_total{direction="egress",node="b"})"), 1);
  EXPECT_EQ(s.at(R"(weir_bytes_total{direction="egress",node="a"})"), 15180);
  EXPECT_EQ(s.at(R"(weir_flows_total{node="a"})"), 3);
  EXPECT_EQ(s.at("ayaflow_packets_total"), 18);
  EXPECT_EQ(s.at("ayaflow_bytes_total"), 15940);
  EXPECT_EQ(SumOf(s, "weir_ip_bytes_total"), 15940);
  EXPECT_EQ(SumOf(s, "network_traffic_bytes_total"), 15940);
  EXPECT_EQ(
      s.at(
          R"(weir_ip_bytes_total{direction="egress",dst_ip="8.8.8.1",ip_type="public",src_ip="10.0.0.1"})"),
      15060);
  EXPECT_EQ(s.at("weir_ingest_batches_total"), 1);
  EXPECT_EQ(s.at("weir_ingest_records_total"), 3);
  EXPECT_THAT(text, HasSubstr("# TYPE weir_packets_total counter"));
  EXPECT_THAT(text, HasSubstr("# TYPE weir_ingest_lag_seconds gauge"));
  EXPECT_GT(s.at("process_resident_memory_bytes"), 0);
  EXPECT_GT(s.at("process_open_fds"), 0);
  EXPECT_GT(s.at("process_start_time_seconds"), 1e9);
}

TEST(QuerydMetricsTest, HttpRequestsAndStreamClients) {
  QuerydMetrics metrics(MetricsSources{}, 20);
  metrics.ObserveHttpRequest("/v1/flows", 200, absl::Milliseconds(3));
  metrics.ObserveHttpRequest("/v1/flows", 200, absl::Milliseconds(30));
  metrics.ObserveHttpRequest("unmatched", 404, absl::Microseconds(100));
  metrics.StreamOpened();
  metrics.StreamOpened();
  metrics.StreamClosed();
  const std::map<std::string, double> s = Samples(metrics.Scrape());
  EXPECT_EQ(s.at(R"(weir_http_requests_total{code="200",route="/v1/flows"})"),
            2);
  EXPECT_EQ(s.at(R"(weir_http_requests_total{code="404",route="unmatched"})"),
            1);
  EXPECT_EQ(
      s.at(R"(weir_http_request_duration_seconds_count{route="/v1/flows"})"),
      2);
  EXPECT_EQ(
      s.at(
          R"(weir_http_request_duration_seconds_bucket{route="/v1/flows",le="0.005"})"),
      1);
  EXPECT_EQ(s.at("weir_stream_clients"), 1);
}

}  // namespace
}  // namespace weir::queryd::metrics
