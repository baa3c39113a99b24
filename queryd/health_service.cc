#include "queryd/health_service.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace weir::queryd {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream. The service calls Send (under its mutex) with each new
// status; at most one write is in flight, and a status that changes while
// one is leaves only its newest value to send. Finishes exactly once: when
// the client cancels, when a write fails, or after the last status at
// shutdown.
class HealthService::Watcher final
    : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService& service, std::string name)
      : service_(service), name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  // `last`: the stream ends once `status` is sent.
  void Send(ServingStatus status, bool last) {
    absl::MutexLock lock(&mu_);
    wanted_ = status;
    last_ = last_ || last;
    WriteOrFinish();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) cancelled_ = true;  // the client is gone
    WriteOrFinish();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    WriteOrFinish();
  }

  void OnDone() override {
    service_.Remove(this);
    delete this;
  }

 private:
  void WriteOrFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return;  // OnWriteDone comes back here
    if (cancelled_) {
      finished_ = true;
      Finish(grpc::Status::CANCELLED);
      return;
    }
    if (!sent_.has_value() || *sent_ != wanted_) {
      sent_ = wanted_;
      response_.set_status(wanted_);
      writing_ = true;
      StartWrite(&response_);
      return;
    }
    if (last_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  HealthService& service_;
  const std::string name_;
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);
  ServingStatus wanted_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  std::optional<ServingStatus> sent_ ABSL_GUARDED_BY(mu_);
  bool last_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

HealthService::HealthService(const std::vector<std::string>& services) {
  absl::MutexLock lock(&mu_);
  for (const std::string& service : services) serving_[service] = true;
}

absl::Status HealthService::SetServing(absl::string_view service,
                                       bool serving) {
  absl::MutexLock lock(&mu_);
  auto it = serving_.find(service);
  if (it == serving_.end()) {
    return absl::NotFoundError(absl::StrCat("no service \"", service, "\""));
  }
  if (shut_down_ || it->second == serving) return absl::OkStatus();
  it->second = serving;
  NotifyAll(/*last=*/false);
  return absl::OkStatus();
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  NotifyAll(/*last=*/true);
}

absl::StatusOr<HealthService::ServingStatus> HealthService::StatusOf(
    absl::string_view service) const {
  absl::MutexLock lock(&mu_);
  if (!service.empty() && !serving_.contains(service)) {
    return absl::NotFoundError(
        absl::StrCat("unknown service \"", service, "\""));
  }
  return WatchedStatus(std::string(service));
}

HealthService::ServingStatus HealthService::WatchedStatus(
    const std::string& service) const {
  if (!service.empty() && !serving_.contains(service)) {
    return HealthCheckResponse::SERVICE_UNKNOWN;
  }
  if (shut_down_) return HealthCheckResponse::NOT_SERVING;
  if (service.empty()) {
    for (const auto& [name, serving] : serving_) {
      if (!serving) return HealthCheckResponse::NOT_SERVING;
    }
    return HealthCheckResponse::SERVING;
  }
  return serving_.at(service) ? HealthCheckResponse::SERVING
                              : HealthCheckResponse::NOT_SERVING;
}

void HealthService::NotifyAll(bool last) {
  for (Watcher* watcher : watchers_) {
    watcher->Send(WatchedStatus(watcher->name()), last);
  }
}

void HealthService::Remove(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

grpc::ServerUnaryReactor* HealthService::Check(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request,
    HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<ServingStatus> status = StatusOf(request->service());
  if (!status.ok()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                 std::string(status.status().message())));
    return reactor;
  }
  response->set_status(*status);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* /*context*/,
    const HealthCheckRequest* request) {
  auto* watcher = new Watcher(*this, request->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  watcher->Send(WatchedStatus(watcher->name()), shut_down_);
  return watcher;
}

}  // namespace weir::queryd
