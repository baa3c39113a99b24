#include "queryd/http/route_table.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queryd/http/test_service.h"
#include "queryd/http/transcoder.h"
#include "weir/v1/query.grpc.pb.h"

namespace weir::queryd::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const google::protobuf::ServiceDescriptor* QueryService() {
  return google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      "weir.v1.QueryService");
}

TEST(RouteTableTest, EveryAnnotatedQueryMethodHasItsRoutes) {
  absl::StatusOr<RouteTable> table = RouteTable::Build({QueryService()});
  ASSERT_TRUE(table.ok()) << table.status();
  std::vector<std::string> routes;
  for (const Route& route : table->routes()) {
    routes.push_back(absl::StrCat(route.http_method, " ", route.path.text(),
                                  " -> ", route.grpc_method,
                                  route.server_streaming ? " (stream)" : ""));
  }
  EXPECT_THAT(
      routes,
      ElementsAre(
          "GET /v1/health -> /weir.v1.QueryService/Health",
          "GET /api/health -> /weir.v1.QueryService/Health",
          "GET /v1/stats -> /weir.v1.QueryService/GetStats",
          "GET /api/stats -> /weir.v1.QueryService/GetStats",
          "GET /v1/flows -> /weir.v1.QueryService/ListFlows",
          "GET /api/history -> /weir.v1.QueryService/ListFlows",
          "GET /v1/top -> /weir.v1.QueryService/TopTalkers",
          "GET /v1/timeseries -> /weir.v1.QueryService/TimeSeries",
          "GET /v1/connections -> /weir.v1.QueryService/ListConnections",
          "GET /api/live -> /weir.v1.QueryService/ListConnections",
          "GET /v1/nodes -> /weir.v1.QueryService/ListNodes",
          "GET /v1/flows:watch -> /weir.v1.QueryService/WatchFlows (stream)",
          "GET /v1/stats:watch -> /weir.v1.QueryService/WatchStats (stream)",
          "GET /api/stream -> /weir.v1.QueryService/WatchStats (stream)"));
}

TEST(RouteTableTest, FindsByMethodAndPath) {
  absl::StatusOr<RouteTable> table = RouteTable::Build({QueryService()});
  ASSERT_TRUE(table.ok()) << table.status();

  RouteTable::Match m = table->Find("GET", "/v1/flows:watch");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method->name(), "WatchFlows");
  EXPECT_EQ(m.path_template, "/v1/flows:watch");

  m = table->Find("GET", "/v1/flows");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method->name(), "ListFlows");

  m = table->Find("POST", "/v1/flows");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_THAT(m.allowed_methods, ElementsAre("GET"));
  EXPECT_EQ(m.path_template, "/v1/flows");

  m = table->Find("GET", "/v1/nope");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_THAT(m.allowed_methods, IsEmpty());
  EXPECT_EQ(m.path_template, "");
}

TEST(RouteTableTest, ReadsBodiesAndVariables) {
  testing::TestPool pool;
  absl::StatusOr<RouteTable> table =
      RouteTable::Build({testing::AddThingsService(pool)});
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->routes().size(), 7u);  // Hidden has no annotation

  RouteTable::Match m = table->Find("PATCH", "/v1/things/a%20b/inner");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->body, "inner");
  ASSERT_EQ(m.bindings.size(), 1u);
  EXPECT_EQ(m.bindings[0].value, "a b");

  m = table->Find("GET", "/v1/shelves/1/things/2");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method->name(), "GetThing");
  EXPECT_EQ(m.path_template, "/v1/{id=shelves/*/things/*}");

  m = table->Find("PUT", "/v1/things/x");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_THAT(m.allowed_methods, UnorderedElementsAre("GET", "DELETE"));

  m = table->Find("POST", "/v1/things");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->body, "*");
}

