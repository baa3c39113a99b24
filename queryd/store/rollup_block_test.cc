#include "queryd/store/rollup_block.h"

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "queryd/store/store_types.h"
#include "queryd/store/totals_test_util.h"

namespace weir::store {
namespace {

Totals MakeTotals(uint64_t n) {
  return {n * 100, n * 3, n, 1000 + n, 5000 + n, false};
}

std::string Block(size_t key_size, const std::map<std::string, Totals>& in,
                  bool damaged = false) {
  BlockBuilder builder(key_size);
  for (const auto& [key, totals] : in) builder.Add(key, totals);
  if (damaged) builder.MarkDamaged();
  return std::string{builder.value()};
}

TEST(RollupBlockTest, FixedSizeKeysRoundTripAndAreFound) {
  std::map<std::string, Totals> in;
  for (uint64_t i = 0; i < 50; ++i) {
    in[std::string(3, static_cast<char>(i * 5))] = MakeTotals(i + 1);
  }
  const std::string value = Block(3, in);
  // Header 8 bytes, entries 3 + 40 each.
  EXPECT_EQ(value.size(), 8 + 50 * 43u);
  RollupBlock block;
  ASSERT_TRUE(block.Parse(value));
  ASSERT_EQ(block.size(), 50u);
  EXPECT_EQ(block.key_size(), 3u);
  EXPECT_FALSE(block.damaged());
  size_t i = 0;
  for (const auto& [key, totals] : in) {
    EXPECT_EQ(block.key(i), key);
    ExpectTotals(block.totals(i), totals);
    EXPECT_EQ(block.Find(key), i);
    ++i;
  }
  EXPECT_EQ(block.Find(std::string(3, '\x01')), block.size());
  EXPECT_EQ(block.Find(std::string(3, '\xff')), block.size());
  EXPECT_EQ(block.Find(""), block.size());
}

TEST(RollupBlockTest, VariableSizeKeysRoundTrip) {
  const std::map<std::string, Totals> in = {
      {"", MakeTotals(1)},
      {std::string("\x00\x00\x00\x01\x01", 5), MakeTotals(2)},
      {std::string("\x00\x00\x00\x01\x01", 5) + "eth0", MakeTotals(3)},
      {std::string(255, 'x'), MakeTotals(4)},
  };
  const std::string value = Block(0, in, /*damaged=*/true);
  RollupBlock block;
  ASSERT_TRUE(block.Parse(value));
  ASSERT_EQ(block.size(), in.size());
  EXPECT_TRUE(block.damaged());
  size_t i = 0;
  for (const auto& [key, totals] : in) {
    EXPECT_EQ(block.key(i), key);
    Totals want = totals;
    want.damaged = true;
    ExpectTotals(block.totals(i), want);
    EXPECT_EQ(block.Find(key), i);
    ++i;
  }
}

TEST(RollupBlockTest, RefusesWhatIsNotAWholeBlock) {
  const std::string fixed = Block(16, {{std::string(16, 'a'), MakeTotals(1)},
                                       {std::string(16, 'b'), MakeTotals(2)}});
  const std::string variable =
      Block(0, {{"a", MakeTotals(1)}, {"bcd", MakeTotals(2)}});
  RollupBlock block;
  for (const std::string& value : {fixed, variable}) {
    ASSERT_TRUE(block.Parse(value));
    for (size_t cut = 0; cut < value.size(); ++cut) {
      EXPECT_FALSE(block.Parse(value.substr(0, cut))) << cut;
    }
    EXPECT_FALSE(block.Parse(value + "x"));
    std::string bad = value;
    bad[0] = 9;  // version
    EXPECT_FALSE(block.Parse(bad));
    bad = value;
    bad[1] = 1;  // kind: totals
    EXPECT_FALSE(block.Parse(bad));
    bad = value;
    bad[7] = static_cast<char>(bad[7] + 1);  // count
    EXPECT_FALSE(block.Parse(bad));
  }
  // A count far beyond the bytes is refused before anything is reserved.
  std::string huge = variable;
  huge[4] = '\x7f';
  EXPECT_FALSE(block.Parse(huge));
  // An empty block is a block.
  BlockBuilder empty(4);
  EXPECT_TRUE(block.Parse(empty.value()));
  EXPECT_TRUE(block.empty());
}

TEST(RollupBlockTest, MergeSumsEqualKeysOfEveryBlockInKeyOrder) {
  std::mt19937_64 random(7);
  std::map<std::string, Totals> want;
  std::vector<std::string> values;
  for (int b = 0; b < 9; ++b) {
    std::map<std::string, Totals> in;
    const int n = b == 4 ? 0 : static_cast<int>(random() % 200);
    for (int i = 0; i < n; ++i) {
      // Keys of 2 bytes from a small pool, so blocks share many.
      const uint16_t k = static_cast<uint16_t>(random() % 300);
      const std::string key = {static_cast<char>(k >> 8), static_cast<char>(k)};
      const Totals totals = MakeTotals(random() % 1000 + 1);
      in[key] += totals;
      want[key] += totals;
    }
    values.push_back(Block(2, in, /*damaged=*/b == 7));
  }
  std::vector<RollupBlock> blocks(values.size());
  std::vector<const RollupBlock*> runs;
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_TRUE(blocks[i].Parse(values[i]));
    runs.push_back(&blocks[i]);
  }
  std::vector<std::pair<std::string, Totals>> got;
  MergeBlocks(runs, [&](absl::string_view key, const Totals& totals) {
    got.emplace_back(std::string{key}, totals);
    return true;
  });
  ASSERT_EQ(got.size(), want.size());
  size_t i = 0;
  for (const auto& [key, totals] : want) {
    SCOPED_TRACE(i);
    EXPECT_EQ(got[i].first, key);
    EXPECT_EQ(got[i].second.bytes, totals.bytes);
    EXPECT_EQ(got[i].second.flows, totals.flows);
    EXPECT_EQ(got[i].second.first_seen_unix_nano, totals.first_seen_unix_nano);
    EXPECT_EQ(got[i].second.last_seen_unix_nano, totals.last_seen_unix_nano);
    ++i;
  }
  // Stops when emit says so.
  int seen = 0;
  MergeBlocks(runs,
              [&](absl::string_view, const Totals&) { return ++seen < 3; });
  EXPECT_EQ(seen, 3);
  // One block: as it is.
  int single = 0;
  MergeBlocks(absl::MakeConstSpan(runs).subspan(0, 1),
              [&](absl::string_view, const Totals&) {
                ++single;
                return true;
              });
  EXPECT_EQ(single, static_cast<int>(blocks[0].size()));
}

TEST(RollupBlockTest, KeyLessIsByteOrder) {
  const std::vector<std::string> keys = {
      "",
      std::string(1, '\0'),
      std::string("\x00\x01", 2),
      "a",
      "abcdefgh",
      "abcdefgh\x01",
      "abcdefgi",
      std::string(16, '\x7f'),
      std::string(16, '\x80'),
      std::string(32, '\xff'),
  };
  for (const std::string& a : keys) {
    for (const std::string& b : keys) {
      EXPECT_EQ(KeyLess(a, b), a < b)
          << absl::CEscape(a) << " " << absl::CEscape(b);
    }
  }
}

}  // namespace
}  // namespace weir::store
