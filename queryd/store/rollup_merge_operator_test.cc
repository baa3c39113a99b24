#include "queryd/store/rollup_merge_operator.h"

#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/rollup_block.h"
#include "queryd/store/totals_test_util.h"
#include "queryd/store/value_codec.h"

namespace weir::store {
namespace {

std::string FlowKey() {
  RollupKey key;
  key.bucket_start_sec = 1700000040;
  key.view = View::kProtocol;
  key.protocol = 6;
  return EncodeRollupKey(key);
}

std::string CountersKey() {
  RollupKey key;
  key.bucket_start_sec = 1700000040;
  key.view = View::kNodeCounters;
  key.node_id = 1;
  return EncodeRollupKey(key);
}

std::string TotalsValue(const Totals& totals) {
  std::string out;
  AppendTotalsValue(totals, &out);
  return out;
}

std::string CountersValue(const CounterVector& counters) {
  std::string out;
  AppendCountersValue(counters, /*damaged=*/false, &out);
  return out;
}

Totals DecodeTotals(const std::string& value) {
  Totals totals;
  EXPECT_TRUE(DecodeTotalsValue(value, &totals));
  return totals;
}

class RollupMergeOperatorTest : public ::testing::Test {
 protected:
  // FullMergeV2 over `operands`, with an optional existing value.
  bool FullMerge(const std::string& key, const std::string* existing,
                 const std::vector<std::string>& operands,
                 std::string* result) const {
    std::vector<rocksdb::Slice> slices(operands.begin(), operands.end());
    const rocksdb::Slice key_slice(key);
    rocksdb::Slice existing_slice;
    if (existing != nullptr) existing_slice = *existing;
    rocksdb::MergeOperator::MergeOperationInput in(
        key_slice, existing != nullptr ? &existing_slice : nullptr, slices,
        nullptr);
    rocksdb::Slice existing_operand;
    rocksdb::MergeOperator::MergeOperationOutput out(*result, existing_operand);
    return op_.FullMergeV2(in, &out);
  }

  bool PartialMergeMulti(const std::string& key,
                         const std::vector<std::string>& operands,
                         std::string* result) const {
    std::deque<rocksdb::Slice> slices(operands.begin(), operands.end());
    return op_.PartialMergeMulti(key, slices, result, nullptr);
  }

  RollupMergeOperator op_;
};

std::string PortBlockKey() {
  std::string key;
  AppendBlockKey({1700000040, View::kDstPort, 3}, &key);
  return key;
}

// A block of 3-byte (port view) keys.
std::string PortBlock(const std::map<std::string, Totals>& entries) {
  BlockBuilder builder(ViewKeySize(View::kDstPort));
  for (const auto& [key, totals] : entries) builder.Add(key, totals);
  return std::string{builder.value()};
}

std::map<std::string, Totals> BlockEntries(const std::string& value,
                                           bool* damaged) {
  RollupBlock block;
  EXPECT_TRUE(block.Parse(value));
  *damaged = block.damaged();
  std::map<std::string, Totals> out;
  for (size_t i = 0; i < block.size(); ++i) {
    out[std::string{block.key(i)}] = block.totals(i);
  }
  return out;
}

TEST_F(RollupMergeOperatorTest, BlocksMergeAsSortedRunsInAnyGrouping) {
  std::mt19937_64 random(5);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string> operands;
    std::map<std::string, Totals> expected;
    const int n = 2 + random() % 6;
    for (int i = 0; i < n; ++i) {
      std::map<std::string, Totals> entries;
      const int count = random() % 40;
      for (int e = 0; e < count; ++e) {
        const std::string key = {6, 0, static_cast<char>(random() % 60)};
        const uint64_t first = 1 + random() % 1000;
        const Totals t = {random() % 100000,
                          random() % 1000,
                          1,
                          first,
                          first + random() % 1000,
                          false};
        entries[key] += t;
        expected[key] += t;
      }
      operands.push_back(PortBlock(entries));
    }
    std::string all;
    ASSERT_TRUE(FullMerge(PortBlockKey(), nullptr, operands, &all));
    const size_t split = 1 + random() % (operands.size() - 1);
    std::string left, right, combined;
    ASSERT_TRUE(PartialMergeMulti(
        PortBlockKey(), {operands.begin(), operands.begin() + split}, &left));
    ASSERT_TRUE(PartialMergeMulti(
        PortBlockKey(), {operands.begin() + split, operands.end()}, &right));
    ASSERT_TRUE(FullMerge(PortBlockKey(), &right, {left}, &combined));
    for (const std::string& value : {all, combined}) {
      bool damaged = true;
      const std::map<std::string, Totals> got = BlockEntries(value, &damaged);
      EXPECT_FALSE(damaged);
      ASSERT_EQ(got.size(), expected.size());
      for (const auto& [key, totals] : expected) {
        ExpectTotals(got.at(key), totals);
      }
    }
  }
}

TEST_F(RollupMergeOperatorTest, AnUndecodableBlockIsDroppedAndFlagged) {
  const std::string good =
      PortBlock({{std::string("\x06\x00\x50", 3), {5, 1, 1, 40, 45, false}}});
  // A block of another view's key size under a port view key.
  BlockBuilder wrong_size(16);
  wrong_size.Add(std::string(16, 'a'), {1, 1, 1, 1, 1, false});
  const std::string other(wrong_size.value());
  std::string result;
  EXPECT_FALSE(PartialMergeMulti(PortBlockKey(), {good, other}, &result));
  EXPECT_FALSE(
      op_.PartialMerge(PortBlockKey(), good, "junk", &result, nullptr));
  ASSERT_TRUE(
      FullMerge(PortBlockKey(), nullptr, {good, "junk", other, good}, &result));
  bool damaged = false;
  const std::map<std::string, Totals> got = BlockEntries(result, &damaged);
  EXPECT_TRUE(damaged);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->second.bytes, 10u);
  // Per-entry totals are not blocks either.
  ASSERT_TRUE(FullMerge(PortBlockKey(), nullptr,
                        {good, TotalsValue({5, 1, 1, 40, 45, false})},
                        &result));
  EXPECT_EQ(BlockEntries(result, &damaged).begin()->second.bytes, 5u);
  EXPECT_TRUE(damaged);
}

