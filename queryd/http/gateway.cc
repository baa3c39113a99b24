#include "queryd/http/gateway.h"

#include <cstdio>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "queryd/http/transcoder.h"

namespace weir::queryd::http {
namespace {

using google::protobuf::Message;

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool ToBytes(const grpc::ByteBuffer& buffer, std::string* bytes) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  bytes->clear();
  for (const grpc::Slice& slice : slices) {
    bytes->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return true;
}

// The response bytes as the route's JSON.
absl::StatusOr<std::string> RenderResponse(
    const Route& route, google::protobuf::MessageFactory& factory,
    const grpc::ByteBuffer& buffer) {
  std::string bytes;
  std::unique_ptr<Message> response(
      factory.GetPrototype(route.method->output_type())->New());
  if (!ToBytes(buffer, &bytes) || !response->ParseFromString(bytes)) {
    return absl::InternalError(absl::StrCat("cannot parse the response of ",
                                            route.method->full_name()));
  }
  return ResponseJson(route, *response);
}

// gRPC metadata keys are lowercase [a-z0-9-_.]; "grpc-" is reserved and
// "-bin" values are binary, which HTTP headers cannot carry as is.
bool ForwardableMetadata(absl::string_view key, absl::string_view value) {
  if (key.empty() || absl::StartsWith(key, "grpc-") ||
      absl::EndsWith(key, "-bin")) {
    return false;
  }
  for (char c : key) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' ||
          c == '_' || c == '.')) {
      return false;
    }
  }
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// A 401 says how to authenticate (RFC 9110 §11.6.1, RFC 6750 §3).
void AddChallenge(absl::StatusCode code, HttpReply* reply) {
  if (code == absl::StatusCode::kUnauthenticated) {
    reply->headers.emplace_back("WWW-Authenticate",
                                "Bearer realm=\"weir-queryd\"");
  }
}

}  // namespace

HttpReply ErrorReply(absl::StatusCode code, absl::string_view message) {
  HttpReply reply;
  reply.status = static_cast<unsigned>(HttpStatusFromCode(code));
  reply.body = StatusJson(code, message);
  AddChallenge(code, &reply);
  return reply;
}

HttpReply ErrorReply(const grpc::Status& status) {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  HttpReply reply;
  reply.status = static_cast<unsigned>(HttpStatusFromCode(code));
  reply.body = StatusJson(code, status.error_message(), status.error_details());
  AddChallenge(code, &reply);
  return reply;
}

// One unary call: its context and buffers live until the call completes.
class Gateway::UnaryCallState final : public Gateway::Cancellable {
 public:
  void Cancel() override { context.TryCancel(); }

  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
};

