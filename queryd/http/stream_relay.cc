#include "queryd/http/stream_relay.h"

#include <utility>

#include "absl/time/clock.h"
#include "boost/asio/post.hpp"

namespace weir::queryd::http {

void StreamRelay::OnMessage(std::string json) {
  net::post(executor_,
            [self = shared_from_this(), json = std::move(json)]() mutable {
              self->queue_.push_back(std::move(json));
              self->Pump();
            });
}

void StreamRelay::OnFinish(grpc::Status status) {
  net::post(executor_, [self = shared_from_this(), status]() {
    self->finished_ = status;
    self->Pump();
  });
}

void StreamRelay::StartStream(const Gateway::Prepared& prepared,
                              const Metadata& metadata, absl::Time started) {
  route_ = prepared.path_template;
  started_ = started;
  call_ = ctx_.gateway->CallStream(prepared, metadata, shared_from_this());
  if (call_ == nullptr) {
    finished_ =
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "queryd is stopping");
    Pump();
    return;
  }
  if (ctx_.metrics != nullptr) ctx_.metrics->StreamOpened();
  ctx_.open_streams.fetch_add(1);
  counted_ = true;
  head_timer_.expires_after(Chrono(ctx_.options.stream_head_delay));
  head_timer_.async_wait(
      [self = shared_from_this()](const beast::error_code& ec) {
        if (ec) return;
        self->head_due_ = true;
        self->Pump();
      });
  WatchClient();
}

void StreamRelay::ClientGone() {
  if (client_gone_ || ended_) return;
  client_gone_ = true;
  if (call_ != nullptr) call_->Cancel();
  Pump();
}

void StreamRelay::WriteDone(bool ok, bool was_message) {
  writing_ = false;
  if (was_message && !queue_.empty()) {
    queue_.pop_front();
    if (ok && call_ != nullptr) call_->Next();
  }
  if (!ok) {
    ClientGone();
    return;
  }
  if (head_only_ && head_sent_) {
    // HEAD: the head was the whole answer; end the call, send nothing.
    ClientGone();
    return;
  }
  Pump();
}

void StreamRelay::Pump() {
  if (writing_ || ended_) return;
  if (client_gone_ || end_written_) {
    // Nothing more to send (a message still queued was released by
    // Cancel()); end once the call has.
    queue_.clear();
    if (finished_.has_value()) End();
    return;
  }
  if (!head_sent_) {
    if (finished_.has_value() && queue_.empty() && !finished_->ok()) {
      head_sent_ = true;
      end_written_ = true;
      writing_ = true;
      head_timer_.cancel();
      const HttpReply reply = ErrorReply(*finished_);
      Observe(reply.status);
      WriteErrorReply(reply);
      return;
    }
    if (!queue_.empty() || finished_.has_value() || head_due_) {
      head_sent_ = true;
      writing_ = true;
      head_timer_.cancel();
      Observe(HeadStatus());
      WriteHead();
    }
    return;
  }
  if (!queue_.empty()) {
    writing_ = true;
    WriteMessage(queue_.front());
    return;
  }
  if (finished_.has_value()) {
    end_written_ = true;
    writing_ = true;
    WriteEnd(*finished_);
  }
}

void StreamRelay::Observe(unsigned code) {
  if (observed_ || ctx_.metrics == nullptr) return;
  observed_ = true;
  ctx_.metrics->ObserveHttpRequest(route_, code, absl::Now() - started_);
}

void StreamRelay::End() {
  if (ended_) return;
  ended_ = true;
  head_timer_.cancel();
  Observe(499);  // the client left before the head: nginx's code for it
  call_.reset();
  stream_slot_.reset();
  if (counted_) {
    if (ctx_.metrics != nullptr) ctx_.metrics->StreamClosed();
    ctx_.open_streams.fetch_sub(1);
  }
  counted_ = false;
  Close();
}

}  // namespace weir::queryd::http
