#include "common/peer_counter.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace weir {
namespace {

TEST(PeerCounterTest, CapsPerPeerAndInTotal) {
  PeerCounter counter(/*max_total=*/3, /*max_per_peer=*/2);
  PeerCounter::Refusal refusal;
  std::vector<std::unique_ptr<PeerCounter::Slot>> slots;
  slots.push_back(counter.Acquire("192.0.2.1", &refusal));
  slots.push_back(counter.Acquire("192.0.2.1", &refusal));
  EXPECT_EQ(refusal, PeerCounter::Refusal::kNone);
  EXPECT_EQ(counter.Acquire("192.0.2.1", &refusal), nullptr);
  EXPECT_EQ(refusal, PeerCounter::Refusal::kPerPeer);
  slots.push_back(counter.Acquire("192.0.2.2", &refusal));
  ASSERT_NE(slots.back(), nullptr);
  EXPECT_EQ(counter.Acquire("192.0.2.3", &refusal), nullptr);
  EXPECT_EQ(refusal, PeerCounter::Refusal::kTotal);
  EXPECT_EQ(counter.total(), 3);
  slots.erase(slots.begin());  // one of 192.0.2.1's ends
  EXPECT_EQ(counter.of("192.0.2.1"), 1);
  EXPECT_NE(counter.Acquire("192.0.2.3", &refusal), nullptr);
  slots.clear();
  EXPECT_EQ(counter.total(), 0);
  EXPECT_EQ(counter.of("192.0.2.1"), 0);
}

TEST(PeerCounterTest, ZeroIsNoCap) {
  PeerCounter counter(0, 0);
  PeerCounter::Refusal refusal;
  std::vector<std::unique_ptr<PeerCounter::Slot>> slots;
  for (int i = 0; i < 100; ++i) {
    slots.push_back(counter.Acquire("192.0.2.1", &refusal));
    ASSERT_NE(slots.back(), nullptr);
  }
  EXPECT_EQ(counter.total(), 100);
}

}  // namespace
}  // namespace weir
