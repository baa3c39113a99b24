#include "queryd/ingest_service.h"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
// SerializationTraits<protobuf message>: gRPC's own (de)serialization.
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/byte_buffer.h"

namespace weir::queryd {

// One collector's stream. Reads run ahead of the store: while one thread
// stores the batches read so far (one durable write for all of them), the
// next ones are read, up to kMaxQueuedBatches / kMaxQueuedFlows per stream
// and kMaxQueuedFlowsInAll over all streams (many collectors catching up
// at once). Acks go out in order, one write at a time. A collector sending
// ahead of its acks (its window, or catching up after an outage) so has
// several batches stored per WAL sync instead of one.
//
// Messages arrive serialized and are parsed here, so that one that does not
// parse ends the stream with INVALID_ARGUMENT (once the batches read before
// it are stored and acked) rather than looking like the end of the stream.
class IngestServiceImpl::Reactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  static constexpr size_t kMaxQueuedBatches = 16;
  static constexpr int kMaxQueuedFlows = 1 << 16;
  static constexpr int64_t kMaxQueuedFlowsInAll = 1 << 20;
  // Read messages kept, cleared, for their parsed flows' memory.
  static constexpr size_t kMaxSpares = 2;

  // `peer`: the client's certificate, when the service requires one.
  Reactor(IngestServiceImpl& service, std::optional<PeerCertificate> peer)
      : service_(service), peer_(std::move(peer)) {
    if (peer_.has_value() && !peer_->presented) {
      const absl::Status refused = CheckNodeIdentity(*peer_, "");
      service_.stats_.RecordReject(refused.code());
      {
        absl::MutexLock lock(&mu_);
        finished_ = true;
      }
      Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          std::string{refused.message()}));
      return;
    }
    StartRead(&reading_);
  }

  void OnReadDone(bool ok) override {
    weir::v1::FlowBatch batch;
    bool parsed = false;
    if (ok) {
      {
        // A spare message keeps its parsed flows' memory for this one.
        absl::MutexLock lock(&mu_);
        if (!spare_.empty()) {
          batch.Swap(&spare_.back());
          spare_.pop_back();
        }
      }
      // Only this callback touches reading_: one read is outstanding.
      parsed = grpc::SerializationTraits<weir::v1::FlowBatch>::Deserialize(
                   &reading_, &batch)
                   .ok();
    }
    // A batch of a node the client's certificate does not name.
    absl::Status denied;
    if (parsed && peer_.has_value()) {
      denied = CheckNodeIdentity(*peer_, batch.node(),
                                 service_.shared_client_cert_name_);
    }
    bool read_on = false;
    bool store = false;
    {
      absl::MutexLock lock(&mu_);
      ++reads_;
      if (!ok || failed_) {
        // The collector half-closed or went away, or the stream failed.
        read_ended_ = true;
      } else if (!parsed) {
        // Nothing after it is read; the stream ends with this status once
        // the batches before it are stored and acked.
        read_ended_ = true;
        read_status_ = grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("message ", reads_,
                         " of the Ingest stream does not parse as "
                         "weir.v1.FlowBatch; it and the messages after it "
                         "were not stored"));
        service_.stats_.RecordReject(absl::StatusCode::kInvalidArgument);
      } else if (!denied.ok()) {
        // Like a message that does not parse: nothing of it is stored, the
        // batches before it are, and the stream ends with this status.
        read_ended_ = true;
        read_status_ = grpc::Status(
            static_cast<grpc::StatusCode>(denied.code()),
            absl::StrCat("message ", reads_,
                         " of the Ingest stream: ", denied.message()));
        service_.stats_.RecordReject(denied.code());
      } else {
        if (node_.empty() && !batch.node().empty()) {
          node_ = batch.node();
          service_.Connected(node_);
        }
        queued_flows_ += batch.flows_size();
        service_.queued_flows_ += batch.flows_size();
        queue_.push_back(std::move(batch));
        // A paused stream has batches queued: taking them resumes it.
        read_on = queue_.size() < kMaxQueuedBatches &&
                  queued_flows_ < kMaxQueuedFlows &&
                  service_.queued_flows_.load() < kMaxQueuedFlowsInAll;
        read_paused_ = !read_on;
      }
      // This thread stores (or, at the end, finishes) unless another one
      // is storing: that one takes what was just queued.
      store = !storing_;
      storing_ = true;
    }
    if (read_on) StartRead(&reading_);
    if (store) StoreQueued();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    acks_.pop_front();
    if (!ok) {
      Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE, "ack not delivered"));
      acks_.clear();
    }
    writing_ = !acks_.empty();
    if (writing_) {
      StartWrite(&acks_.front());
      return;
    }
    FinishIfDone();
  }

  void OnDone() override {
    std::string node;
    {
      absl::MutexLock lock(&mu_);
      node = node_;
    }
    if (!node.empty()) service_.Disconnected(node);
    delete this;
  }

 private:
  // Stores what is queued, again and again while batches arrive; on the
  // one thread that set storing_.
  void StoreQueued() {
    std::vector<weir::v1::FlowBatch> group;
    std::vector<const weir::v1::FlowBatch*> pointers;
    for (;;) {
      bool read_on = false;
      {
        absl::MutexLock lock(&mu_);
        for (weir::v1::FlowBatch& batch : group) {
          if (spare_.size() == kMaxSpares) break;
          batch.Clear();
          spare_.push_back(std::move(batch));
        }
        group.clear();
        if (queue_.empty() || failed_) {
          storing_ = false;
          FinishIfDone();
          return;
        }
        while (!queue_.empty()) {
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        service_.queued_flows_ -= queued_flows_;
        queued_flows_ = 0;
        if (read_paused_ && !read_ended_) {
          read_paused_ = false;
          read_on = true;
        }
      }
      if (read_on) StartRead(&reading_);
      pointers.clear();
      for (const weir::v1::FlowBatch& batch : group) pointers.push_back(&batch);
      std::vector<absl::StatusOr<weir::v1::Ack>> acks =
          service_.Handle(pointers);
      absl::MutexLock lock(&mu_);
      for (absl::StatusOr<weir::v1::Ack>& ack : acks) {
        if (failed_) break;  // an ack write failed meanwhile
        if (!ack.ok()) {
          Fail(grpc::Status(static_cast<grpc::StatusCode>(ack.status().code()),
                            std::string{ack.status().message()}));
          break;
        }
        grpc::ByteBuffer serialized;
        bool own_buffer = false;
        if (grpc::Status s =
                grpc::SerializationTraits<weir::v1::Ack>::Serialize(
                    *ack, &serialized, &own_buffer);
            !s.ok()) {
          Fail(grpc::Status(
              grpc::StatusCode::INTERNAL,
              absl::StrCat("serializing an ack: ", s.error_message())));
          break;
        }
        acks_.push_back(std::move(serialized));
      }
      if (!writing_ && !acks_.empty()) {
        writing_ = true;
        StartWrite(&acks_.front());
      }
    }
  }

  // The first failure ends the stream, after the acks before it are sent.
  void Fail(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (failed_) return;
    failed_ = true;
    status_ = std::move(status);
    queue_.clear();
    service_.queued_flows_ -= queued_flows_;
    queued_flows_ = 0;
  }

  // Finishes the stream, exactly once, when nothing more will be stored
  // or written: after a failure, or once reading ended (the collector
  // stopped sending, or sent a message that does not parse) and every batch
  // read is acked.
  void FinishIfDone() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || storing_ || writing_) return;
    if (!failed_ && !(read_ended_ && queue_.empty())) return;
    finished_ = true;
    Finish(failed_ ? status_ : read_status_);
  }

  IngestServiceImpl& service_;
  const std::optional<PeerCertificate> peer_;
  absl::Mutex mu_;
  std::string node_ ABSL_GUARDED_BY(mu_);
  // The message of the outstanding read, still serialized.
  grpc::ByteBuffer reading_;
  // Messages read so far, the one being handled included.
  uint64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<weir::v1::FlowBatch> queue_ ABSL_GUARDED_BY(mu_);
  int queued_flows_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<weir::v1::FlowBatch> spare_ ABSL_GUARDED_BY(mu_);
  // Serialized acks to send, the front one being written while writing_.
  std::deque<grpc::ByteBuffer> acks_ ABSL_GUARDED_BY(mu_);
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool read_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool storing_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // The first failure's (with failed_).
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  // How reading ended: OK for the client's half-close.
  grpc::Status read_status_ ABSL_GUARDED_BY(mu_);
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
IngestServiceImpl::Ingest(grpc::CallbackServerContext* context) {
  if (const grpc::Status allowed =
          auth::AuthorizeCall(authorizer_, *context, auth::Scope::kIngest);
      !allowed.ok()) {
    return new auth::RefusedBidiStream<grpc::ByteBuffer, grpc::ByteBuffer>(
        allowed);
  }
  std::optional<PeerCertificate> peer;
  if (client_certificates_required_) {
    const std::shared_ptr<const grpc::AuthContext> auth_context =
        context->auth_context();
    peer = auth_context != nullptr ? PeerCertificateOf(*auth_context)
                                   : PeerCertificate();
  }
  return new Reactor(*this, std::move(peer));
}

