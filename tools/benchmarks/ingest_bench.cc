// Flow records per second into Weir's store, two ways (tools/bench ingest):
//
//   --mode=grpc    a collector-shaped client: one IngestService stream per
//                  node (--streams), batches of --flows realistic flows sent
//                  in order with up to --window unacknowledged (as the
//                  collector's Shipper does), every ack awaited, into a
//                  running weir-queryd at --address;
//   --mode=direct  the same batches, from the same number of threads, straight
//                  into Store::WriteBatches in this process, --window at a
//                  time (as queryd stores what a stream sent ahead of its
//                  acks) (--data-dir, a fresh folder), with queryd's store
//                  options (--sync like queryd: every write fsyncs its WAL).
//
// Batches are generated before the clock starts (--templates per stream,
// then sent again with a new seq and times --templates intervals later, so
// every send is a new batch to the store; with the default 60, every minute
// of a node's data is distinct batches). Runs for --seconds, then waits for
// the acks still outstanding and for the store's rollup buffer to be written
// out (direct: Store::FlushRollups; gRPC: a TimeSeries query, which flushes
// it first), all on the clock: a record counts once it is durable and in
// every rollup. Prints: records=N batches=B seconds=S records_per_s=R
//
//   --mode=stats   prints weir-queryd's GetStats totals: total_packets=...
//                  total_flows=... (the wire benchmark's cross-check).
//
// Crash recovery (tools/bench ingest): --mode=direct --crash quits at the end
// of --seconds without writing the rollup buffer out or closing the store,
// as a crash would; --mode=open then opens --data-dir as queryd does (the
// store's progress lines on stderr) and prints open_seconds=S.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "queryd/malloc_tuning.h"
#include "queryd/store/store.h"
#include "tools/benchmarks/bench_main.h"
#include "tools/benchmarks/flow_generator.h"
#include "weir/v1/ingest.grpc.pb.h"
#include "weir/v1/query.grpc.pb.h"

ABSL_FLAG(std::string, mode, "grpc", "grpc, direct, open or stats");
ABSL_FLAG(bool, crash, false,
          "direct mode: quit at the end without writing the rollup buffer out "
          "or closing the store, as a crash would");
ABSL_FLAG(std::string, address, "127.0.0.1:7701", "weir-queryd gRPC address");
ABSL_FLAG(std::string, data_dir, "", "store folder (direct and open modes)");
ABSL_FLAG(bool, sync, true, "fsync every write (direct mode; queryd does)");
ABSL_FLAG(int, streams, 2, "nodes, each one stream (or writer thread)");
ABSL_FLAG(int, window, 8,
          "unacknowledged batches per stream (grpc); batches per write "
          "(direct)");
ABSL_FLAG(int, flows, 1000, "flows per batch");
ABSL_FLAG(int, templates, 60,
          "distinct generated batches per stream (generated before the "
          "clock starts: ~150 bytes per flow each)");
ABSL_FLAG(double, seconds, 5, "how long to send (at most 600)");
ABSL_FLAG(uint64_t, seed, 1, "generator seed");
ABSL_FLAG(std::string, ca, "",
          "PEM CA of queryd's certificate: TLS to queryd (grpc and stats)");
ABSL_FLAG(std::string, client_cert, "",
          "PEM client certificate (mutual TLS; its SANs name bench-0, ...)");
ABSL_FLAG(std::string, client_key, "", "PEM key of --client-cert");

namespace weir::bench {
namespace {

constexpr int64_t kSecond = 1000000000;

using Clock = std::chrono::steady_clock;

// One node's batches: a few generated ones, re-sent as consecutive
// one-second intervals ending before now.
class NodeBatches {
 public:
  NodeBatches(int node, int templates, int flows, uint64_t seed)
      : node_(absl::StrCat("bench-", node)) {
    FlowGeneratorOptions options;
    options.seed = seed * 1000 + node;
    FlowGenerator gen(options);
    // Two hours back: a run never catches up with now (raw keeps 24 h).
    base_ = absl::ToUnixNanos(absl::Now()) - 2 * 3600 * kSecond;
    for (int i = 0; i < templates; ++i) {
      BatchShape shape;
      shape.node = node_;
      shape.seq = i + 1;
      shape.interval_start_unix_nano = base_ + i * kSecond;
      shape.flows = flows;
      batches_.push_back(gen.Batch(shape));
    }
  }

  // The batch of `seq` (from 1): a template moved to its interval.
  weir::v1::FlowBatch& Next(uint64_t seq) {
    weir::v1::FlowBatch& batch = batches_[(seq - 1) % batches_.size()];
    const int64_t want = base_ + static_cast<int64_t>(seq - 1) * kSecond;
    FlowGenerator::Restamp(
        batch, seq,
        want - static_cast<int64_t>(batch.interval_start_unix_nano()));
    return batch;
  }

