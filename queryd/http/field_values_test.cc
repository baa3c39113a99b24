#include "queryd/http/field_values.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "weir/v1/query.pb.h"

namespace weir::queryd::http {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Applies a query string to a fresh message of type M.
template <typename M>
absl::StatusOr<M> FromQuery(const std::string& query,
                            const std::vector<std::string>& reserved = {}) {
  absl::StatusOr<std::vector<FieldValue>> values = ParseQueryString(query);
  if (!values.ok()) return values.status();
  M message;
  absl::Status status =
      MergeFieldValues(*values, "query parameter", reserved, &message);
  if (!status.ok()) return status;
  return message;
}

TEST(ParseQueryStringTest, DecodesPairs) {
  absl::StatusOr<std::vector<FieldValue>> values =
      ParseQueryString("a=1&b=x%20y+z&&c&d=%2B1&e=");
  ASSERT_TRUE(values.ok()) << values.status();
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const FieldValue& v : *values) pairs.emplace_back(v.name, v.value);
  EXPECT_THAT(pairs,
              ElementsAre(std::pair<std::string, std::string>("a", "1"),
                          std::pair<std::string, std::string>("b", "x y z"),
                          std::pair<std::string, std::string>("c", ""),
                          std::pair<std::string, std::string>("d", "+1"),
                          std::pair<std::string, std::string>("e", "")));
  EXPECT_FALSE(ParseQueryString("a=%zz").ok());
}

TEST(MergeFieldValuesTest, SetsScalarsNestedAndRepeatedFields) {
  absl::StatusOr<weir::v1::ListFlowsRequest> r =
      FromQuery<weir::v1::ListFlowsRequest>(
          "page_size=10&filter.src_addr=192.0.2.0/24&filter.port=80"
          "&filter.port=443&filter.node=a&filter.node=b&page_token=t%3D");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->page_size(), 10);
  EXPECT_THAT(r->filter().src_addr(), ElementsAre("192.0.2.0/24"));
  EXPECT_THAT(r->filter().port(), ElementsAre(80u, 443u));
  EXPECT_THAT(r->filter().node(), ElementsAre("a", "b"));
  EXPECT_EQ(r->page_token(), "t=");
}

TEST(MergeFieldValuesTest, AcceptsLowerCamelNames) {
  absl::StatusOr<weir::v1::ListFlowsRequest> r =
      FromQuery<weir::v1::ListFlowsRequest>(
          "pageSize=5&filter.srcAddr=2001:db8::/32&filter.dstPort=53");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->page_size(), 5);
  EXPECT_THAT(r->filter().src_addr(), ElementsAre("2001:db8::/32"));
  EXPECT_THAT(r->filter().dst_port(), ElementsAre(53u));
}

TEST(MergeFieldValuesTest, EnumsByNameNumberOrShortForm) {
  const struct {
    std::string query;
    weir::v1::GroupBy group_by;
    weir::v1::OrderBy order_by;
    weir::v1::Direction direction;
  } cases[] = {
      {"group_by=GROUP_BY_DST_PORT&order_by=2&filter.direction=DIRECTION_"
       "EGRESS",
       weir::v1::GROUP_BY_DST_PORT, weir::v1::ORDER_BY_PACKETS,
       weir::v1::DIRECTION_EGRESS},
      {"group_by=src_port&order_by=bytes&filter.direction=ingress",
       weir::v1::GROUP_BY_SRC_PORT, weir::v1::ORDER_BY_BYTES,
       weir::v1::DIRECTION_INGRESS},
  };
  for (const auto& c : cases) {
    absl::StatusOr<weir::v1::TopTalkersRequest> r =
        FromQuery<weir::v1::TopTalkersRequest>(c.query);
    ASSERT_TRUE(r.ok()) << c.query << ": " << r.status();
    EXPECT_EQ(r->group_by(), c.group_by) << c.query;
    EXPECT_EQ(r->order_by(), c.order_by) << c.query;
    EXPECT_EQ(r->filter().direction(), c.direction) << c.query;
  }
}

