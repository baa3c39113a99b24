#include "queryd/reflection_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "weir/v1/query.grpc.pb.h"

namespace weir::queryd {
namespace {

using grpc::reflection::v1::ServerReflectionRequest;
using grpc::reflection::v1::ServerReflectionResponse;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr int kHttpRule = 72295728;  // google.api.http on MethodOptions

// The names of the files of a file_descriptor_response, in order.
std::vector<std::string> FileNames(const ServerReflectionResponse& response) {
  std::vector<std::string> names;
  for (const std::string& raw :
       response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    EXPECT_TRUE(file.ParseFromString(raw));
    names.push_back(file.name());
  }
  return names;
}

class ReflectionServiceTest : public ::testing::Test {
 protected:
  ServerReflectionResponse Ask(const ServerReflectionRequest& request) {
    ServerReflectionResponse response = service_.Answer(request, &sent_);
    EXPECT_EQ(response.original_request().SerializeAsString(),
              request.SerializeAsString());
    return response;
  }

  ReflectionServiceV1 service_{
      {"weir.v1.QueryService", "grpc.reflection.v1.ServerReflection"}};
  absl::flat_hash_set<std::string> sent_;
};

TEST_F(ReflectionServiceTest, ListsTheServicesItWasGiven) {
  ServerReflectionRequest request;
  request.set_list_services("");
  request.set_host("h");
  ServerReflectionResponse response = Ask(request);
  EXPECT_EQ(response.valid_host(), "h");
  std::vector<std::string> names;
  for (const auto& s : response.list_services_response().service()) {
    names.push_back(s.name());
  }
  EXPECT_THAT(names, ElementsAre("weir.v1.QueryService",
                                 "grpc.reflection.v1.ServerReflection"));
}

TEST_F(ReflectionServiceTest, SendsAFileFirstAndEachDependencyOncePerStream) {
  ServerReflectionRequest request;
  request.set_file_containing_symbol("weir.v1.QueryService");
  EXPECT_THAT(FileNames(Ask(request)),
              UnorderedElementsAre(
                  "weir/v1/query.proto", "google/api/annotations.proto",
                  "google/api/http.proto", "google/protobuf/descriptor.proto",
                  "google/protobuf/duration.proto",
                  "google/protobuf/timestamp.proto", "weir/v1/flow.proto"));
  EXPECT_EQ(FileNames(Ask(request)).front(), "weir/v1/query.proto");
  // Asked for again, a file comes alone: its dependencies went out.
  EXPECT_THAT(FileNames(Ask(request)), ElementsAre("weir/v1/query.proto"));
  request.set_file_by_filename("weir/v1/flow.proto");
  EXPECT_THAT(FileNames(Ask(request)), ElementsAre("weir/v1/flow.proto"));
}

TEST_F(ReflectionServiceTest, FindsMethodsFieldsAndItsOwnServices) {
  for (const std::string symbol :
       {"weir.v1.QueryService.ListFlows", "weir.v1.ListFlowsRequest.page_size",
        "grpc.reflection.v1.ServerReflection"}) {
    ServerReflectionRequest request;
    request.set_file_containing_symbol(symbol);
    const std::vector<std::string> files = FileNames(Ask(request));
    ASSERT_FALSE(files.empty()) << symbol;
  }
  ServerReflectionRequest request;
  request.set_file_containing_symbol("grpc.reflection.v1.ServerReflection");
  EXPECT_EQ(FileNames(Ask(request)).front(),
            "grpc_contracts/reflection_v1.proto");
}

TEST_F(ReflectionServiceTest, AnswersExtensions) {
  ServerReflectionRequest request;
  request.set_all_extension_numbers_of_type("google.protobuf.MethodOptions");
  ServerReflectionResponse response = Ask(request);
  EXPECT_EQ(response.all_extension_numbers_response().base_type_name(),
            "google.protobuf.MethodOptions");
  EXPECT_THAT(response.all_extension_numbers_response().extension_number(),
              Contains(kHttpRule));
  request.mutable_file_containing_extension()->set_containing_type(
      "google.protobuf.MethodOptions");
  request.mutable_file_containing_extension()->set_extension_number(kHttpRule);
  EXPECT_EQ(FileNames(Ask(request)).front(), "google/api/annotations.proto");
}

TEST_F(ReflectionServiceTest, WhatThePoolLacksIsNotFound) {
  std::vector<ServerReflectionRequest> requests(5);
  requests[0].set_file_by_filename("weir/v1/nope.proto");
  requests[1].set_file_containing_symbol("weir.v1.Nope");
  requests[2].mutable_file_containing_extension()->set_containing_type(
      "weir.v1.Nope");
  requests[3].mutable_file_containing_extension()->set_containing_type(
      "google.protobuf.MethodOptions");
  requests[3].mutable_file_containing_extension()->set_extension_number(1);
  requests[4].set_all_extension_numbers_of_type("weir.v1.Nope");
  for (const ServerReflectionRequest& request : requests) {
    ServerReflectionResponse response = Ask(request);
    EXPECT_EQ(response.error_response().error_code(),
              grpc::StatusCode::NOT_FOUND)
        << request.ShortDebugString();
    EXPECT_FALSE(response.has_file_descriptor_response());
  }
  EXPECT_THAT(Ask(requests[1]).error_response().error_message(),
              HasSubstr("weir.v1.Nope"));
}

TEST_F(ReflectionServiceTest, ARequestAskingNothingIsInvalid) {
  ServerReflectionResponse response = Ask(ServerReflectionRequest());
  EXPECT_EQ(response.error_response().error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(response.error_response().error_message(),
              HasSubstr("message_request"));
}

// `service` on an in-process server, and a stub of the reflection API
// `Reflection` on it.
template <typename Reflection>
struct InProcess {
  explicit InProcess(grpc::Service* service) {
    grpc::ServerBuilder builder;
    builder.RegisterService(service);
    server = builder.BuildAndStart();
    if (server != nullptr) {
      stub = Reflection::NewStub(
          server->InProcessChannel(grpc::ChannelArguments()));
    }
  }

  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<typename Reflection::Stub> stub;
};

TEST(ReflectionStreamTest,
     V1AlphaAnswersEachRequestOfAStreamAndEndsWhenTheClientDoes) {
  ReflectionServiceV1Alpha service({"weir.v1.QueryService"});
  const InProcess<grpc::reflection::v1alpha::ServerReflection> served(&service);
  ASSERT_NE(served.server, nullptr);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto stream = served.stub->ServerReflectionInfo(&context);
  // Each answer is read before the next request, as gRPC's own reflection
  // clients do (queryd reads the next request once an answer is written).
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.list_services_response().service_size(), 1);
  EXPECT_EQ(response.list_services_response().service(0).name(),
            "weir.v1.QueryService");
  request.set_file_containing_symbol("weir.v1.Nope");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.error_response().error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(response.original_request().file_containing_symbol(),
            "weir.v1.Nope");
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_TRUE(stream->Finish().ok());
  served.server->Shutdown();
  served.server->Wait();
}

TEST(ReflectionStreamTest, ACancelledStreamEnds) {
  ReflectionServiceV1 service({"weir.v1.QueryService"});
  const InProcess<grpc::reflection::v1::ServerReflection> served(&service);
  ASSERT_NE(served.server, nullptr);
  grpc::ClientContext context;
  auto stream = served.stub->ServerReflectionInfo(&context);
  ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  context.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The call is over on the server too: shutting down waits for nothing.
  const absl::Time start = absl::Now();
  served.server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  served.server->Wait();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace weir::queryd
