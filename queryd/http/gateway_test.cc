#include "queryd/http/gateway.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/message.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "queryd/http/test_service.h"

namespace weir::queryd::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

grpc::ByteBuffer Buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// weir.test.Things, served through the generic callback API:
// - GetThing, CreateThing, UpdateInner, DeleteThing answer with the
//   request's own bytes (the message types share their first fields), with
//   Thing.name set to the "authorization" metadata when there is one;
// - Fail fails with the code given as its "view";
// - WatchThings sends `count` Things ("t0", "t1", ...; forever when -1),
//   then ends OK, or with INVALID_ARGUMENT(fail) when fail is set.
class ThingsServer final : public grpc::CallbackGenericService {
 public:
  explicit ThingsServer(testing::TestPool* pool) : pool_(pool) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    return new Reactor(context, pool_);
  }

 private:
  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    Reactor(grpc::GenericCallbackServerContext* context,
            testing::TestPool* pool)
        : pool_(pool),
          method_(context->method().substr(context->method().rfind('/') + 1)) {
      auto auth = context->client_metadata().find("authorization");
      if (auth != context->client_metadata().end()) {
        auth_ = std::string(auth->second.data(), auth->second.size());
      }
      StartRead(&request_);
    }

    void OnReadDone(bool ok) override {
      if (!ok) {
        FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "none"));
        return;
      }
      const std::string bytes = Bytes(request_);
      if (method_ == "WatchThings") {
        std::unique_ptr<google::protobuf::Message> r =
            New("weir.test.ThingsRequest");
        r->ParseFromString(bytes);
        const auto* d = r->GetDescriptor();
        count_ = r->GetReflection()->GetInt32(*r, d->FindFieldByName("count"));
        fail_ = r->GetReflection()->GetString(*r, d->FindFieldByName("fail"));
        WriteNext();
        return;
      }
      if (method_ == "Fail") {
        std::unique_ptr<google::protobuf::Message> r =
            New("weir.test.GetThingRequest");
        r->ParseFromString(bytes);
        int code = 0;
        (void)absl::SimpleAtoi(
            r->GetReflection()->GetString(
                *r, r->GetDescriptor()->FindFieldByName("view")),
            &code);
        FinishOnce(grpc::Status(static_cast<grpc::StatusCode>(code),
                                "failed on purpose"));
        return;
      }
      std::string answer = bytes;
      if (!auth_.empty()) {
        std::unique_ptr<google::protobuf::Message> thing =
            New("weir.test.Thing");
        thing->ParseFromString(bytes);
        thing->GetReflection()->SetString(
            thing.get(), thing->GetDescriptor()->FindFieldByName("name"),
            auth_);
        answer = thing->SerializeAsString();
      }
      response_ = Buffer(answer);
      absl::MutexLock lock(&mu_);
      finished_ = true;
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    }

    void OnWriteDone(bool ok) override {
      {
        absl::MutexLock lock(&mu_);
        writing_ = false;
        if (!ok || cancelled_) {
          FinishLocked(grpc::Status::CANCELLED);
          return;
        }
      }
      WriteNext();
    }

    void OnCancel() override {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      if (!writing_) FinishLocked(grpc::Status::CANCELLED);
    }

    void OnDone() override { delete this; }

   private:
    std::unique_ptr<google::protobuf::Message> New(const std::string& type) {
      const google::protobuf::Descriptor* d =
          pool_->pool()->FindMessageTypeByName(type);
      return std::unique_ptr<google::protobuf::Message>(
          pool_->factory()->GetPrototype(d)->New());
    }

    void WriteNext() {
      absl::MutexLock lock(&mu_);
      if (cancelled_) {
        FinishLocked(grpc::Status::CANCELLED);
        return;
      }
      if (count_ >= 0 && sent_ >= count_) {
        FinishLocked(
            fail_.empty()
                ? grpc::Status::OK
                : grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, fail_));
        return;
      }
      std::unique_ptr<google::protobuf::Message> thing = New("weir.test.Thing");
      thing->GetReflection()->SetString(
          thing.get(), thing->GetDescriptor()->FindFieldByName("id"),
          absl::StrCat("t", sent_++));
      response_ = Buffer(thing->SerializeAsString());
      writing_ = true;
      StartWrite(&response_);
    }

    void FinishOnce(const grpc::Status& status) {
      absl::MutexLock lock(&mu_);
      FinishLocked(status);
    }
    void FinishLocked(const grpc::Status& status)
        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (finished_) return;
      finished_ = true;
      Finish(status);
    }

    testing::TestPool* const pool_;
    const std::string method_;
    std::string auth_;
    grpc::ByteBuffer request_;
    grpc::ByteBuffer response_;
    absl::Mutex mu_;
    bool writing_ ABSL_GUARDED_BY(mu_) = false;
    bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
    bool finished_ ABSL_GUARDED_BY(mu_) = false;
    int count_ = 0;
    int sent_ = 0;
    std::string fail_;
  };

  testing::TestPool* const pool_;
};

