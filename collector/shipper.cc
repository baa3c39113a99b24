#include "collector/shipper.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "collector/token_file.h"

namespace weir::collector {

void AddLoss(weir::v1::LossReason reason, uint64_t packets, uint64_t bytes,
             weir::v1::Counters* counters) {
  if (packets == 0 && bytes == 0) return;
  for (weir::v1::LossCount& loss : *counters->mutable_losses()) {
    if (loss.reason() == reason) {
      loss.set_packets(loss.packets() + packets);
      loss.set_bytes(loss.bytes() + bytes);
      return;
    }
  }
  weir::v1::LossCount* loss = counters->add_losses();
  loss->set_reason(reason);
  loss->set_packets(packets);
  loss->set_bytes(bytes);
}

void AddCounters(const weir::v1::Counters& from, weir::v1::Counters* into) {
  into->set_packets_seen(into->packets_seen() + from.packets_seen());
  into->set_bytes_seen(into->bytes_seen() + from.bytes_seen());
  into->set_packets_exported(into->packets_exported() +
                             from.packets_exported());
  into->set_bytes_exported(into->bytes_exported() + from.bytes_exported());
  for (const weir::v1::LossCount& loss : from.losses()) {
    AddLoss(loss.reason(), loss.packets(), loss.bytes(), into);
  }
}

Shipper::Shipper(ShipperOptions options,
                 std::shared_ptr<grpc::ChannelCredentials> credentials)
    : options_(std::move(options)), credentials_(std::move(credentials)) {
  thread_ = std::thread([this] { Run(); });
}

Shipper::~Shipper() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  thread_.join();
}

void FoldCarriedCounters(const weir::v1::Counters& carried,
                         weir::v1::Counters* into) {
  into->set_packets_seen(into->packets_seen() + carried.packets_seen());
  into->set_bytes_seen(into->bytes_seen() + carried.bytes_seen());
  for (const weir::v1::LossCount& loss : carried.losses()) {
    AddLoss(loss.reason(), loss.packets(), loss.bytes(), into);
  }
}

Carried Shipper::TakeCarried() {
  absl::MutexLock lock(&mu_);
  Carried carried;
  carried.counters = std::move(carried_);
  carried_.Clear();
  carried.rejected = std::move(carried_rejected_);
  carried_rejected_.clear();
  return carried;
}

size_t Shipper::Forget(const std::vector<std::pair<uint64_t, uint64_t>>& ids) {
  absl::MutexLock lock(&mu_);
  size_t forgotten = 0;
  for (const auto& [epoch, seq] : ids) {
    // Never-sent entries are all at or after next_to_send_, so removing
    // them keeps the stream's place.
    for (size_t i = next_to_send_; i < unacked_.size(); ++i) {
      const weir::v1::FlowBatch& b = unacked_[i].batch;
      if (b.epoch() == epoch && b.seq() == seq) {
        if (!unacked_[i].sent) {
          unacked_.erase(unacked_.begin() + static_cast<std::ptrdiff_t>(i));
          ++forgotten;
        }
        break;
      }
    }
  }
  stats_.unacked = unacked_.size();
  return forgotten;
}

void Shipper::Enqueue(weir::v1::FlowBatch batch) {
  absl::MutexLock lock(&mu_);
  if (options_.on_acked) {
    // Spooled: the batch is exactly what the spool holds; the caller folded
    // the carried accounting in before spooling it.
    unacked_.push_back(Entry{std::move(batch), false});
    ++stats_.batches_enqueued;
    stats_.unacked = unacked_.size();
    return;
  }
  if (unacked_.size() >= options_.max_unacked) {
    ++stats_.batches_dropped;
    stats_.packets_dropped +=
        unacked_.front().batch.counters().packets_exported();
    DropOldestLocked(weir::v1::LOSS_REASON_UNACKED_BOUND);
  }
  if (carried_.packets_seen() != 0 || carried_.bytes_seen() != 0 ||
      carried_.losses_size() != 0) {
    // Dropped batches' flows are not exported: what they saw, their own
    // losses and their flows' traffic (as a loss) become this batch's.
    weir::v1::Counters* counters = batch.mutable_counters();
    counters->set_packets_seen(counters->packets_seen() +
                               carried_.packets_seen());
    counters->set_bytes_seen(counters->bytes_seen() + carried_.bytes_seen());
    for (const weir::v1::LossCount& loss : carried_.losses()) {
      AddLoss(loss.reason(), loss.packets(), loss.bytes(), counters);
    }
    carried_.Clear();
  }
  unacked_.push_back(Entry{std::move(batch), false});
  ++stats_.batches_enqueued;
  stats_.unacked = unacked_.size();
}