TEST_F(RollupMergeOperatorTest, NameIsPinned) {
  EXPECT_STREQ(op_.Name(), "weir.RollupMergeOperator");
}

TEST_F(RollupMergeOperatorTest, FullMergeAddsTotals) {
  const std::string existing = TotalsValue({100, 10, 1, 50, 60, false});
  std::string result;
  ASSERT_TRUE(FullMerge(FlowKey(), &existing,
                        {TotalsValue({5, 1, 1, 40, 45, false}),
                         TotalsValue({7, 2, 3, 55, 70, false})},
                        &result));
  ExpectTotals(DecodeTotals(result), {112, 13, 5, 40, 70, false});
}

TEST_F(RollupMergeOperatorTest, FullMergeSaturatesInsteadOfWrapping) {
  constexpr uint64_t kHalf = uint64_t{1} << 63;
  const std::string existing = TotalsValue({kHalf, kHalf, 1, 50, 60, false});
  std::string result;
  ASSERT_TRUE(FullMerge(FlowKey(), &existing,
                        {TotalsValue({kHalf, kHalf, 1, 40, 45, false}),
                         TotalsValue({7, 2, 3, 55, 70, false})},
                        &result));
  const Totals totals = DecodeTotals(result);
  EXPECT_EQ(totals.bytes, ~uint64_t{0});
  EXPECT_EQ(totals.packets, ~uint64_t{0});
  EXPECT_EQ(totals.flows, 5u);
}

TEST_F(RollupMergeOperatorTest, FullMergeWithoutExistingValue) {
  std::string result;
  ASSERT_TRUE(FullMerge(FlowKey(), nullptr,
                        {TotalsValue({5, 1, 1, 40, 45, false})}, &result));
  EXPECT_EQ(DecodeTotals(result).bytes, 5u);
}

TEST_F(RollupMergeOperatorTest, MergeIsAssociativeAndCommutative) {
  std::mt19937_64 random(11);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> operands;
    Totals expected;
    const int n = 2 + random() % 8;
    for (int i = 0; i < n; ++i) {
      const uint64_t first = 1 + random() % 1000;
      const Totals t = {random() % 100000,       random() % 1000,
                        1 + random() % 5,        first,
                        first + random() % 1000, false};
      expected += t;
      operands.push_back(TotalsValue(t));
    }
    // One full merge of everything.
    std::string all;
    ASSERT_TRUE(FullMerge(FlowKey(), nullptr, operands, &all));
    // Partial merges of a random split, then a full merge of the parts in
    // reverse order.
    const size_t split = 1 + random() % (operands.size() - 1);
    std::string left, right, combined;
    ASSERT_TRUE(PartialMergeMulti(
        FlowKey(), {operands.begin(), operands.begin() + split}, &left));
    ASSERT_TRUE(PartialMergeMulti(
        FlowKey(), {operands.begin() + split, operands.end()}, &right));
    ASSERT_TRUE(FullMerge(FlowKey(), &right, {left}, &combined));
    // Pairwise partial merges left to right.
    std::string folded = operands[0];
    for (size_t i = 1; i < operands.size(); ++i) {
      std::string next;
      ASSERT_TRUE(
          op_.PartialMerge(FlowKey(), folded, operands[i], &next, nullptr));
      folded = next;
    }
    for (const std::string& value : {all, combined, folded}) {
      ExpectTotals(DecodeTotals(value), expected);
    }
  }
}