TEST(RouteTableTest, RejectsBadAnnotationsAtStartUp) {
  struct Case {
    const char* method;
    const char* error;
  };
  const std::vector<Case> cases = {
      {R"(name: "M" input_type: ".weir.bad.R" output_type: ".weir.bad.R"
          options { [google.api.http] { get: "v1/x" } })",
       "must start with '/'"},
      {R"(name: "M" input_type: ".weir.bad.R" output_type: ".weir.bad.R"
          options { [google.api.http] { get: "/v1/{nope}" } })",
       "path variable \"nope\": no field \"nope\" in weir.bad.R"},
      {R"(name: "M" input_type: ".weir.bad.R" output_type: ".weir.bad.R"
          options { [google.api.http] { post: "/v1/x" body: "nope" } })",
       "body \"nope\""},
      {R"(name: "M" input_type: ".weir.bad.R" output_type: ".weir.bad.R"
          options { [google.api.http] { post: "/v1/x" body: "a" } })",
       "body \"a\" must be \"*\" or name a singular message field"},
      {R"(name: "M" input_type: ".weir.bad.R" output_type: ".weir.bad.R"
          client_streaming: true
          options { [google.api.http] { post: "/v1/x" body: "*" } })",
       "client-streaming methods cannot be served over REST"},
      {R"(name: "M" input_type: ".weir.bad.R" output_type: ".weir.bad.R"
          options { [google.api.http] { get: "/v1/x"
                    additional_bindings { get: "/v1/x" } } })",
       "GET /v1/x is already bound to weir.bad.S.M"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    testing::TestPool pool;
    const google::protobuf::FileDescriptor* file = pool.Add(absl::StrCat(
        R"(name: "bad.proto" package: "weir.bad" syntax: "proto3"
           message_type { name: "R"
             field { name: "a" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "a" } }
           service { name: "S" method { )",
        cases[i].method, "} }"));
    absl::StatusOr<RouteTable> table = RouteTable::Build({file->service(0)});
    ASSERT_FALSE(table.ok()) << i;
    EXPECT_THAT(std::string(table.status().message()),
                HasSubstr("google.api.http of weir.bad.S.M"));
    EXPECT_THAT(std::string(table.status().message()),
                HasSubstr(cases[i].error))
        << i;
  }
}

TEST(TranscoderTest, MapsEveryCodeAsGrpcGatewayDoes) {
  const std::vector<std::pair<absl::StatusCode, int>> expected = {
      {absl::StatusCode::kOk, 200},
      {absl::StatusCode::kCancelled, 499},
      {absl::StatusCode::kUnknown, 500},
      {absl::StatusCode::kInvalidArgument, 400},
      {absl::StatusCode::kDeadlineExceeded, 504},
      {absl::StatusCode::kNotFound, 404},
      {absl::StatusCode::kAlreadyExists, 409},
      {absl::StatusCode::kPermissionDenied, 403},
      {absl::StatusCode::kResourceExhausted, 429},
      {absl::StatusCode::kFailedPrecondition, 400},
      {absl::StatusCode::kAborted, 409},
      {absl::StatusCode::kOutOfRange, 400},
      {absl::StatusCode::kUnimplemented, 501},
      {absl::StatusCode::kInternal, 500},
      {absl::StatusCode::kUnavailable, 503},
      {absl::StatusCode::kDataLoss, 500},
      {absl::StatusCode::kUnauthenticated, 401},
  };
  for (const auto& [code, status] : expected) {
    EXPECT_EQ(HttpStatusFromCode(code), status) << static_cast<int>(code);
  }
}

TEST(TranscoderTest, StatusJsonIsAGoogleRpcStatus) {
  EXPECT_EQ(StatusJson(absl::StatusCode::kInvalidArgument, "limit: \"x\""),
            R"({"code":3,"message":"limit: \"x\"","details":[]})");
}

TEST(TranscoderTest, TalkersShowOnlyTheirGroupingAndTotals) {
  // Zero values are printed (a count of 0 is an answer), but a Talker's key
  // fields have presence: those outside the grouping are absent, and a
  // grouping's zero (ICMP's port 0) is shown. (The printer puts fields
  // with presence after the others.)
  weir::v1::Talker talker;
  talker.set_protocol(1);
  talker.set_port(0);
  talker.set_bytes(120);
  absl::StatusOr<std::string> json = MessageJson(talker);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(
      *json,
      R"({"bytes":"120","packets":"0","flows":"0","port":0,"protocol":1})");
}

}  // namespace
}  // namespace weir::queryd::http