bool Shipper::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto drained = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return unacked_.empty();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&drained), timeout);
}

ShipperStats Shipper::stats() const {
  absl::MutexLock lock(&mu_);
  ShipperStats stats = stats_;
  stats.unacked = unacked_.size();
  return stats;
}

void Shipper::Run() {
  absl::BitGen bitgen;
  absl::Duration backoff = options_.min_backoff;
  // gRPC's own reconnect backoff starts at 1 s and grows to 120 s; keep
  // it within ours so a queryd that comes back is found within max_backoff.
  grpc::ChannelArguments args;
  args.SetInt(
      GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options_.min_backoff)));
  args.SetInt(
      GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options_.min_backoff)));
  args.SetInt(
      GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options_.max_backoff)));
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options_.address, credentials_, args);
  auto stub = weir::v1::IngestService::NewStub(channel);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (options_.credentials) {
      std::shared_ptr<grpc::ChannelCredentials> now = options_.credentials();
      if (now != nullptr && now != credentials_) {
        credentials_ = std::move(now);
        channel =
            grpc::CreateCustomChannel(options_.address, credentials_, args);
        stub = weir::v1::IngestService::NewStub(channel);
      }
    }
    const absl::Time started = absl::Now();
    Session(*stub);
    {
      absl::MutexLock lock(&mu_);
      stats_.connected = false;
      if (stopping_) return;
      ++stats_.reconnects;
    }
    // A session that lived a while resets the backoff.
    if (absl::Now() - started > options_.max_backoff)
      backoff = options_.min_backoff;
    // Full jitter keeps many collectors from reconnecting in lockstep.
    const absl::Duration wait = absl::Nanoseconds(
        absl::Uniform<int64_t>(bitgen, absl::ToInt64Nanoseconds(backoff) / 2,
                               absl::ToInt64Nanoseconds(backoff) + 1));
    backoff = std::min(backoff * 2, options_.max_backoff);
    absl::MutexLock lock(&mu_);
    auto stopping = [this]()
                        ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), wait);
  }
}

