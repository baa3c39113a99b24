#include "queryd/stats_tracker.h"

#include <cstdint>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "weir/v1/ingest.pb.h"

namespace weir::queryd {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

weir::v1::FlowBatch Batch(uint64_t packets, uint64_t bytes) {
  weir::v1::FlowBatch batch;
  weir::v1::IngestFlow* flow = batch.add_flows();
  flow->set_packets(packets);
  flow->set_bytes(bytes);
  return batch;
}

TEST(StatsTrackerTest, SumsBatches) {
  StatsTracker stats(kStart);
  stats.RecordBatch(Batch(3, 300), kStart + absl::Seconds(1));
  stats.RecordBatch(Batch(4, 400), kStart + absl::Seconds(1));
  const StatsTracker::Snapshot snapshot = stats.Take(kStart + absl::Seconds(2));
  EXPECT_EQ(snapshot.packets, 7u);
  EXPECT_EQ(snapshot.bytes, 700u);
  EXPECT_EQ(snapshot.flows, 2u);
  EXPECT_EQ(snapshot.batches, 2u);
}

TEST(StatsTrackerTest, TotalsAndRatesSaturateInsteadOfWrapping) {
  StatsTracker stats(kStart);
  constexpr uint64_t kHalf = uint64_t{1} << 63;
  stats.RecordBatch(Batch(kHalf, kHalf), kStart + absl::Seconds(1));
  stats.RecordBatch(Batch(kHalf, kHalf), kStart + absl::Seconds(2));
  const StatsTracker::Snapshot snapshot = stats.Take(kStart + absl::Seconds(3));
  EXPECT_EQ(snapshot.packets, ~uint64_t{0});
  EXPECT_EQ(snapshot.bytes, ~uint64_t{0});
  // Over the two seconds of the window: never the 0 a wrapped sum gives.
  EXPECT_GT(snapshot.packets_per_second, 1e18);
  EXPECT_GT(snapshot.bytes_per_second, 1e18);
}

}  // namespace
}  // namespace weir::queryd
