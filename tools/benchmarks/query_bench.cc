// Query latency at scale (tools/bench query): TopTalkers and TimeSeries over
// the last 1 h and 24 h of a store holding --flows generated flow records.
//
// The data set: --nodes collectors, each sending consecutive batches of 1000
// realistic flows (flow_generator.h: few heavy talkers, many light ones,
// heavy-tailed sizes) that together cover the 24 hours before a fixed "now"
// (2024-01-02T00:00:00Z). It is written through Store::WriteBatch into
// --data-dir (no fsync: loading is not what is measured), flushed and fully
// compacted, as a store whose background compaction has caught up. It is
// kept there with a description of how it was made and reused by the next
// run with the same parameters (--regenerate forces a new one).
//
// The queries go through QueryEngine in this process (what QueryService
// calls, without gRPC), with the engine's clock at the fixed "now". They
// run interleaved (one of each per iteration, after --warmup untimed
// iterations); each prints its p50 and p99 latency and the tier/view that
// answered (`source`). The `@17m23s` queries end at a "now" 17 min 23 s
// later, as "the last N hours" does on a live system: their windows are
// whole buckets in the middle and partial ones at the edges.
// --queries=NAME,... runs only those (e.g. under perf record).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "queryd/malloc_tuning.h"
#include "queryd/query/query_engine.h"
#include "queryd/store/store.h"
#include "tools/benchmarks/bench_main.h"
#include "tools/benchmarks/flow_generator.h"

ABSL_FLAG(std::string, data_dir, "", "folder of the data set (kept)");
ABSL_FLAG(int64_t, flows, 10000000, "flow records in the data set");
ABSL_FLAG(int, nodes, 4, "collectors in the data set");
ABSL_FLAG(bool, regenerate, false, "write a new data set even if one fits");
ABSL_FLAG(int, iterations, 60, "timed runs of each query");
ABSL_FLAG(int, warmup, 3, "untimed runs of each query first");
ABSL_FLAG(std::vector<std::string>, queries, {},
          "run only these queries (names as printed); all when empty");

namespace weir::bench {
namespace {

constexpr int kFlowsPerBatch = 1000;
constexpr int kFormat = 1;  // of the data set; bump when the generator changes
const absl::Time kNow = absl::FromUnixSeconds(1704153600);  // 2024-01-02
// A "now" on no bucket edge of any tier, for the @17m23s queries.
const absl::Time kUnalignedNow = kNow + absl::Minutes(17) + absl::Seconds(23);

using Clock = std::chrono::steady_clock;

std::string Describe(int64_t flows, int nodes) {
  return absl::StrCat("weir query_bench data set format=", kFormat,
                      " flows=", flows, " nodes=", nodes,
                      " end=", absl::ToUnixSeconds(kNow), "\n");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status Generate(const std::string& dir, int64_t flows, int nodes) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  std::filesystem::create_directories(dir, ignored);
  store::StoreOptions options;
  options.data_dir = dir + "/store";
  options.sync_writes = false;
  absl::StatusOr<std::unique_ptr<store::Store>> opened =
      store::Store::Open(options);
  if (!opened.ok()) return opened.status();
  store::Store& store = **opened;

  const int64_t batches = std::max<int64_t>(1, flows / kFlowsPerBatch);
  const int64_t per_node = (batches + nodes - 1) / nodes;
  // Each node's batches tile the 24 h before kNow.
  const int64_t day = int64_t{24} * 3600 * 1000000000;
  const int64_t interval = day / per_node;
  const int64_t start = absl::ToUnixNanos(kNow) - interval * per_node;
  std::vector<std::unique_ptr<FlowGenerator>> gens;
  for (int n = 0; n < nodes; ++n) {
    FlowGeneratorOptions gen;
    gen.seed = 100 + n;
    gens.push_back(std::make_unique<FlowGenerator>(gen));
  }
  const Clock::time_point began = Clock::now();
  int64_t written = 0;
  int last_percent = -1;
  for (int64_t i = 0; i < per_node && written < batches; ++i) {
    for (int n = 0; n < nodes && written < batches; ++n) {
      BatchShape shape;
      shape.node = absl::StrCat("node-", n);
      shape.seq = i + 1;
      shape.interval_start_unix_nano = start + i * interval;
      shape.interval_nanos = interval;
      shape.flows = kFlowsPerBatch;
      const weir::v1::FlowBatch batch = gens[n]->Batch(shape);
      absl::StatusOr<store::IngestResult> result = store.WriteBatch(
          batch, absl::FromUnixNanos(batch.interval_end_unix_nano()));
      if (!result.ok()) return result.status();
      ++written;
      const int percent = static_cast<int>(100 * written / batches);
      if (percent != last_percent && percent % 5 == 0) {
        last_percent = percent;
        const double s =
            std::chrono::duration<double>(Clock::now() - began).count();
        std::fprintf(stderr,
                     "  query data set: %3d %% (%lld flows, %.0f s, %.0f "
                     "flows/s)\n",
                     percent, static_cast<long long>(written) * kFlowsPerBatch,
                     s, written * kFlowsPerBatch / std::max(s, 1e-3));
      }
    }
  }
  std::fprintf(stderr, "  query data set: flushing and compacting\n");
  if (absl::Status s = store.Flush(); !s.ok()) return s;
  if (absl::Status s = store.Compact(); !s.ok()) return s;
  std::ofstream(dir + "/DATASET") << Describe(flows, nodes);
  return absl::OkStatus();
}

void SetRange(weir::v1::TimeRange* range, absl::Time end,
              absl::Duration window) {
  using google::protobuf::util::TimeUtil;
  *range->mutable_start() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(end - window));
  *range->mutable_end() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(end));
}