 private:
  std::string node_;
  int64_t base_;
  std::vector<weir::v1::FlowBatch> batches_;
};

struct Totals {
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<bool> failed{false};
};

void Fail(Totals& totals, const std::string& what) {
  if (!totals.failed.exchange(true)) {
    std::fprintf(stderr, "ingest_bench: %s\n", what.c_str());
  }
}

void GrpcStream(weir::v1::IngestService::Stub& stub, NodeBatches& node,
                int window, Clock::time_point end, Totals& totals) {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<weir::v1::FlowBatch, weir::v1::Ack>>
      stream = stub.Ingest(&context);
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  bool reader_done = false;

  std::thread reader([&] {
    weir::v1::Ack ack;
    while (stream->Read(&ack)) {
      if (ack.duplicate()) Fail(totals, "queryd acked a batch as duplicate");
      totals.batches.fetch_add(1);
      std::lock_guard<std::mutex> lock(mu);
      --in_flight;
      cv.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu);
    reader_done = true;
    cv.notify_all();
  });

  for (uint64_t seq = 1; Clock::now() < end && !totals.failed; ++seq) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < window || reader_done; });
      if (reader_done) break;
      ++in_flight;
    }
    weir::v1::FlowBatch& batch = node.Next(seq);
    if (!stream->Write(batch)) {
      Fail(totals, "the ingest stream broke while writing");
      break;
    }
  }
  stream->WritesDone();
  {
    // Every batch sent is acked before the clock stops (bounded: the
    // stream ends when queryd goes away).
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(60),
                [&] { return in_flight == 0 || reader_done; });
    if (in_flight != 0) Fail(totals, "acks missing at the end");
  }
  reader.join();
  grpc::Status status = stream->Finish();
  if (!status.ok()) {
    Fail(totals, absl::StrCat("stream ended: ", status.error_message()));
  }
}