// Collects a stream; the test thread asks for each next message.
class Collector final : public StreamObserver {
 public:
  void OnMessage(std::string json) override {
    absl::MutexLock lock(&mu_);
    messages_.push_back(std::move(json));
  }
  void OnFinish(grpc::Status status) override {
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
  }

  bool WaitForMessages(size_t n) {
    absl::MutexLock lock(&mu_);
    auto ready = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return messages_.size() >= n || status_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(10));
    return messages_.size() >= n;
  }
  std::optional<grpc::Status> WaitForFinish() {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return status_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10));
    return status_;
  }
  std::vector<std::string> messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> messages_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ = testing::AddThingsService(pool_);
    things_ = std::make_unique<ThingsServer>(&pool_);
    grpc::ServerBuilder builder;
    builder.RegisterCallbackGenericService(things_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    GatewayOptions options;
    options.services = {service_};
    options.factory = pool_.factory();
    absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Create(
        server_->InProcessChannel(grpc::ChannelArguments()), options);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
  }

  void TearDown() override {
    gateway_->Shutdown();
    gateway_.reset();
    server_->Shutdown();
  }

  HttpReply Call(const std::string& method, const std::string& target,
                 const std::string& body = "", const Metadata& metadata = {}) {
    Gateway::Prepared prepared = gateway_->Prepare(method, target, body);
    if (prepared.error.has_value()) return *prepared.error;
    absl::Notification done;
    HttpReply reply;
    gateway_->CallUnary(prepared, metadata, [&](HttpReply r) {
      reply = std::move(r);
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    return reply;
  }

  // Starts a stream; every message is acknowledged by the test itself.
  std::pair<std::shared_ptr<StreamCall>, std::shared_ptr<Collector>> Stream(
      const std::string& target) {
    Gateway::Prepared prepared = gateway_->Prepare("GET", target, "");
    EXPECT_FALSE(prepared.error.has_value()) << prepared.error->body;
    auto collector = std::make_shared<Collector>();
    return {gateway_->CallStream(prepared, {}, collector), collector};
  }

  testing::TestPool pool_;
  const google::protobuf::ServiceDescriptor* service_ = nullptr;
  std::unique_ptr<ThingsServer> things_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(GatewayTest, PathVariablesAndQueryParametersMakeTheRequest) {
  HttpReply reply = Call("GET", "/v1/things/abc?view=full");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.body, R"({"id":"abc","name":"full","tags":[],"big":"0"})");

  reply = Call("GET", "/v1/shelves/s1/things/t%2F2");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_THAT(reply.body, HasSubstr(R"("id":"shelves/s1/things/t%2F2")"));
}

TEST_F(GatewayTest, WholeBodyIsTheRequest) {
  HttpReply reply = Call(
      "POST", "/v1/things",
      R"({"id":"x","tags":[1,2],"when":"2024-05-01T12:00:00Z","big":"9007199254740993"})");
  EXPECT_EQ(reply.status, 200u) << reply.body;
  // (protobuf's printer puts unset-but-printed defaults before messages.)
  EXPECT_EQ(
      reply.body,
      R"({"id":"x","name":"","tags":[1,2],"big":"9007199254740993","when":"2024-05-01T12:00:00Z"})");
  // lowerCamel and original names are both accepted; an empty body is {}.
  EXPECT_EQ(Call("POST", "/v1/things", "").status, 200u);
}

TEST_F(GatewayTest, BadBodiesAreInvalidArgument) {
  HttpReply reply = Call("POST", "/v1/things", R"({"id": "x",)");
  EXPECT_EQ(reply.status, 400u);
  EXPECT_THAT(reply.body, StartsWith(R"({"code":3,"message":"request body: )"));

  reply = Call("POST", "/v1/things", R"({"bogus": 1})");
  EXPECT_EQ(reply.status, 400u);
  EXPECT_THAT(reply.body, HasSubstr("bogus"));

  reply = Call("POST", "/v1/things", R"({"tags": ["x"]})");
  EXPECT_EQ(reply.status, 400u);
  EXPECT_THAT(reply.body, HasSubstr("tags"));

  reply = Call("POST", "/v1/things?name=y", R"({"id":"x"})");
  EXPECT_EQ(reply.status, 400u);
  EXPECT_THAT(reply.body,
              HasSubstr("query parameter \\\"name\\\": not allowed: the "
                        "request body sets every field"));
}

TEST_F(GatewayTest, BodyFieldWithPathAndQuery) {
  HttpReply reply =
      Call("PATCH", "/v1/things/abc/inner?view=v", R"({"note":"n","count":3})");
  EXPECT_EQ(reply.status, 200u) << reply.body;
  EXPECT_EQ(
      reply.body,
      R"({"id":"abc","name":"v","inner":{"note":"n","count":3},"tags":[],"big":"0"})");

  reply = Call("PATCH", "/v1/things/abc/inner?inner.note=n", "{}");
  EXPECT_EQ(reply.status, 400u);
  EXPECT_THAT(reply.body, HasSubstr("is set by the path or the body"));

  reply = Call("PATCH", "/v1/things/abc/inner?id=other", "{}");
  EXPECT_EQ(reply.status, 400u);
  EXPECT_THAT(reply.body, HasSubstr("\\\"id\\\" is set by the path"));
}

TEST_F(GatewayTest, UnknownPathsAndMethods) {
  HttpReply reply = Call("GET", "/v1/nope?x=1");
  EXPECT_EQ(reply.status, 404u);
  EXPECT_EQ(reply.body,
            R"({"code":5,"message":"no route for GET /v1/nope","details":[]})");

  reply = Call("PUT", "/v1/things/x");
  EXPECT_EQ(reply.status, 405u);
  ASSERT_EQ(reply.headers.size(), 1u);
  EXPECT_EQ(reply.headers[0].first, "Allow");
  EXPECT_EQ(reply.headers[0].second, "GET, DELETE");
  EXPECT_THAT(reply.body, StartsWith(R"({"code":12,)"));

  EXPECT_EQ(Call("DELETE", "/v1/things/x").status, 200u);
  EXPECT_EQ(Call("POST", "/v1/hidden", "{}").status, 404u);
}

TEST_F(GatewayTest, GrpcErrorsMapToHttpStatuses) {
  const std::vector<std::pair<int, unsigned>> expected = {
      {1, 499},  {2, 500},  {3, 400},  {4, 504},  {5, 404},  {6, 409},
      {7, 403},  {8, 429},  {9, 400},  {10, 409}, {11, 400}, {12, 501},
      {13, 500}, {14, 503}, {15, 500}, {16, 401}};
  for (const auto& [code, status] : expected) {
    HttpReply reply = Call("GET", absl::StrCat("/v1/fail/", code));
    EXPECT_EQ(reply.status, status) << code;
    EXPECT_EQ(reply.body,
              absl::StrCat(R"({"code":)", code,
                           R"(,"message":"failed on purpose","details":[]})"))
        << code;
  }
}

TEST_F(GatewayTest, ForwardsAuthorizationMetadata) {
  HttpReply reply = Call("GET", "/v1/things/a", "",
                         {{"authorization", "Bearer t0k3n"},
                          {"Not Valid", "x"},
                          {"grpc-internal", "y"}});
  EXPECT_EQ(reply.status, 200u);
  EXPECT_THAT(reply.body, HasSubstr(R"("name":"Bearer t0k3n")"));
}

TEST_F(GatewayTest, StreamsDeliverMessagesOneAtATimeAndEnd) {
  auto [call, collector] = Stream("/v1/things:watch?count=3");
  ASSERT_NE(call, nullptr);
  for (size_t i = 1; i <= 3; ++i) {
    ASSERT_TRUE(collector->WaitForMessages(i));
    // Nothing more arrives until this one is acknowledged.
    EXPECT_EQ(collector->messages().size(), i);
    call->Next();
  }
  std::optional<grpc::Status> status = collector->WaitForFinish();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->ok()) << status->error_message();
  EXPECT_THAT(collector->messages(),
              ElementsAre(HasSubstr(R"("id":"t0")"), HasSubstr(R"("id":"t1")"),
                          HasSubstr(R"("id":"t2")")));
}

TEST_F(GatewayTest, StreamErrorsArriveAfterTheMessages) {
  auto [call, collector] = Stream("/v1/things:watch?count=2&fail=boom");
  for (size_t i = 1; i <= 2; ++i) {
    ASSERT_TRUE(collector->WaitForMessages(i));
    call->Next();
  }
  std::optional<grpc::Status> status = collector->WaitForFinish();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status->error_message(), "boom");
}