TEST(MergeFieldValuesTest, EnumErrorsListEveryForm) {
  for (const char* query : {"order_by=9", "order_by=bytez", "order_by=-1",
                            "order_by=order_by_bytes", "order_by="}) {
    absl::StatusOr<weir::v1::ListConnectionsRequest> r =
        FromQuery<weir::v1::ListConnectionsRequest>(query);
    ASSERT_FALSE(r.ok()) << query;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(
        std::string(r.status().message()),
        EndsWith("(want one of ORDER_BY_UNSPECIFIED, ORDER_BY_BYTES, "
                 "ORDER_BY_PACKETS, ORDER_BY_FLOWS; in short unspecified, "
                 "bytes, packets, flows; or its number)"))
        << query;
    EXPECT_THAT(std::string(r.status().message()),
                StartsWith("query parameter \"order_by\": invalid value"));
  }
}

TEST(ParseDurationTextTest, ProtoJsonAndUnitForms) {
  struct Case {
    const char* text;
    absl::Duration want;
  };
  for (const Case& c : std::vector<Case>{
           {"90s", absl::Seconds(90)},
           {"1.5s", absl::Milliseconds(1500)},
           {"0s", absl::ZeroDuration()},
           {"1m30s", absl::Seconds(90)},
           {"2h", absl::Hours(2)},
           {"7d", absl::Hours(24 * 7)},
           {"500ms", absl::Milliseconds(500)},
           {"1h2m3s4ms5us6ns", absl::Hours(1) + absl::Minutes(2) +
                                   absl::Seconds(3) + absl::Milliseconds(4) +
                                   absl::Microseconds(5) +
                                   absl::Nanoseconds(6)},
           {"1.5h", absl::Minutes(90)},
           {".5s", absl::Milliseconds(500)},
           {"0.000000001s", absl::Nanoseconds(1)},
           {"1.0000000019s", absl::Seconds(1) + absl::Nanoseconds(1)},
           {"315576000000s", absl::Seconds(315576000000)},
       }) {
    absl::StatusOr<absl::Duration> d = ParseDurationText(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status();
    EXPECT_EQ(*d, c.want) << c.text;
  }
}

TEST(ParseDurationTextTest, RejectsMalformedNegativeAndOverlong) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "invalid value \"\""},
           {"10", "invalid value \"10\""},
           {"s", "invalid value \"s\""},
           {"1x", "invalid value \"1x\""},
           {"1h-5m", "invalid value \"1h-5m\""},
           {"1.s5", "invalid value"},
           {"-5s", "negative duration \"-5s\""},
           {"-1m30s", "negative duration"},
           {"315576000001s", "duration \"315576000001s\" is too long"},
           {"3652500d1s", "duration \"3652500d1s\" is too long"},
           {"99999999999999999999h", "duration \"99999999999999999999h\" is "},
           {"9223372036854775807h", "duration \"9223372036854775807h\" is "},
       }) {
    absl::StatusOr<absl::Duration> d = ParseDurationText(c.text);
    ASSERT_FALSE(d.ok()) << c.text;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(d.status().message()), StartsWith(c.message))
        << c.text;
  }
}

TEST(ParseDurationTextTest, JsonTextRoundTrips) {
  EXPECT_EQ(DurationJsonText(absl::Seconds(90)), "90s");
  EXPECT_EQ(DurationJsonText(absl::Milliseconds(1500)), "1.500000000s");
  EXPECT_EQ(DurationJsonText(absl::Nanoseconds(7)), "0.000000007s");
  EXPECT_EQ(DurationJsonText(absl::Seconds(315576000000)), "315576000000s");
}