// `window` batches per Store::WriteBatches (at most --templates: each is a
// template restamped in place).
void DirectWriter(store::Store& store, NodeBatches& node, int window,
                  Clock::time_point end, Totals& totals) {
  std::vector<const weir::v1::FlowBatch*> group;
  for (uint64_t seq = 1; Clock::now() < end && !totals.failed;) {
    group.clear();
    for (int i = 0; i < window; ++i) group.push_back(&node.Next(seq++));
    for (const absl::StatusOr<store::IngestResult>& result :
         store.WriteBatches(group, absl::Now())) {
      if (!result.ok()) {
        Fail(totals, result.status().ToString());
        return;
      }
      if (result->duplicate()) Fail(totals, "the store saw a duplicate");
      totals.batches.fetch_add(1);
    }
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Plaintext without --ca; TLS (mutual with --client-cert) otherwise.
std::shared_ptr<grpc::ChannelCredentials> Credentials() {
  if (absl::GetFlag(FLAGS_ca).empty()) {
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadAll(absl::GetFlag(FLAGS_ca));
  if (!absl::GetFlag(FLAGS_client_cert).empty()) {
    ssl.pem_cert_chain = ReadAll(absl::GetFlag(FLAGS_client_cert));
    ssl.pem_private_key = ReadAll(absl::GetFlag(FLAGS_client_key));
  }
  return grpc::SslCredentials(ssl);
}

int Stats(const std::string& address) {
  auto channel = grpc::CreateChannel(address, Credentials());
  auto stub = weir::v1::QueryService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  weir::v1::Stats stats;
  grpc::Status status =
      stub->GetStats(&context, weir::v1::GetStatsRequest(), &stats);
  if (!status.ok()) {
    std::fprintf(stderr, "ingest_bench: GetStats: %s\n",
                 status.error_message().c_str());
    return 1;
  }
  std::printf("total_packets=%llu total_bytes=%llu total_flows=%llu\n",
              static_cast<unsigned long long>(stats.total_packets()),
              static_cast<unsigned long long>(stats.total_bytes()),
              static_cast<unsigned long long>(stats.total_flows()));
  return 0;
}

// Store options as queryd sets them (queryd/server.cc), for `data_dir`.
store::StoreOptions QuerydStoreOptions(const std::string& data_dir) {
  store::StoreOptions options;
  options.data_dir = data_dir;
  options.progress = [](absl::string_view line) {
    std::fprintf(stderr, "ingest_bench: %.*s\n", static_cast<int>(line.size()),
                 line.data());
  };
  return options;
}

// Opens (and closes) the store in `data_dir`: open_seconds=S.
int OpenStore(const std::string& data_dir) {
  if (data_dir.empty()) {
    std::fprintf(stderr, "ingest_bench: --data-dir is required\n");
    return 2;
  }
  const Clock::time_point start = Clock::now();
  absl::StatusOr<std::unique_ptr<store::Store>> opened =
      store::Store::Open(QuerydStoreOptions(data_dir));
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - start).count();
  if (!opened.ok()) {
    return Failed("ingest_bench", opened.status());
  }
  std::printf("open_seconds=%.3f\n", elapsed);
  return 0;
}

// Makes the store write its rollup buffer out: directly, or through a
// query that reads rollups (every TimeSeries reads its losses from them).
absl::Status FlushRollups(store::Store* store,
                          const std::shared_ptr<grpc::Channel>& channel) {
  if (store != nullptr) return store->FlushRollups();
  auto stub = weir::v1::QueryService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(120));
  weir::v1::TimeSeriesResponse response;
  const grpc::Status status =
      stub->TimeSeries(&context, weir::v1::TimeSeriesRequest(), &response);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  const CommandLineSpec spec = ParseBenchCommandLine(
      argc, argv, "ingest_bench",
      "Flow records/s through weir-queryd's IngestService or straight into "
      "its Store.");
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "stats") return Stats(absl::GetFlag(FLAGS_address));
  if (mode == "open") return OpenStore(absl::GetFlag(FLAGS_data_dir));
  const int streams =
      FlagInRange(spec, "streams", absl::GetFlag(FLAGS_streams), 1, 64);
  const int window =
      FlagInRange(spec, "window", absl::GetFlag(FLAGS_window), 1, 1000);
  const int flows =
      FlagInRange(spec, "flows", absl::GetFlag(FLAGS_flows), 1, 100000);
  const int templates =
      FlagInRange(spec, "templates", absl::GetFlag(FLAGS_templates), 1, 3600);
  const double seconds =
      FlagInRange(spec, "seconds", absl::GetFlag(FLAGS_seconds), 0.1, 600.0);
  if (mode != "grpc" && mode != "direct") {
    std::fprintf(stderr,
                 "ingest_bench: --mode must be grpc, direct, open or stats\n");
    return 2;
  }
  if (mode == "direct" && window > templates) {
    std::fprintf(stderr,
                 "ingest_bench: --window must be at most --templates (%d) in "
                 "direct mode\n",
                 templates);
    return 2;
  }
  const bool crash = absl::GetFlag(FLAGS_crash);
  if (crash && mode != "direct") {
    std::fprintf(stderr, "ingest_bench: --crash needs --mode=direct\n");
    return 2;
  }

  std::vector<std::unique_ptr<NodeBatches>> nodes;
  nodes.reserve(streams);
  for (int i = 0; i < streams; ++i) {
    nodes.push_back(std::make_unique<NodeBatches>(i, templates, flows,
                                                  absl::GetFlag(FLAGS_seed)));
  }

  std::unique_ptr<store::Store> store;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<weir::v1::IngestService::Stub> stub;
  if (mode == "direct") {
    store::StoreOptions options =
        QuerydStoreOptions(absl::GetFlag(FLAGS_data_dir));
    options.sync_writes = absl::GetFlag(FLAGS_sync);
    if (options.data_dir.empty()) {
      std::fprintf(stderr, "ingest_bench: --data-dir is required\n");
      return 2;
    }
    absl::StatusOr<std::unique_ptr<store::Store>> opened =
        store::Store::Open(options);
    if (!opened.ok()) {
      return Failed("ingest_bench", opened.status());
    }
    store = *std::move(opened);
  } else {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_address),
                                        Credentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                   std::chrono::seconds(10))) {
      std::fprintf(stderr, "ingest_bench: cannot connect to %s\n",
                   absl::GetFlag(FLAGS_address).c_str());
      return 1;
    }
    stub = weir::v1::IngestService::NewStub(channel);
  }

  Totals totals;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int i = 0; i < streams; ++i) {
    if (store != nullptr) {
      threads.emplace_back(DirectWriter, std::ref(*store), std::ref(*nodes[i]),
                           window, end, std::ref(totals));
    } else {
      threads.emplace_back(GrpcStream, std::ref(*stub), std::ref(*nodes[i]),
                           window, end, std::ref(totals));
    }
  }
  for (std::thread& t : threads) t.join();
  if (totals.failed) return 1;
  if (crash) {
    const uint64_t batches = totals.batches.load();
    const uint64_t records = batches * flows;
    std::printf(
        "records=%llu batches=%llu (acknowledged; then quit without "
        "closing the store)\n",
        static_cast<unsigned long long>(records),
        static_cast<unsigned long long>(batches));
    std::fflush(stdout);
    std::_Exit(0);
  }
  if (absl::Status flushed = FlushRollups(store.get(), channel);
      !flushed.ok()) {
    std::fprintf(stderr, "ingest_bench: writing the rollups out: %s\n",
                 flushed.ToString().c_str());
    return 1;
  }
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - start).count();
  if (totals.failed) return 1;
  const uint64_t records = totals.batches.load() * flows;
  std::printf("records=%llu batches=%llu seconds=%.3f records_per_s=%.0f\n",
              static_cast<unsigned long long>(records),
              static_cast<unsigned long long>(totals.batches.load()), elapsed,
              records / elapsed);
  return 0;
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) {
  // Direct mode stands in for weir-queryd: the same allocator settings.
  weir::queryd::TuneMalloc();
  return weir::bench::Main(argc, argv);
}