TEST_F(GatewayTest, CancelEndsAnEndlessStream) {
  auto [call, collector] = Stream("/v1/things:watch?count=-1");
  ASSERT_TRUE(collector->WaitForMessages(1));
  call->Next();
  ASSERT_TRUE(collector->WaitForMessages(2));
  call->Cancel();  // while holding the second message
  std::optional<grpc::Status> status = collector->WaitForFinish();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(GatewayTest, ShutdownCancelsStreamsAndRefusesNewCalls) {
  auto [call, collector] = Stream("/v1/things:watch?count=-1");
  ASSERT_TRUE(collector->WaitForMessages(1));
  call->Next();
  gateway_->Shutdown();
  std::optional<grpc::Status> status = collector->WaitForFinish();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status->error_message(), "queryd is stopping");

  HttpReply reply = Call("GET", "/v1/things/a");
  EXPECT_EQ(reply.status, 503u);
  auto [late, late_collector] = Stream("/v1/things:watch?count=1");
  EXPECT_EQ(late, nullptr);
}

TEST_F(GatewayTest, BadStreamParametersAreRejectedBeforeCalling) {
  Gateway::Prepared prepared =
      gateway_->Prepare("GET", "/v1/things:watch?count=many", "");
  ASSERT_TRUE(prepared.error.has_value());
  EXPECT_EQ(prepared.error->status, 400u);
  EXPECT_THAT(prepared.error->body, HasSubstr("query parameter \\\"count\\\""));
  EXPECT_EQ(prepared.path_template, "/v1/things:watch");
}

}  // namespace
}  // namespace weir::queryd::http
