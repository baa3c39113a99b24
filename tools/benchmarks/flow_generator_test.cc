#include "tools/benchmarks/flow_generator.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "queryd/store/batch_validator.h"

namespace weir::bench {
namespace {

BatchShape Shape(uint64_t seq) {
  BatchShape shape;
  shape.seq = seq;
  shape.interval_start_unix_nano = uint64_t{1700000000} * 1000000000;
  return shape;
}

TEST(FlowGeneratorTest, BatchesPassValidation) {
  FlowGenerator gen(FlowGeneratorOptions{});
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    const weir::v1::FlowBatch batch = gen.Batch(Shape(seq));
    EXPECT_EQ(batch.flows_size(), 1000);
    EXPECT_TRUE(store::ValidateBatch(batch).ok())
        << store::ValidateBatch(batch);
  }
}

TEST(FlowGeneratorTest, SameSeedSameBatch) {
  FlowGenerator a(FlowGeneratorOptions{});
  FlowGenerator b(FlowGeneratorOptions{});
  EXPECT_EQ(a.Batch(Shape(1)).SerializeAsString(),
            b.Batch(Shape(1)).SerializeAsString());
}

TEST(FlowGeneratorTest, FewHostsCarryMostFlowsAndBytes) {
  FlowGenerator gen(FlowGeneratorOptions{});
  std::map<std::string, uint64_t> flows, bytes;
  uint64_t total_bytes = 0;
  int total_flows = 0;
  for (uint64_t seq = 1; seq <= 50; ++seq) {
    const weir::v1::FlowBatch batch = gen.Batch(Shape(seq));
    for (const weir::v1::IngestFlow& f : batch.flows()) {
      ++flows[f.src_addr()];
      bytes[f.src_addr()] += f.bytes();
      total_bytes += f.bytes();
      ++total_flows;
    }
  }
  auto top10_share = [](const std::map<std::string, uint64_t>& by_host,
                        double total) {
    std::vector<uint64_t> values;
    values.reserve(by_host.size());
    for (const auto& [host, v] : by_host) values.push_back(v);
    std::sort(values.rbegin(), values.rend());
    double top = 0;
    for (size_t i = 0; i < 10 && i < values.size(); ++i) top += values[i];
    return top / total;
  };
  // Thousands of distinct sources, yet the top ten carry a large share.
  EXPECT_GT(flows.size(), 5000u);
  EXPECT_GT(top10_share(flows, total_flows), 0.2);
  EXPECT_GT(top10_share(bytes, static_cast<double>(total_bytes)), 0.3);
}

TEST(FlowGeneratorTest, RestampMovesEveryTime) {
  FlowGenerator gen(FlowGeneratorOptions{});
  weir::v1::FlowBatch batch = gen.Batch(Shape(1));
  const weir::v1::FlowBatch before = batch;
  FlowGenerator::Restamp(batch, 9, 5000);
  EXPECT_EQ(batch.seq(), 9u);
  EXPECT_EQ(batch.interval_start_unix_nano(),
            before.interval_start_unix_nano() + 5000);
  EXPECT_EQ(batch.flows(3).last_seen_unix_nano(),
            before.flows(3).last_seen_unix_nano() + 5000);
  EXPECT_TRUE(store::ValidateBatch(batch).ok());
}

}  // namespace
}  // namespace weir::bench