TEST(MergeFieldValuesTest, DurationsWithUnits) {
  absl::StatusOr<weir::v1::TimeSeriesRequest> r =
      FromQuery<weir::v1::TimeSeriesRequest>("step=1m30s");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->step().seconds(), 90);
  EXPECT_EQ(r->step().nanos(), 0);
  r = FromQuery<weir::v1::TimeSeriesRequest>("step=250ms");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->step().seconds(), 0);
  EXPECT_EQ(r->step().nanos(), 250000000);
  for (const char* query : {"step=-5s", "step=10", "step=400000000000s"}) {
    r = FromQuery<weir::v1::TimeSeriesRequest>(query);
    ASSERT_FALSE(r.ok()) << query;
    EXPECT_THAT(std::string(r.status().message()),
                StartsWith("query parameter \"step\": "))
        << query;
    // Both forms are shown.
    EXPECT_THAT(std::string(r.status().message()),
                HasSubstr("90s or 1.5s (seconds, the proto3 JSON form) or "
                          "1m30s, 2h, 7d, 500ms"))
        << query;
  }
}

TEST(MergeFieldValuesTest, TimestampsAndDurations) {
  absl::StatusOr<weir::v1::TimeSeriesRequest> r = FromQuery<
      weir::v1::TimeSeriesRequest>(
      "range.start=2024-05-01T12:00:00Z&range.end=2024-05-01T14:00:00%2B02:00"
      "&step=1.5s");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->range().start().seconds(), 1714564800);
  EXPECT_EQ(r->range().end().seconds(), 1714564800);
  EXPECT_EQ(r->step().seconds(), 1);
  EXPECT_EQ(r->step().nanos(), 500000000);
}

TEST(MergeFieldValuesTest, ErrorsNameTheParameter) {
  struct Case {
    const char* query;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"bogus=1",
            "query parameter \"bogus\": no field \"bogus\" in "
            "weir.v1.TopTalkersRequest"},
           {"filter.bogus=1",
            "query parameter \"filter.bogus\": no field \"bogus\" in "
            "weir.v1.FlowFilter"},
           {"group_by=GROUP_BY_NOTHING",
            "query parameter \"group_by\": invalid value \"GROUP_BY_NOTHING\" "
            "(want one of GROUP_BY_UNSPECIFIED, GROUP_BY_SRC"},
           {"limit=ten",
            "query parameter \"limit\": invalid value \"ten\" (want a number "
            "of type int32)"},
           {"limit=99999999999", "query parameter \"limit\": invalid value"},
           {"filter.port=-1", "query parameter \"filter.port\": invalid value"},
           {"range.start=yesterday",
            "query parameter \"range.start\": invalid value \"yesterday\" "
            "(want an RFC 3339 time"},
           {"limit=1&limit=2",
            "query parameter \"limit\": given more than once"},
           {"filter=x",
            "query parameter \"filter\": is a message (weir.v1.FlowFilter); "
            "set its fields, e.g. \"filter.node\""},
           {"range.start.seconds=1",
            "query parameter \"range.start.seconds\": start "
            "(google.protobuf.Timestamp) is set as a whole"},
           {"limit.x=1", "query parameter \"limit.x\": limit has no fields"},
       }) {
    absl::StatusOr<weir::v1::TopTalkersRequest> r =
        FromQuery<weir::v1::TopTalkersRequest>(c.query);
    ASSERT_FALSE(r.ok()) << c.query;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), StartsWith(c.message))
        << c.query;
  }
}

TEST(MergeFieldValuesTest, ReservedFieldsCannotBeSetAgain) {
  auto message = [](const std::string& query,
                    const std::vector<std::string>& reserved) {
    const absl::Status status =
        FromQuery<weir::v1::ListFlowsRequest>(query, reserved).status();
    std::string text(status.message());
    return text;
  };
  EXPECT_THAT(message("page_size=1", {"*"}),
              HasSubstr("the request body sets every field"));
  EXPECT_THAT(message("filter.node=a", {"filter"}),
              HasSubstr("\"filter\" is set by the path or the body"));
  EXPECT_TRUE(
      FromQuery<weir::v1::ListFlowsRequest>("page_size=1", {"filter"}).ok());
}

TEST(JsonQuoteTest, EscapesControlCharactersAndQuotes) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

}  // namespace
}  // namespace weir::queryd::http
