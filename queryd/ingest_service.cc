#include "queryd/ingest_service.h"

#include <string>
#include <utility>
#include <vector>

namespace weir::queryd {

// One collector's stream: read a batch, store it, write its ack, read the
// next. Strictly one batch in flight, so acks leave in arrival order.
class IngestServiceImpl::Reactor final
    : public grpc::ServerBidiReactor<weir::v1::FlowBatch, weir::v1::Ack> {
 public:
  explicit Reactor(IngestServiceImpl& service) : service_(service) {
    StartRead(&batch_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the collector half-closed or went away
      Finish(grpc::Status::OK);
      return;
    }
    if (node_.empty()) {
      node_ = batch_.node();
      if (!node_.empty()) service_.Connected(node_);
    }
    absl::StatusOr<weir::v1::Ack> ack = service_.Handle(batch_);
    if (!ack.ok()) {
      Finish(grpc::Status(static_cast<grpc::StatusCode>(ack.status().code()),
                          std::string{ack.status().message()}));
      return;
    }
    ack_ = *std::move(ack);
    StartWrite(&ack_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "ack not delivered"));
      return;
    }
    StartRead(&batch_);
  }

  void OnDone() override {
    if (!node_.empty()) service_.Disconnected(node_);
    delete this;
  }

 private:
  IngestServiceImpl& service_;
  std::string node_;
  weir::v1::FlowBatch batch_;
  weir::v1::Ack ack_;
};

grpc::ServerBidiReactor<weir::v1::FlowBatch, weir::v1::Ack>*
IngestServiceImpl::Ingest(grpc::CallbackServerContext* /*context*/) {
  return new Reactor(*this);
}

absl::StatusOr<weir::v1::Ack> IngestServiceImpl::Handle(
    const weir::v1::FlowBatch& batch) {
  absl::StatusOr<store::IngestResult> result = store_.WriteBatch(batch);
  if (!result.ok()) {
    stats_.RecordReject(result.status().code());
    return result.status();
  }
  weir::v1::Ack ack;
  ack.set_epoch(batch.epoch());
  ack.set_seq(batch.seq());
  ack.set_duplicate(result->duplicate());
  if (result->duplicate()) {
    stats_.RecordDuplicate();
    return ack;
  }
  const std::vector<store::FlowRecord>& records = result->records;
  live_.Add(records, absl::Now());
  watchers_.Publish(records);
  stats_.RecordBatch(batch);
  if (observer_ != nullptr) observer_->OnStored(batch, records);
  return ack;
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