// One server-streaming call, as a bidi call on the generic stub: write the
// request, half-close, read responses one at a time. After each message
// the reactor holds the call (AddHold) until the HTTP side says Next() or
// Cancel(), so OnDone cannot run while the HTTP side may still start a
// read, and a slow HTTP client slows the reads instead of queueing
// messages here.
class Gateway::StreamCallImpl final
    : public StreamCall,
      public Gateway::Cancellable,
      public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamCallImpl(Gateway* gateway, const Route* route,
                 std::shared_ptr<StreamObserver> observer)
      : gateway_(gateway), route_(route), observer_(std::move(observer)) {}

  void set_id(uint64_t id) { id_ = id; }

  grpc::ClientContext* context() { return &context_; }

  void Start(std::shared_ptr<StreamCallImpl> self, const std::string& request) {
    self_ = std::move(self);
    request_ = ToByteBuffer(request);
    gateway_->stub_.PrepareBidiStreamingCall(&context_, route_->grpc_method,
                                             grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  void Next() override {
    {
      absl::MutexLock lock(&mu_);
      if (!held_) return;
      held_ = false;
    }
    StartRead(&response_);
    RemoveHold();
  }

  void Cancel() override {
    context_.TryCancel();
    bool release = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      release = held_;
      held_ = false;
    }
    if (release) RemoveHold();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the status follows in OnDone
    absl::StatusOr<std::string> json =
        RenderResponse(*route_, *gateway_->options_.factory, response_);
    if (!json.ok()) {
      {
        absl::MutexLock lock(&mu_);
        failure_ = json.status();
      }
      context_.TryCancel();
      return;
    }
    AddHold();
    bool cancelled = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
      held_ = !cancelled;
    }
    if (cancelled) {
      RemoveHold();
      return;
    }
    observer_->OnMessage(*std::move(json));
  }

  void OnDone(const grpc::Status& status) override {
    Gateway* gateway = gateway_;
    const uint64_t id = id_;
    {
      std::shared_ptr<StreamCallImpl> self = std::move(self_);
      std::shared_ptr<StreamObserver> observer = std::move(observer_);
      absl::Status failure;
      {
        absl::MutexLock lock(&mu_);
        failure = failure_;
      }
      grpc::Status final_status = status;
      if (!failure.ok()) {
        const std::string message(failure.message());
        final_status = grpc::Status(grpc::StatusCode::INTERNAL, message);
      } else if (status.error_code() == grpc::StatusCode::CANCELLED &&
                 gateway->shutting_down()) {
        // Cancelled by Shutdown(), not by the client: say why.
        final_status =
            grpc::Status(grpc::StatusCode::UNAVAILABLE, "queryd is stopping");
      }
      observer->OnFinish(final_status);
      // `self` may be the last reference: `this` may be gone after here.
    }
    gateway->End(id);
  }

 private:
  Gateway* const gateway_;
  const Route* const route_;
  std::shared_ptr<StreamObserver> observer_;
  uint64_t id_ = 0;
  std::shared_ptr<StreamCallImpl> self_;  // until OnDone
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(
    std::shared_ptr<grpc::ChannelInterface> channel, GatewayOptions options) {
  absl::StatusOr<RouteTable> routes = RouteTable::Build(options.services);
  if (!routes.ok()) return routes.status();
  return std::unique_ptr<Gateway>(
      new Gateway(std::move(channel), std::move(options), *std::move(routes)));
}

Gateway::Gateway(std::shared_ptr<grpc::ChannelInterface> channel,
                 GatewayOptions options, RouteTable routes)
    : options_(std::move(options)),
      routes_(std::move(routes)),
      stub_(std::move(channel)) {}

Gateway::~Gateway() { Shutdown(); }

Gateway::Prepared Gateway::Prepare(absl::string_view method,
                                   absl::string_view target,
                                   absl::string_view body) const {
  Prepared prepared;
  absl::string_view path = target;
  absl::string_view query;
  if (size_t q = target.find('?'); q != absl::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  RouteTable::Match match = routes_.Find(method, path);
  prepared.path_template = match.path_template;
  if (match.route == nullptr) {
    if (match.allowed_methods.empty()) {
      prepared.error =
          ErrorReply(absl::StatusCode::kNotFound,
                     absl::StrCat("no route for ", method, " ", path));
    } else {
      // grpc-gateway answers 405 with UNIMPLEMENTED in the body.
      const std::string allowed = absl::StrJoin(match.allowed_methods, ", ");
      HttpReply reply =
          ErrorReply(absl::StatusCode::kUnimplemented,
                     absl::StrCat("method ", method, " is not allowed on ",
                                  path, "; allowed: ", allowed));
      reply.status = 405;
      reply.headers.emplace_back("Allow", allowed);
      prepared.error = std::move(reply);
    }
    return prepared;
  }

  std::unique_ptr<Message> request(
      options_.factory->GetPrototype(match.route->method->input_type())->New());
  if (absl::Status status = BuildRequest(*match.route, match.bindings, query,
                                         body, request.get());
      !status.ok()) {
    prepared.error = ErrorReply(status.code(), status.message());
    return prepared;
  }
  if (!request->SerializeToString(&prepared.request)) {
    prepared.error =
        ErrorReply(absl::StatusCode::kInternal, "cannot serialize the request");
    return prepared;
  }
  prepared.route = match.route;
  return prepared;
}

void Gateway::SetUpContext(const Route& route, const Metadata& metadata,
                           grpc::ClientContext* context) const {
  if (!route.server_streaming) {
    context->set_deadline(
        absl::ToChronoTime(absl::Now() + options_.unary_deadline));
  }
  for (const auto& [key, value] : metadata) {
    if (ForwardableMetadata(key, value)) context->AddMetadata(key, value);
  }
}

uint64_t Gateway::Begin(const std::weak_ptr<Cancellable>& call) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return 0;
  const uint64_t id = ++last_id_;
  calls_.emplace(id, call);
  return id;
}