struct Query {
  std::string name;
  // Runs the query once; returns false on error. Sets source and size.
  std::function<bool(std::string* source, int* results)> run;
  std::vector<double> ms;
  std::string source;
  int results = 0;
};

// The answer's source into *source, or false (the failure reported) when
// there is no answer.
template <typename Response>
bool Answered(const absl::StatusOr<Response>& r, std::string* source) {
  if (!r.ok()) {
    Failed("query_bench", r.status());
    return false;
  }
  *source = r->source();
  return true;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  // Nearest rank.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

int Main(int argc, char** argv) {
  const CommandLineSpec spec = ParseBenchCommandLine(
      argc, argv, "query_bench",
      "TopTalkers/TimeSeries latency over 1 h and 24 h of a generated store.");
  const std::string dir = absl::GetFlag(FLAGS_data_dir);
  const int64_t flows = FlagInRange<int64_t>(
      spec, "flows", absl::GetFlag(FLAGS_flows), 1000, int64_t{1} << 36);
  const int nodes =
      FlagInRange(spec, "nodes", absl::GetFlag(FLAGS_nodes), 1, 64);
  const int iterations = FlagInRange(spec, "iterations",
                                     absl::GetFlag(FLAGS_iterations), 1, 10000);
  const int warmup =
      FlagInRange(spec, "warmup", absl::GetFlag(FLAGS_warmup), 0, 100);
  if (dir.empty()) {
    std::fprintf(stderr, "query_bench: --data-dir is required\n");
    return 2;
  }

  const bool fits = ReadFile(dir + "/DATASET") == Describe(flows, nodes);
  double generate_s = -1;  // reused
  if (!fits || absl::GetFlag(FLAGS_regenerate)) {
    std::fprintf(stderr, "  query data set: writing %lld flows into %s\n",
                 static_cast<long long>(flows), dir.c_str());
    const Clock::time_point began = Clock::now();
    if (absl::Status s = Generate(dir, flows, nodes); !s.ok()) {
      return Failed("query_bench", s);
    }
    generate_s = std::chrono::duration<double>(Clock::now() - began).count();
  } else {
    std::fprintf(stderr, "  query data set: reusing %s\n", dir.c_str());
  }

  store::StoreOptions options;
  options.data_dir = dir + "/store";
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<store::Store>> opened =
      store::Store::Open(options);
  if (!opened.ok()) {
    return Failed("query_bench", opened.status());
  }
  query::QueryEngineOptions engine_options;
  engine_options.clock = [] { return kNow; };
  query::QueryEngine engine(**opened, engine_options);
  query::QueryEngineOptions unaligned_options;
  unaligned_options.clock = [] { return kUnalignedNow; };
  query::QueryEngine unaligned_engine(**opened, unaligned_options);

  struct Window {
    std::string label;
    const query::QueryEngine* engine;
    absl::Time end;
    absl::Duration length;
  };
  const Window windows[] = {
      {"1h", &engine, kNow, absl::Hours(1)},
      {"24h", &engine, kNow, absl::Hours(24)},
      // tools/bench labels a row by the name's last "_" part: "24h@17m23s".
      {"1h@17m23s", &unaligned_engine, kUnalignedNow, absl::Hours(1)},
      {"24h@17m23s", &unaligned_engine, kUnalignedNow, absl::Hours(24)},
  };
  const std::vector<std::string> only = absl::GetFlag(FLAGS_queries);
  std::vector<Query> queries;
  const auto add = [&](std::string name, auto run) {
    if (only.empty() ||
        std::find(only.begin(), only.end(), name) != only.end()) {
      queries.push_back({std::move(name), std::move(run)});
    }
  };
  for (const Window& w : windows) {
    add(absl::StrCat("top_src_", w.label),
        [w](std::string* source, int* results) {
          weir::v1::TopTalkersRequest request;
          SetRange(request.mutable_range(), w.end, w.length);
          request.set_group_by(weir::v1::GROUP_BY_SRC);
          request.set_order_by(weir::v1::ORDER_BY_BYTES);
          request.set_limit(10);
          absl::StatusOr<weir::v1::TopTalkersResponse> r =
              w.engine->TopTalkers(request);
          if (!Answered(r, source)) return false;
          *results = r->talkers_size();
          return true;
        });
    for (const bool grouped : {false, true}) {
      add(absl::StrCat(grouped ? "series_by_src_" : "series_", w.label),
          [w, grouped](std::string* source, int* results) {
            weir::v1::TimeSeriesRequest request;
            SetRange(request.mutable_range(), w.end, w.length);
            if (grouped) {
              request.set_group_by(weir::v1::GROUP_BY_SRC);
              request.set_limit(10);
            }
            absl::StatusOr<weir::v1::TimeSeriesResponse> r =
                w.engine->TimeSeries(request);
            if (!Answered(r, source)) return false;
            int points = 0;
            for (const auto& s : r->series()) points += s.points_size();
            *results = points;
            return true;
          });
    }
  }
  // Raw flows: the newest page, and a walk of a whole hour for a filter
  // nothing matches (the generator never uses destination port 9).
  for (const bool nothing : {false, true}) {
    const Window& w = windows[0];
    add(nothing ? "flows_nomatch_1h" : "flows_1h",
        [w, nothing](std::string* source, int* results) {
          weir::v1::ListFlowsRequest request;
          SetRange(request.mutable_range(), w.end, w.length);
          request.set_page_size(100);
          if (nothing) request.mutable_filter()->add_dst_port(9);
          absl::StatusOr<weir::v1::ListFlowsResponse> r =
              w.engine->ListFlows(request);
          if (!Answered(r, source)) return false;
          *results = r->flows_size();
          return true;
        });
  }
  if (queries.empty()) {
    std::fprintf(stderr, "query_bench: --queries matches no query\n");
    return 2;
  }

  std::fprintf(stderr, "  query: %d queries x %d runs (+%d warm-up)\n",
               static_cast<int>(queries.size()), iterations, warmup);
  for (int i = 0; i < warmup + iterations; ++i) {
    for (Query& q : queries) {
      const Clock::time_point t0 = Clock::now();
      if (!q.run(&q.source, &q.results)) return 1;
      const double ms =
          std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (i >= warmup) q.ms.push_back(ms);
    }
  }
  std::printf("dataset flows=%lld nodes=%d generated_s=%s size_mb=%.0f\n",
              static_cast<long long>(flows), nodes,
              generate_s < 0
                  ? "reused"
                  : absl::StrCat(static_cast<int64_t>(generate_s)).c_str(),
              (*opened)->ApproximateSize() / 1048576.0);
  for (const Query& q : queries) {
    std::printf(
        "query name=%s p50_ms=%.2f p99_ms=%.2f runs=%zu source=%s "
        "results=%d\n",
        q.name.c_str(), Percentile(q.ms, 50), Percentile(q.ms, 99), q.ms.size(),
        q.source.c_str(), q.results);
  }
  return 0;
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) {
  // The engine and store as weir-queryd runs them: the same allocator
  // settings.
  weir::queryd::TuneMalloc();
  return weir::bench::Main(argc, argv);
}
