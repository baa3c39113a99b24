#include "queryd/store/node_admission.h"

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace weir::store {
namespace {

using Outcome = IngestResult::Outcome;

struct Case {
  std::string name;
  HighWater node;
  uint64_t epoch;
  uint64_t seq;
  Outcome outcome;
  uint64_t skipped_seqs;
};

std::ostream& operator<<(std::ostream& os, const Case& c) {
  return os << c.name;
}

class AdmitTest : public testing::TestWithParam<Case> {};

TEST_P(AdmitTest, DecidesOutcomeAndGaps) {
  const Case& c = GetParam();
  const Admission admission = Admit(c.node, c.epoch, c.seq);
  EXPECT_EQ(admission.outcome, c.outcome);
  EXPECT_EQ(admission.skipped_seqs, c.skipped_seqs);
}

constexpr HighWater kUnknown = {};
// Epoch 7, high-water seq 10.
constexpr HighWater kAt7_10 = {true, 7, 10};

INSTANTIATE_TEST_SUITE_P(
    Table, AdmitTest,
    testing::Values(
        Case{"FirstBatch", kUnknown, 7, 1, Outcome::kStored, 0},
        // The first batch sets the high-water wherever it starts.
        Case{"FirstBatchLateSeq", kUnknown, 7, 42, Outcome::kStored, 0},
        Case{"FirstBatchEpochZero", kUnknown, 0, 1, Outcome::kStored, 0},
        Case{"NextSeq", kAt7_10, 7, 11, Outcome::kStored, 0},
        Case{"Gap", kAt7_10, 7, 14, Outcome::kStored, 3},
        Case{"ReplayOfHighWater", kAt7_10, 7, 10, Outcome::kDuplicate, 0},
        Case{"ReplayBelowHighWater", kAt7_10, 7, 1, Outcome::kDuplicate, 0},
        Case{"OlderEpoch", kAt7_10, 6, 11, Outcome::kStaleEpoch, 0},
        // An older epoch is stale even below its old high-water.
        Case{"OlderEpochOldSeq", kAt7_10, 6, 1, Outcome::kStaleEpoch, 0},
        Case{"NewerEpochFromOne", kAt7_10, 8, 1, Outcome::kStored, 0},
        // A restart whose first batches were lost: seqs before it are gaps.
        Case{"NewerEpochLaterSeq", kAt7_10, 8, 5, Outcome::kStored, 4},
        // The new epoch's seqs start again, whatever the old high-water.
        Case{"RestartBelowOldHighWater", kAt7_10, 9, 3, Outcome::kStored, 2},
        Case{"RestartFromEpochZero", {true, 0, 3}, 1, 1, Outcome::kStored, 0}),
    [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

// A run of batches, each admitted against the high-water the stored ones
// before it left: what WriteBatches does for one node.
TEST(AdmitSequenceTest, ReplayAfterRestartIsDroppedOnce) {
  HighWater node;
  struct Step {
    uint64_t epoch;
    uint64_t seq;
    Outcome outcome;
  };
  const std::vector<Step> steps = {
      {1, 1, Outcome::kStored},    {1, 2, Outcome::kStored},
      {1, 2, Outcome::kDuplicate}, {1, 1, Outcome::kDuplicate},
      {2, 1, Outcome::kStored},    {1, 3, Outcome::kStaleEpoch},
      {2, 2, Outcome::kStored},    {2, 2, Outcome::kDuplicate},
  };
  uint64_t gaps = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Admission admission = Admit(node, steps[i].epoch, steps[i].seq);
    EXPECT_EQ(admission.outcome, steps[i].outcome) << "step " << i;
    if (admission.outcome != Outcome::kStored) continue;
    gaps += admission.skipped_seqs;
    node = {true, steps[i].epoch, steps[i].seq};
  }
  EXPECT_EQ(gaps, 0u);
  EXPECT_EQ(node.epoch, 2u);
  EXPECT_EQ(node.seq, 2u);
}

}  // namespace
}  // namespace weir::store
