// WriteBatch throughput: flow records per second into the store, in batches
// of 1000 flows from 16 nodes, as collectors send them. Not a test:
//   bazel run -c opt //queryd/store:store_bench
//   bazel run -c opt //queryd/store:store_bench -- --benchmark_filter=Sync
// items_per_second is flows per second of wall-clock time (fsync waits
// included). Data goes under $TEST_TMPDIR or /tmp.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "queryd/store/store.h"
#include "queryd/store/store_test_util.h"

namespace weir::store {
namespace {

constexpr int kNodes = 16;
constexpr int kFlowsPerBatch = 1000;
constexpr int kDistinctBatches = 64;

void WriteBatches(benchmark::State& state, bool sync) {
  StoreOptions options;
  options.data_dir = ScratchDir(absl::StrCat("store_bench_", sync));
  options.sync_writes = sync;
  absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(options);
  if (!opened.ok()) {
    state.SkipWithError(opened.status().ToString().c_str());
    return;
  }
  Store& store = **opened;

  // Generated up front; each write gets its own (node, seq) and interval.
  std::vector<weir::v1::FlowBatch> batches;
  batches.reserve(kDistinctBatches);
  for (int i = 0; i < kDistinctBatches; ++i) {
    BatchSpec spec;
    spec.flows = kFlowsPerBatch;
    spec.seed = i + 1;
    spec.address_pool = 200;
    batches.push_back(MakeBatch(spec));
  }
  const uint64_t start = 1700000000 * kNanosPerSecondForTests;
  std::vector<uint64_t> seq(kNodes, 0);
  std::vector<std::string> nodes;
  nodes.reserve(kNodes);
  for (int n = 0; n < kNodes; ++n) nodes.push_back(absl::StrCat("node-", n));

  int64_t written = 0;
  while (state.KeepRunningBatch(1)) {
    state.PauseTiming();
    const int node = written % kNodes;
    weir::v1::FlowBatch& batch = batches[written % kDistinctBatches];
    batch.set_node(nodes[node]);
    batch.set_seq(++seq[node]);
    // One second per batch and node: flows move through minutes and hours.
    const int64_t shift =
        static_cast<int64_t>(start + seq[node] * kNanosPerSecondForTests -
                             batch.interval_start_unix_nano());
    batch.set_interval_start_unix_nano(batch.interval_start_unix_nano() +
                                       shift);
    batch.set_interval_end_unix_nano(batch.interval_end_unix_nano() + shift);
    for (weir::v1::IngestFlow& flow : *batch.mutable_flows()) {
      flow.set_first_seen_unix_nano(flow.first_seen_unix_nano() + shift);
      flow.set_last_seen_unix_nano(flow.last_seen_unix_nano() + shift);
    }
    const absl::Time received =
        absl::FromUnixNanos(batch.interval_end_unix_nano());
    state.ResumeTiming();
    absl::StatusOr<IngestResult> result = store.WriteBatch(batch, received);
    if (!result.ok() || result->duplicate()) {
      state.SkipWithError(result.ok() ? "duplicate"
                                      : result.status().ToString().c_str());
      return;
    }
    ++written;
  }
  state.SetItemsProcessed(written * kFlowsPerBatch);
  state.counters["size_MB"] =
      static_cast<double>(store.ApproximateSize()) / (1 << 20);
}

void BM_WriteBatch(benchmark::State& state) { WriteBatches(state, false); }
void BM_WriteBatchSync(benchmark::State& state) { WriteBatches(state, true); }

BENCHMARK(BM_WriteBatch)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(5)
    ->UseRealTime();
BENCHMARK(BM_WriteBatchSync)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(5)
    ->UseRealTime();

}  // namespace
}  // namespace weir::store

BENCHMARK_MAIN();