TEST_F(RollupMergeOperatorTest, CountersOfDifferentLengthsAdd) {
  const std::string existing = CountersValue({1, 2, 3, 4});
  std::string result;
  ASSERT_TRUE(FullMerge(CountersKey(), &existing,
                        {CountersValue({10, 20, 30, 40, 0, 0, 0, 0, 0, 0,
                                        0,  0,  0,  0,  0, 0, 0, 0, 5, 500}),
                         CountersValue({1})},
                        &result));
  CounterVector counters;
  bool damaged = true;
  ASSERT_TRUE(DecodeCountersValue(result, &counters, &damaged));
  EXPECT_FALSE(damaged);
  ASSERT_EQ(counters.size(), 20u);
  EXPECT_EQ(counters[0], 12u);
  EXPECT_EQ(counters[3], 44u);
  EXPECT_EQ(counters[LossPacketsSlot(8)], 5u);
  EXPECT_EQ(counters[LossBytesSlot(8)], 500u);

  std::string partial;
  ASSERT_TRUE(PartialMergeMulti(
      CountersKey(), {CountersValue({1, 1}), CountersValue({2})}, &partial));
  ASSERT_TRUE(DecodeCountersValue(partial, &counters, &damaged));
  EXPECT_EQ(counters, (CounterVector{3, 1}));
}

TEST_F(RollupMergeOperatorTest, ChecksTheVersionByte) {
  std::string newer = TotalsValue({1000, 1000, 1000, 1, 2, false});
  newer[0] = kRollupValueVersion + 1;
  const std::string good = TotalsValue({5, 1, 1, 40, 45, false});
  std::string result;
  // A partial merge refuses: RocksDB keeps the operands as they are.
  EXPECT_FALSE(PartialMergeMulti(FlowKey(), {good, newer}, &result));
  EXPECT_FALSE(op_.PartialMerge(FlowKey(), newer, good, &result, nullptr));
  // A full merge keeps every good operand and flags the loss.
  ASSERT_TRUE(FullMerge(FlowKey(), nullptr, {good, newer, good}, &result));
  const Totals totals = DecodeTotals(result);
  EXPECT_EQ(totals.bytes, 10u);
  EXPECT_EQ(totals.flows, 2u);
  EXPECT_TRUE(totals.damaged);
}

TEST_F(RollupMergeOperatorTest, CorruptExistingValueIsDroppedAndFlagged) {
  const std::string corrupt = "\x01\x01";
  std::string result;
  ASSERT_TRUE(FullMerge(FlowKey(), &corrupt,
                        {TotalsValue({5, 1, 1, 40, 45, false})}, &result));
  const Totals totals = DecodeTotals(result);
  EXPECT_EQ(totals.bytes, 5u);
  EXPECT_TRUE(totals.damaged);
}

TEST_F(RollupMergeOperatorTest, DamageFlagSurvivesLaterMerges) {
  std::string damaged;
  ASSERT_TRUE(FullMerge(
      FlowKey(), nullptr,
      {std::string("junk"), TotalsValue({5, 1, 1, 40, 45, false})}, &damaged));
  std::string result;
  ASSERT_TRUE(PartialMergeMulti(
      FlowKey(), {damaged, TotalsValue({1, 1, 1, 1, 1, false})}, &result));
  EXPECT_TRUE(DecodeTotals(result).damaged);
  EXPECT_EQ(DecodeTotals(result).bytes, 6u);
}

TEST_F(RollupMergeOperatorTest, KindMustMatchTheKeysView) {
  std::string result;
  // Counters under a flow view key, totals under a counters key.
  EXPECT_FALSE(PartialMergeMulti(
      FlowKey(), {CountersValue({1}), TotalsValue({1, 1, 1, 1, 1, false})},
      &result));
  ASSERT_TRUE(FullMerge(
      FlowKey(), nullptr,
      {CountersValue({1}), TotalsValue({1, 1, 1, 1, 1, false})}, &result));
  EXPECT_TRUE(DecodeTotals(result).damaged);
  EXPECT_EQ(DecodeTotals(result).bytes, 1u);

  ASSERT_TRUE(FullMerge(
      CountersKey(), nullptr,
      {TotalsValue({1, 1, 1, 1, 1, false}), CountersValue({4})}, &result));
  CounterVector counters;
  bool damaged = false;
  ASSERT_TRUE(DecodeCountersValue(result, &counters, &damaged));
  EXPECT_TRUE(damaged);
  EXPECT_EQ(counters, (CounterVector{4}));
}

TEST_F(RollupMergeOperatorTest, RandomBytesNeverCrash) {
  std::mt19937_64 random(5);
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::string> operands;
    const int n = 1 + random() % 4;
    for (int i = 0; i < n; ++i) {
      std::string bytes(random() % 60, '\0');
      for (char& c : bytes) c = static_cast<char>(random());
      // Sometimes a plausible header, so decoding gets further.
      if (!bytes.empty() && random() % 2 == 0) bytes[0] = kRollupValueVersion;
      if (bytes.size() > 1 && random() % 2 == 0) bytes[1] = 1 + random() % 2;
      operands.push_back(bytes);
    }
    const std::string key = random() % 2 == 0 ? FlowKey() : CountersKey();
    std::string result;
    EXPECT_TRUE(FullMerge(key, nullptr, operands, &result));
    RollupKind kind;
    EXPECT_TRUE(PeekRollupKind(result, &kind));
    PartialMergeMulti(key, operands, &result);
  }
}

}  // namespace
}  // namespace weir::store