void Shipper::Session(weir::v1::IngestService::Stub& stub) {
  grpc::ClientContext context;
  // Fail fast when queryd is down instead of queueing inside gRPC.
  context.set_wait_for_ready(false);
  if (!options_.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(options_.token_file);
    if (token.ok()) {
      token_ = *std::move(token);
    } else if (options_.log) {
      options_.log(absl::StrCat(token.status().message(),
                                "; sending the token read before"));
    }
    if (!token_.empty()) {
      context.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
    }
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    context_ = &context;
    next_to_send_ = 0;  // resend everything unacknowledged
    stream_broken_ = false;
  }
  std::unique_ptr<grpc::ClientReaderWriter<weir::v1::FlowBatch, weir::v1::Ack>>
      stream = stub.Ingest(&context);
  std::thread reader([&] { ReadAcks(stream.get()); });

  bool write_failed = false;
  while (true) {
    weir::v1::FlowBatch batch;
    bool resend = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ || stream_broken_ || next_to_send_ < unacked_.size();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_ || stream_broken_) break;
      Entry& entry = unacked_[next_to_send_];
      batch = entry.batch;
      resend = entry.sent;
      entry.sent = true;
      ++next_to_send_;
    }
    if (!stream->Write(batch)) {
      write_failed = true;
      absl::MutexLock lock(&mu_);
      stream_broken_ = true;
      break;
    }
    absl::MutexLock lock(&mu_);
    ++stats_.batches_sent;
    if (resend) ++stats_.batches_resent;
  }
  bool server_ended;
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
    server_ended = reader_done_;
  }
  // Cancel only a stream the server has not ended: cancelling would mask
  // the status it sent. A failed write means the call is over already (the
  // server ended it, or the connection went), so the reader is about to see
  // the end too; cancelling then would race it and could turn queryd's
  // INVALID_ARGUMENT into CANCELLED, and the refused batch would be resent.
  if (!server_ended && !write_failed) context.TryCancel();
  reader.join();
  const grpc::Status status = stream->Finish();
  absl::MutexLock lock(&mu_);
  reader_done_ = false;
  if (!status.ok()) {
    stats_.last_error =
        absl::StrCat(status.error_code(), ": ", status.error_message());
  }
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
      status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
    // The token, not the batches: every batch stays queued (and spooled)
    // and is resent once queryd accepts the token. Nothing is dropped or
    // counted as a loss.
    ++stats_.streams_refused;
    const absl::Time now = absl::Now();
    if (options_.log && now - refusal_told_ >= absl::Minutes(1)) {
      refusal_told_ = now;
      options_.log(absl::StrCat(
          "queryd refused the ingest stream: ",
          status.error_code() == grpc::StatusCode::UNAUTHENTICATED
              ? "UNAUTHENTICATED"
              : "PERMISSION_DENIED",
          ": ", status.error_message(), " (check --token-file; ",
          unacked_.size(), " batches kept, resent once it is accepted)"));
    }
    refused_ = true;
    return;
  }
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
      !unacked_.empty() && next_to_send_ > 0) {
    // queryd refused the oldest unacknowledged batch, which this stream
    // sent, as malformed (it handles batches in order and acks every one
    // before): resending it would be refused forever and hold up every batch
    // behind it. Drop it; its traffic is a named loss. Any other status
    // (queryd unavailable, overloaded, restarting) resends it.
    ++stats_.batches_rejected;
    stats_.packets_rejected +=
        unacked_.front().batch.counters().packets_exported();
    if (options_.on_acked) {
      carried_rejected_.emplace_back(unacked_.front().batch.epoch(),
                                     unacked_.front().batch.seq());
    }
    DropOldestLocked(weir::v1::LOSS_REASON_REJECTED);
  }
}

void Shipper::DropOldestLocked(weir::v1::LossReason reason) {
  const weir::v1::Counters& c = unacked_.front().batch.counters();
  carried_.set_packets_seen(carried_.packets_seen() + c.packets_seen());
  carried_.set_bytes_seen(carried_.bytes_seen() + c.bytes_seen());
  for (const weir::v1::LossCount& loss : c.losses()) {
    AddLoss(loss.reason(), loss.packets(), loss.bytes(), &carried_);
  }
  AddLoss(reason, c.packets_exported(), c.bytes_exported(), &carried_);
  unacked_.pop_front();
  // The stream may be part-way through the queue; keep its place.
  if (next_to_send_ > 0) --next_to_send_;
}

void Shipper::ReadAcks(
    grpc::ClientReaderWriter<weir::v1::FlowBatch, weir::v1::Ack>* stream) {
  weir::v1::Ack ack;
  bool first = true;
  while (stream->Read(&ack)) {
    absl::MutexLock lock(&mu_);
    if (first) {
      stats_.connected = true;
      first = false;
      if (refused_) {
        refused_ = false;
        refusal_told_ = absl::InfinitePast();
        if (options_.log) options_.log("queryd accepts the ingest token again");
      }
    }
    // Acks come in send order: everything up to the acked seq is durable.
    // (An ack for a batch already dropped at the bound pops nothing.)
    size_t acked = 0;
    while (acked < next_to_send_ && !unacked_.empty() &&
           unacked_.front().batch.epoch() == ack.epoch() &&
           unacked_.front().batch.seq() <= ack.seq()) {
      if (options_.on_acked) {
        options_.on_acked(unacked_.front().batch.epoch(),
                          unacked_.front().batch.seq());
      }
      unacked_.pop_front();
      ++acked;
    }
    next_to_send_ -= acked;
    stats_.batches_acked += acked;
    if (ack.duplicate()) ++stats_.batches_duplicate;
    stats_.unacked = unacked_.size();
  }
  absl::MutexLock lock(&mu_);
  stream_broken_ = true;
  reader_done_ = true;
}

}  // namespace weir::collector
