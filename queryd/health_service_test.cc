#include "queryd/health_service.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace weir::queryd {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using ::testing::ElementsAre;

constexpr char kIngest[] = "weir.v1.IngestService";
constexpr char kQuery[] = "weir.v1.QueryService";

class HealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&health_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = grpc::health::v1::Health::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    health_.Shutdown();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    server_->Wait();
  }

  grpc::Status Check(const std::string& service, HealthCheckResponse* out) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    HealthCheckRequest request;
    request.set_service(service);
    return stub_->Check(&context, request, out);
  }

  HealthService health_{{kIngest, kQuery}};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
};

// A Watch read on its own thread: the statuses it got and its end.
class Watching {
 public:
  Watching(grpc::health::v1::Health::Stub& stub, const std::string& service) {
    HealthCheckRequest request;
    request.set_service(service);
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    reader_ = stub.Watch(&context_, request);
    thread_ = std::thread([this] {
      HealthCheckResponse response;
      while (reader_->Read(&response)) {
        absl::MutexLock lock(&mu_);
        statuses_.push_back(response.status());
      }
      grpc::Status status = reader_->Finish();
      absl::MutexLock lock(&mu_);
      end_ = status.error_code();
      ended_ = true;
    });
  }
  ~Watching() {
    context_.TryCancel();
    thread_.join();
  }

  // The statuses once there are `count` (or after 10 s).
  std::vector<int> Statuses(size_t count) {
    absl::MutexLock lock(&mu_);
    wanted_ = count;
    mu_.AwaitWithTimeout(absl::Condition(this, &Watching::HasWanted),
                         absl::Seconds(10));
    return statuses_;
  }

  // The stream's status code once it ended, or -1 after 10 s.
  int End() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&ended_), absl::Seconds(10));
    return ended_ ? end_ : -1;
  }

  void Cancel() { context_.TryCancel(); }

 private:
  bool HasWanted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return statuses_.size() >= wanted_;
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::vector<int> statuses_ ABSL_GUARDED_BY(mu_);
  size_t wanted_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  int end_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(HealthServiceTest, CheckAnswersEachServiceAndTheServer) {
  for (const std::string service : {"", kIngest, kQuery}) {
    HealthCheckResponse response;
    ASSERT_TRUE(Check(service, &response).ok()) << service;
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING) << service;
  }
}

TEST_F(HealthServiceTest, CheckOfAnUnknownServiceIsNotFound) {
  HealthCheckResponse response;
  EXPECT_EQ(Check("weir.v1.Nope", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(health_.SetServing("weir.v1.Nope", false).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(HealthServiceTest, OneServiceDownTakesTheServerDownNotTheOthers) {
  ASSERT_TRUE(health_.SetServing(kIngest, false).ok());
  EXPECT_EQ(*health_.StatusOf(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(*health_.StatusOf(kIngest), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(*health_.StatusOf(kQuery), HealthCheckResponse::SERVING);
  ASSERT_TRUE(health_.SetServing(kIngest, true).ok());
  EXPECT_EQ(*health_.StatusOf(""), HealthCheckResponse::SERVING);
}

TEST_F(HealthServiceTest, WatchSendsTheStatusThenEveryChange) {
  Watching ingest(*stub_, kIngest);
  Watching server(*stub_, "");
  Watching query(*stub_, kQuery);
  EXPECT_THAT(ingest.Statuses(1), ElementsAre(HealthCheckResponse::SERVING));
  EXPECT_THAT(server.Statuses(1), ElementsAre(HealthCheckResponse::SERVING));
  ASSERT_TRUE(health_.SetServing(kIngest, false).ok());
  EXPECT_THAT(ingest.Statuses(2),
              ElementsAre(HealthCheckResponse::SERVING,
                          HealthCheckResponse::NOT_SERVING));
  EXPECT_THAT(server.Statuses(2),
              ElementsAre(HealthCheckResponse::SERVING,
                          HealthCheckResponse::NOT_SERVING));
  ASSERT_TRUE(health_.SetServing(kIngest, true).ok());
  EXPECT_THAT(ingest.Statuses(3), ElementsAre(HealthCheckResponse::SERVING,
                                              HealthCheckResponse::NOT_SERVING,
                                              HealthCheckResponse::SERVING));
  // A change of another service is not one of this one.
  EXPECT_THAT(query.Statuses(1), ElementsAre(HealthCheckResponse::SERVING));
}

TEST_F(HealthServiceTest, WatchOfAnUnknownServiceStaysOpenUntilCancelled) {
  Watching unknown(*stub_, "weir.v1.Nope");
  EXPECT_THAT(unknown.Statuses(1),
              ElementsAre(HealthCheckResponse::SERVICE_UNKNOWN));
  unknown.Cancel();
  EXPECT_EQ(unknown.End(), grpc::StatusCode::CANCELLED);
}

TEST_F(HealthServiceTest, ShutdownSendsNotServingAndEndsEveryWatch) {
  Watching ingest(*stub_, kIngest);
  Watching unknown(*stub_, "weir.v1.Nope");
  ASSERT_THAT(ingest.Statuses(1), ElementsAre(HealthCheckResponse::SERVING));
  ASSERT_EQ(unknown.Statuses(1).size(), 1);
  health_.Shutdown();
  EXPECT_EQ(ingest.End(), grpc::StatusCode::OK);
  EXPECT_THAT(ingest.Statuses(2),
              ElementsAre(HealthCheckResponse::SERVING,
                          HealthCheckResponse::NOT_SERVING));
  EXPECT_EQ(unknown.End(), grpc::StatusCode::OK);
  // Later changes are ignored; new watches get NOT_SERVING and end.
  ASSERT_TRUE(health_.SetServing(kIngest, true).ok());
  EXPECT_EQ(*health_.StatusOf(kIngest), HealthCheckResponse::NOT_SERVING);
  Watching late(*stub_, kQuery);
  EXPECT_EQ(late.End(), grpc::StatusCode::OK);
  EXPECT_THAT(late.Statuses(1), ElementsAre(HealthCheckResponse::NOT_SERVING));
}

TEST_F(HealthServiceTest, ManyWatchersComeAndGoWhileStatusesChange) {
  std::thread flipper([this] {
    for (int i = 0; i < 200; ++i) {
      health_.SetServing(kIngest, i % 2 == 1).IgnoreError();
    }
  });
  for (int i = 0; i < 20; ++i) {
    Watching w(*stub_, i % 2 == 0 ? kIngest : "");
    EXPECT_GE(w.Statuses(1).size(), 1);
  }
  flipper.join();
  ASSERT_TRUE(health_.SetServing(kIngest, true).ok());
  Watching last(*stub_, "");
  EXPECT_THAT(last.Statuses(1), ElementsAre(HealthCheckResponse::SERVING));
}

}  // namespace
}  // namespace weir::queryd
