#include "queryd/http/cors.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::queryd::http {
namespace {

using ::testing::HasSubstr;

TEST(CorsPolicyTest, OffByDefault) {
  for (const char* flag : {"", "  "}) {
    absl::StatusOr<CorsPolicy> policy = CorsPolicy::Parse(flag);
    ASSERT_TRUE(policy.ok()) << policy.status();
    EXPECT_FALSE(policy->enabled());
    EXPECT_EQ(policy->AllowOrigin("https://a.example"), std::nullopt);
  }
  EXPECT_FALSE(CorsPolicy().enabled());
}

TEST(CorsPolicyTest, AnyOrigin) {
  absl::StatusOr<CorsPolicy> policy = CorsPolicy::Parse("*");
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(policy->enabled());
  EXPECT_FALSE(policy->varies_by_origin());
  EXPECT_EQ(policy->AllowOrigin("https://a.example"), "*");
  EXPECT_EQ(policy->AllowOrigin(""), std::nullopt);
}

TEST(CorsPolicyTest, ListedOriginsOnlyAndExactly) {
  absl::StatusOr<CorsPolicy> policy = CorsPolicy::Parse(
      "https://grafana.example.org, "
      "http://127.0.0.1:3000,http://[2001:db8::1]:8080");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(policy->varies_by_origin());
  EXPECT_EQ(policy->AllowOrigin("https://grafana.example.org"),
            "https://grafana.example.org");
  EXPECT_EQ(policy->AllowOrigin("http://127.0.0.1:3000"),
            "http://127.0.0.1:3000");
  EXPECT_EQ(policy->AllowOrigin("http://[2001:db8::1]:8080"),
            "http://[2001:db8::1]:8080");
  for (const char* other :
       {"http://grafana.example.org", "https://grafana.example.org:443",
        "https://evil.grafana.example.org", "https://grafana.example.org.evil",
        "http://127.0.0.1:3001", "null", ""}) {
    EXPECT_EQ(policy->AllowOrigin(other), std::nullopt) << other;
  }
}

TEST(CorsPolicyTest, BadValuesNameTheItem) {
  struct Case {
    const char* flag;
    const char* message;
  };
  for (const Case& c : {
           Case{"https://a.example,", "empty item"},
           Case{"*,https://a.example", "\"*\" must stand alone"},
           Case{"a.example", "\"a.example\" must start with http://"},
           Case{"ftp://a.example", "must start with http://"},
           Case{"https://a.example/", "something after the host"},
           Case{"https://a.example/path", "something after the host"},
           Case{"https://A.example", "lower case"},
           Case{"https://a.example:0", "port outside 1-65535"},
           Case{"https://a.example:70000", "port outside 1-65535"},
           Case{"https://a.example:", "empty port"},
           Case{"https://", "no host"},
           Case{"https://a_b.example", "cannot have"},
           Case{"http://[2001:db8::1", "unclosed"},
           Case{"http://[2001:db8::1]/", "something after the host"},
           Case{"null", "must start with http://"},
       }) {
    absl::StatusOr<CorsPolicy> policy = CorsPolicy::Parse(c.flag);
    ASSERT_FALSE(policy.ok()) << c.flag;
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(policy.status().message());
    EXPECT_THAT(message, HasSubstr("--http-cors-origins: ")) << c.flag;
    EXPECT_THAT(message, HasSubstr(c.message)) << c.flag;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

TEST(CorsPolicyTest, AllowsOnlyTheHeadersTheGatewayReads) {
  EXPECT_EQ(CorsPolicy::AllowHeaders(
                "Authorization, X-Custom, content-type, Grpc-Metadata-Tenant, "
                "grpc-metadata-, authorization"),
            "authorization, content-type, grpc-metadata-tenant");
  EXPECT_EQ(CorsPolicy::AllowHeaders(""), "");
}

}  // namespace
}  // namespace weir::queryd::http
