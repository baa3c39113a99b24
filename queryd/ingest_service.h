// IngestService: collectors stream FlowBatches in; each is stored exactly
// once and acknowledged only after it is durable.
#ifndef WEIR_QUERYD_INGEST_SERVICE_H_
#define WEIR_QUERYD_INGEST_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "queryd/auth/authorizer.h"
#include "queryd/live_table.h"
#include "queryd/node_identity.h"
#include "queryd/stats_tracker.h"
#include "queryd/store/store.h"
#include "queryd/watch_hub.h"
#include "weir/v1/ingest.grpc.pb.h"

namespace weir::queryd {

// Told of every batch IngestServiceImpl stores, after it is durable and
// before its ack is sent (queryd's Prometheus counters). Runs on the ingest
// path: must be quick and must not block.
class IngestObserver {
 public:
  virtual ~IngestObserver() = default;
  virtual void OnStored(const weir::v1::FlowBatch& batch,
                        const std::vector<store::FlowRecord>& records) = 0;
};

// The Ingest method is registered raw (ByteBuffer in, ByteBuffer out) and
// parses each message itself: gRPC's own parsing reports a message that does
// not parse as a failed read, the same as the client half-closing, and the
// stream would end OK with that batch neither stored nor refused. Here it ends
// with INVALID_ARGUMENT, after the acks of the batches before it.
class IngestServiceImpl final
    : public weir::v1::IngestService::WithRawCallbackMethod_Ingest<
          weir::v1::IngestService::Service> {
 public:
  IngestServiceImpl(store::Store& store, LiveTable& live, WatchHub& watchers,
                    StatsTracker& stats, IngestObserver* observer = nullptr)
      : store_(store),
        live_(live),
        watchers_(watchers),
        stats_(stats),
        observer_(observer) {}

  // Reads serialized weir.v1.FlowBatch messages, writes serialized
  // weir.v1.Ack messages.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Ingest(
      grpc::CallbackServerContext* context) override;

  // Stores batches (Store::WriteBatches: one durable write per run of one
  // node) and feeds the live table, watchers and stats. Returns the ack to
  // send for each, up to and including the first error, which ends the
  // stream (INVALID_ARGUMENT for a malformed batch: nothing of it is
  // stored; the batches before it are).
  std::vector<absl::StatusOr<weir::v1::Ack>> Handle(
      absl::Span<const weir::v1::FlowBatch* const> batches);

  // Called when batches stop being written (false: a write to the store
  // failed, e.g. a full disk, or RocksDB stopped writes after an I/O error)
  // and when one is written again (true); once per change, in order. A
  // malformed batch says nothing about the store. Set before serving.
  void set_on_store_writable(std::function<void(bool writable)> callback) {
    on_store_writable_ = std::move(callback);
  }
  // Checks every stream's bearer token (scope ingest) before it is read;
  // null (the default): no --token-file, every stream is served. Set
  // before serving; must outlive the service.
  void set_authorizer(auth::Authorizer* authorizer) {
    authorizer_ = authorizer;
  }

  // With true (queryd's --client-ca), every stream needs a verified client
  // certificate (UNAUTHENTICATED before anything is read otherwise) and
  // each batch's node must be one its certificate names (node_identity.h):
  // a batch of another node ends the stream with PERMISSION_DENIED, after
  // the acks of the batches before it, and nothing of it is stored. Set
  // before serving.
  void set_client_certificates_required(bool required) {
    client_certificates_required_ = required;
  }
  // --shared-client-cert-name: a certificate naming it writes as any node
  // (node_identity.h). Set before serving.
  void set_shared_client_cert_name(std::string name) {
    shared_client_cert_name_ = std::move(name);
  }

  // Whether the last write to the store succeeded (true before any).
  bool store_writable() const;

  // Whether `node` has an open ingest stream now.
  bool IsConnected(const std::string& node) const;
  uint32_t connected() const;

 private:
  class Reactor;
  void Connected(const std::string& node);
  void Disconnected(const std::string& node);
  // Records the outcome of a write and tells on_store_writable_ of a change.
  void StoreWritable(bool writable);

  store::Store& store_;
  LiveTable& live_;
  WatchHub& watchers_;
  StatsTracker& stats_;
  IngestObserver* const observer_;  // may be null
  auth::Authorizer* authorizer_ = nullptr;

  std::function<void(bool writable)> on_store_writable_;
  bool client_certificates_required_ = false;
  std::string shared_client_cert_name_;
  // Serializes StoreWritable, so changes are told in order.
  mutable absl::Mutex writable_mu_;
  bool writable_ ABSL_GUARDED_BY(writable_mu_) = true;

  // Flows read by every stream and not yet stored (Reactor).
  std::atomic<int64_t> queued_flows_{0};

  mutable absl::Mutex mu_;
  // Open streams per node (a reconnect may overlap the old stream).
  absl::flat_hash_map<std::string, int> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_INGEST_SERVICE_H_