bool Gateway::shutting_down() {
  absl::MutexLock lock(&mu_);
  return shutting_down_;
}

void Gateway::End(uint64_t id) {
  absl::MutexLock lock(&mu_);
  calls_.erase(id);
}

void Gateway::CallUnary(const Prepared& prepared, const Metadata& metadata,
                        std::function<void(HttpReply)> done) {
  auto state = std::make_shared<UnaryCallState>();
  const uint64_t id = Begin(state);
  if (id == 0) {
    done(ErrorReply(absl::StatusCode::kUnavailable, "queryd is stopping"));
    return;
  }
  SetUpContext(*prepared.route, metadata, &state->context);
  state->request = ToByteBuffer(prepared.request);
  UnaryCallState* call = state.get();
  stub_.UnaryCall(
      &call->context, prepared.route->grpc_method, grpc::StubOptions(),
      &call->request, &call->response,
      [this, id, route = prepared.route, state = std::move(state),
       done = std::move(done)](const grpc::Status& status) mutable {
        HttpReply reply;
        if (status.ok()) {
          absl::StatusOr<std::string> json =
              RenderResponse(*route, *options_.factory, state->response);
          reply = json.ok() ? HttpReply{200, "application/json", *json, {}}
                            : ErrorReply(json.status().code(),
                                         json.status().message());
        } else if (status.error_code() == grpc::StatusCode::CANCELLED &&
                   shutting_down()) {
          reply =
              ErrorReply(absl::StatusCode::kUnavailable, "queryd is stopping");
        } else {
          reply = ErrorReply(status);
        }
        // Release everything the call holds before saying it has ended:
        // Shutdown() returns once every call has, and what it holds (the
        // HTTP session) must not outlive that.
        state.reset();
        std::function<void(HttpReply)> callback = std::move(done);
        callback(std::move(reply));
        callback = nullptr;
        End(id);
      });
}

std::shared_ptr<StreamCall> Gateway::CallStream(
    const Prepared& prepared, const Metadata& metadata,
    std::shared_ptr<StreamObserver> observer) {
  auto call = std::make_shared<StreamCallImpl>(this, prepared.route,
                                               std::move(observer));
  const uint64_t id = Begin(call);
  if (id == 0) return nullptr;
  call->set_id(id);
  SetUpContext(*prepared.route, metadata, call->context());
  call->Start(call, prepared.request);
  return call;
}

void Gateway::Shutdown() {
  std::vector<std::shared_ptr<Cancellable>> running;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (const auto& [key, call] : calls_) {
      if (std::shared_ptr<Cancellable> strong = call.lock()) {
        running.push_back(std::move(strong));
      }
    }
  }
  for (const std::shared_ptr<Cancellable>& call : running) call->Cancel();
  running.clear();
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&idle), absl::Seconds(30))) {
    std::fprintf(stderr,
                 "weir-queryd: http: %zu calls did not end after cancelling\n",
                 calls_.size());
  }
}

}  // namespace weir::queryd::http