std::vector<absl::StatusOr<weir::v1::Ack>> IngestServiceImpl::Handle(
    absl::Span<const weir::v1::FlowBatch* const> batches) {
  std::vector<absl::StatusOr<store::IngestResult>> results =
      store_.WriteBatches(batches, absl::Now());
  std::vector<absl::StatusOr<weir::v1::Ack>> acks;
  acks.reserve(results.size());
  const absl::Time now = absl::Now();
  // Whether a batch was written, and whether the last write failed (the
  // first failure is the last result).
  bool wrote = false;
  bool write_failed = false;
  for (size_t i = 0; i < results.size(); ++i) {
    absl::StatusOr<store::IngestResult>& result = results[i];
    if (!result.ok()) {
      // Anything but a malformed batch is a write that failed.
      write_failed =
          result.status().code() != absl::StatusCode::kInvalidArgument;
      stats_.RecordReject(result.status().code());
      acks.push_back(std::move(result).status());
      break;
    }
    wrote = wrote || result->outcome == store::IngestResult::Outcome::kStored;
    const weir::v1::FlowBatch& batch = *batches[i];
    weir::v1::Ack& ack = acks.emplace_back().emplace();
    ack.set_epoch(batch.epoch());
    ack.set_seq(batch.seq());
    ack.set_duplicate(result->duplicate());
    if (result->duplicate()) {
      stats_.RecordDuplicate();
      continue;
    }
    const std::vector<store::FlowRecord>& records = result->records;
    live_.Add(records, now);
    watchers_.Publish(records);
    stats_.RecordBatch(batch);
    if (observer_ != nullptr) observer_->OnStored(batch, records);
  }
  if (write_failed) {
    StoreWritable(false);
  } else if (wrote) {
    StoreWritable(true);
  }
  return acks;
}

void IngestServiceImpl::StoreWritable(bool writable) {
  absl::MutexLock lock(&writable_mu_);
  if (writable_ == writable) return;
  writable_ = writable;
  if (on_store_writable_) on_store_writable_(writable);
}

bool IngestServiceImpl::store_writable() const {
  absl::MutexLock lock(&writable_mu_);
  return writable_;
}

void IngestServiceImpl::Connected(const std::string& node) {
  absl::MutexLock lock(&mu_);
  ++streams_[node];
}

void IngestServiceImpl::Disconnected(const std::string& node) {
  absl::MutexLock lock(&mu_);
  if (auto it = streams_.find(node);
      it != streams_.end() && --it->second <= 0) {
    streams_.erase(it);
  }
}

bool IngestServiceImpl::IsConnected(const std::string& node) const {
  absl::MutexLock lock(&mu_);
  return streams_.contains(node);
}

uint32_t IngestServiceImpl::connected() const {
  absl::MutexLock lock(&mu_);
  return static_cast<uint32_t>(streams_.size());
}

}  // namespace weir::queryd
