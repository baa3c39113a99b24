// Ships FlowBatches to weir-queryd's IngestService and keeps every batch
// until queryd acknowledges it.
//
// The drain loop hands batches to Enqueue(), which never blocks on the
// network: the kernel side must never wait for queryd. A background thread
// keeps one bidirectional Ingest stream open, sends every unacknowledged
// batch in order, drops batches from the front as their acks arrive, and on
// any stream failure reconnects with exponential backoff and resends every
// batch not yet acknowledged. queryd deduplicates by (node, epoch, seq), so a
// resent batch is stored once.
//
// Without a spool the queue is bounded. When it is full the oldest batch is
// dropped and its traffic is carried into the next batch as loss
// (LOSS_REASON_UNACKED_BOUND), together with the dropped batch's own
// accounting, so the reconciliation "packets seen = exported + lost" still
// holds over the batches queryd gets. A batch queryd refuses as malformed (the
// stream ends INVALID_ARGUMENT) is dropped the same way, under
// LOSS_REASON_REJECTED, instead of being resent forever; every other failure
// resends.
#ifndef WEIR_COLLECTOR_SHIPPER_H_
#define WEIR_COLLECTOR_SHIPPER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "weir/v1/ingest.grpc.pb.h"

namespace weir::collector {

struct ShipperOptions {
  // host:port of queryd's IngestService.
  std::string address;
  // Unacknowledged batches kept at most (at 1 s intervals: how many seconds
  // of outage are bridged in memory).
  size_t max_unacked = 600;
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  // Set when a durable spool holds every batch (collector/spool.h): called,
  // with the shipper's lock held, for each batch queryd acknowledges, in
  // order. Then the shipper never drops at max_unacked (the spool's bounds
  // apply instead) and Enqueue folds nothing: the caller takes the carried
  // accounting with TakeCarried() and folds it in before spooling the batch.
  std::function<void(uint64_t epoch, uint64_t seq)> on_acked;
  // A file holding the ingest token (token_file.h), sent as
  // `authorization: Bearer <token>` on every stream; re-read at every
  // (re)connection, so a fixed file is used without a restart. Empty: no
  // token.
  std::string token_file;
  // One line each for what an operator must act on: a stream queryd refused
  // for its token (UNAUTHENTICATED, PERMISSION_DENIED; at most once a
  // minute while it lasts, and once when it is accepted again), a token file
  // that cannot be read. Null: nothing is told.
  std::function<void(const std::string& line)> log;
  // When set, asked before each connection attempt for the credentials to
  // connect with; a pointer other than the one in use makes a new channel
  // (renewed TLS files). The stream in progress keeps its connection.
  std::function<std::shared_ptr<grpc::ChannelCredentials>()> credentials;
};

// Accounting the shipper let go of and that must ride on the next batch.
struct Carried {
  weir::v1::Counters counters;
  // Batches refused by queryd whose accounting is in `counters`, as
  // (epoch, seq): the spool releases them once the batch carrying it is
  // written, so a crash before that resends them instead of losing them.
  std::vector<std::pair<uint64_t, uint64_t>> rejected;
};

struct ShipperStats {
  bool connected = false;
  uint64_t batches_enqueued = 0;
  uint64_t batches_sent = 0;  // including resends
  uint64_t batches_resent = 0;
  uint64_t batches_acked = 0;
  uint64_t batches_duplicate = 0;  // acked as already stored
  uint64_t batches_dropped = 0;    // dropped at the bound
  uint64_t packets_dropped = 0;    // exported in the batches dropped
  uint64_t batches_rejected = 0;   // refused by queryd as malformed
  uint64_t packets_rejected = 0;   // exported in those batches
  uint64_t reconnects = 0;
  // Streams queryd refused for their token (UNAUTHENTICATED or
  // PERMISSION_DENIED); their batches stay queued and are resent.
  uint64_t streams_refused = 0;
  size_t unacked = 0;
  std::string last_error;
};

class Shipper {
 public:
  // Starts the sending thread; it connects in the background.
  Shipper(ShipperOptions options,
          std::shared_ptr<grpc::ChannelCredentials> credentials);
  ~Shipper();

  Shipper(const Shipper&) = delete;
  Shipper& operator=(const Shipper&) = delete;

  // Queues a batch; returns at once. Folds any traffic carried from batches
  // dropped at the bound into `batch.counters` first.
  void Enqueue(weir::v1::FlowBatch batch);

  // With a spool: takes what was carried since the last call (batches
  // refused by queryd), to be folded into the next batch before it is
  // spooled (FoldCarriedCounters).
  Carried TakeCarried();

  // Forgets the batches a spool dropped at its bound, of those not yet
  // sent on any stream; returns how many it forgot. One already sent stays
  // (queryd may have stored it) and is sent until acknowledged.
  size_t Forget(const std::vector<std::pair<uint64_t, uint64_t>>& ids);

  // Waits until every queued batch is acknowledged or `timeout` passes;
  // true when everything was acknowledged.
  bool Flush(absl::Duration timeout);

  ShipperStats stats() const;

 private:
  void Run();
  // One connection: sends and reads acks until the stream breaks or Stop.
  void Session(weir::v1::IngestService::Stub& stub);
  // Drops the oldest queued batch; its accounting is carried into the next
  // batch enqueued, its exported traffic as a loss under `reason`.
  void DropOldestLocked(weir::v1::LossReason reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReadAcks(
      grpc::ClientReaderWriter<weir::v1::FlowBatch, weir::v1::Ack>* stream);

  const ShipperOptions options_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;

  struct Entry {
    weir::v1::FlowBatch batch;
    bool sent = false;  // on some earlier stream
  };

  mutable absl::Mutex mu_;
  // In seq order; one epoch per collector process.
  std::deque<Entry> unacked_ ABSL_GUARDED_BY(mu_);
  // Index into unacked_ of the next batch to send on this stream.
  size_t next_to_send_ ABSL_GUARDED_BY(mu_) = 0;
  bool stream_broken_ ABSL_GUARDED_BY(mu_) = false;
  // The ack reader saw the stream end (the server finished it).
  bool reader_done_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Accounting of batches dropped at the bound, waiting for the next batch.
  weir::v1::Counters carried_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint64_t, uint64_t>> carried_rejected_
      ABSL_GUARDED_BY(mu_);
  ShipperStats stats_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The last token read from options_.token_file (kept when the file
  // cannot be read later). Only the sending thread touches it.
  std::string token_;
  // Refusals not told yet, and when one was last told.
  bool refused_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time refusal_told_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  std::thread thread_;
};

// Folds carried accounting into a batch's counters: seen and losses add up,
// exported does not (the carried flows are not in the batch).
void FoldCarriedCounters(const weir::v1::Counters& carried,
                         weir::v1::Counters* into);

// Adds `from` into `into`: seen/exported totals and losses by reason.
void AddCounters(const weir::v1::Counters& from, weir::v1::Counters* into);

// Adds packets and bytes under `reason` to `counters`.
void AddLoss(weir::v1::LossReason reason, uint64_t packets, uint64_t bytes,
             weir::v1::Counters* counters);

}  // namespace weir::collector

#endif  // WEIR_COLLECTOR_SHIPPER_H_
