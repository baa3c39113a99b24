// Crashes that leave rollups only in memory or unlogged memtables
// (rollup_recovery.h), through the store's interface.

#include "queryd/store/store_test_fixture.h"

namespace weir::store {
namespace {

TEST_P(StoreTest, ACrashLosesNoRollups) {
  // A child process writes batches and exits without closing the store, so
  // whatever the rollup buffer held is only in the pending records.
  store_.reset();
  const auto spec_of = [](uint64_t seq) {
    BatchSpec spec = SpacedBatch(seq, 97, 30);
    spec.node = seq % 2 == 0 ? "node-a" : "node-b";
    spec.map_full_packets = seq % 4;
    return spec;
  };
  CrashAfter([&](Store& store) {
    for (uint64_t seq = 1; seq <= 60; ++seq) {
      const weir::v1::FlowBatch batch = MakeBatch(spec_of(seq));
      if (!store.WriteBatch(batch, AtNanos(batch.interval_end_unix_nano()))
               .ok()) {
        return 2;
      }
      // Half-way the buffer goes out, to memtables only (no WAL): the
      // crash loses that write too, pending deletions included.
      if (seq == 30 && !store.FlushRollups().ok()) return 3;
    }
    return 0;
  });

  std::vector<std::string> progress;
  options_.progress = [&](absl::string_view line) {
    progress.emplace_back(line);
  };
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  if (options_.rollup_buffer_keys == 0) {
    // Written through: every batch's rollups went with it.
    EXPECT_TRUE(progress.empty()) << progress[0];
  } else {
    // Every batch: each buffer write before the crash was lost with it.
    ASSERT_EQ(progress.size(), 2u);
    EXPECT_EQ(progress[0],
              "rolling up 60 batches again from raw flows: the store was not "
              "closed cleanly and their rollups had not reached disk");
    EXPECT_TRUE(
        absl::StartsWith(progress[1], "rolled up 60 batches (1800 flows) in "))
        << progress[1];
  }
  const std::vector<FlowRecord> raw = Raw();
  ASSERT_EQ(raw.size(), 60u * 30);
  const auto check = [&](absl::string_view when) {
    ExpectRollupsOf(raw, when);
    for (Tier tier : {Tier::kMinute, Tier::kHour}) {
      uint64_t lost = 0;
      for (const auto& [key, counters] : Counters(tier)) {
        lost += counters.lost_packets();
      }
      uint64_t expected_lost = 0;
      for (uint64_t seq = 1; seq <= 60; ++seq) expected_lost += seq % 4;
      EXPECT_EQ(lost, expected_lost) << when << " " << TierName(tier);
    }
  };
  check("after recovery");
  // Recovered once: the pending records went with the recovered rollups.
  progress.clear();
  Reopen();
  options_.progress = nullptr;
  EXPECT_TRUE(progress.empty()) << progress[0];
  check("after a second open");
}

TEST_P(StoreTest, ACrashAfterRetentionLosesNoRollups) {
  // A batch's rollups go out without the WAL, then retention deletes the
  // raw flows a recovery of them would read, then the process dies. The
  // rollups must have reached disk before that deletion.
  options_.retention.raw = absl::Hours(1);
  options_.retention.minute = absl::Hours(3);
  options_.retention.hour = absl::Hours(10);
  store_.reset();
  const uint64_t now_ns = kHourNs + 30 * 60 * kSecond;
  // In raw when written, past raw's cutoff a minute later.
  const uint64_t seen_ns = now_ns - 3600 * kSecond + 5 * kSecond;
  const weir::v1::FlowBatch batch = OneFlowBatch(1, seen_ns, 7);
  CrashAfter([&](Store& store) {
    if (!store.WriteBatch(batch, AtNanos(now_ns)).ok()) return 2;
    if (!store.FlushRollups().ok()) return 3;
    if (!store.EnforceRetention(AtNanos(now_ns + 60 * kSecond)).ok()) {
      return 4;
    }
    return 0;
  });

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_TRUE(Raw().empty());
  const std::vector<FlowRecord> flows = FlowRecordsOf(batch);
  ExpectRollupsOf(flows);
}

}  // namespace
}  // namespace weir::store
