#include "queryd/store/retention_timer.h"

#include <memory>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "queryd/store/store.h"
#include "queryd/store/store_test_util.h"

namespace weir::store {
namespace {

constexpr uint64_t kStart = 1700000000 * kNanosPerSecondForTests;

class RetentionTimerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.data_dir = ScratchDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    options.sync_writes = false;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  int RawFlows() {
    int n = 0;
    RawScan scan;
    scan.range = {absl::InfinitePast(), absl::InfiniteFuture()};
    EXPECT_TRUE(store_
                    ->ScanRaw(scan,
                              [&](const FlowRecord&, absl::string_view) {
                                ++n;
                                return true;
                              })
                    .ok());
    return n;
  }

  std::unique_ptr<Store> store_;
};

TEST_F(RetentionTimerTest, RunsRetentionEveryInterval) {
  BatchSpec spec;
  spec.interval_start_unix_nano = kStart;
  ASSERT_TRUE(
      store_->WriteBatch(MakeBatch(spec), absl::FromUnixNanos(kStart)).ok());
  ASSERT_EQ(RawFlows(), 10);

  absl::Mutex mu;
  int runs = 0;
  absl::Status last;
  {
    RetentionTimer::Options options;
    options.interval = absl::Milliseconds(5);
    // A day and a minute later: the raw tier's retention has passed.
    options.now = [] {
      return absl::FromUnixNanos(kStart) + absl::Hours(24) + absl::Minutes(1);
    };
    options.on_run = [&](const absl::Status& status) {
      absl::MutexLock lock(&mu);
      ++runs;
      last = status;
    };
    RetentionTimer timer(store_.get(), options);
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](int* n) { return *n >= 3; }, &runs),
                                    absl::Seconds(30)));
    EXPECT_TRUE(last.ok()) << last;
  }
  EXPECT_EQ(RawFlows(), 0);
  // The 1m and 1h tiers keep the flows.
  int minute_entries = 0;
  ASSERT_TRUE(store_
                  ->ScanRollup(Tier::kMinute, View::kProtocol,
                               {absl::InfinitePast(), absl::InfiniteFuture()},
                               [&](const RollupEntry&) {
                                 ++minute_entries;
                                 return true;
                               })
                  .ok());
  EXPECT_GT(minute_entries, 0);
}

TEST_F(RetentionTimerTest, StopsPromptlyWithALongInterval) {
  RetentionTimer::Options options;
  options.interval = absl::Hours(1);
  const absl::Time start = absl::Now();
  { RetentionTimer timer(store_.get(), options); }
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace weir::store
