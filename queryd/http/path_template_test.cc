#include "queryd/http/path_template.h"

#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::queryd::http {
namespace {

using Bindings = std::vector<PathTemplate::Binding>;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

PathTemplate Parsed(const std::string& text) {
  absl::StatusOr<PathTemplate> parsed = PathTemplate::Parse(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status();
  return parsed.ok() ? *parsed : *PathTemplate::Parse("/unparsable");
}

TEST(PathTemplateTest, MatchesLiteralsExactly) {
  const PathTemplate t = Parsed("/v1/flows");
  EXPECT_THAT(t.Match("/v1/flows"), Optional(Bindings{}));
  EXPECT_EQ(t.Match("/v1/flows/"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/flow"), std::nullopt);
  EXPECT_EQ(t.Match("/v1"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/flows/x"), std::nullopt);
  EXPECT_EQ(t.Match("v1/flows"), std::nullopt);
  // A verb the template does not have is part of the last segment.
  EXPECT_EQ(t.Match("/v1/flows:watch"), std::nullopt);
}

TEST(PathTemplateTest, MatchesVerbs) {
  const PathTemplate t = Parsed("/v1/flows:watch");
  EXPECT_EQ(t.verb(), "watch");
  EXPECT_THAT(t.Match("/v1/flows:watch"), Optional(Bindings{}));
  EXPECT_EQ(t.Match("/v1/flows"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/flows:watchx"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/flows:other"), std::nullopt);
  EXPECT_EQ(Parsed("/v1/stats:watch").Match("/v1/flows:watch"), std::nullopt);
}

TEST(PathTemplateTest, BindsSingleSegmentVariables) {
  const PathTemplate t = Parsed("/v1/nodes/{name}/flows/{filter.port}");
  EXPECT_THAT(t.variables(), ElementsAre("name", "filter.port"));
  EXPECT_THAT(t.Match("/v1/nodes/node-a/flows/443"),
              Optional(Bindings{{"name", "node-a"}, {"filter.port", "443"}}));
  // Values are percent-decoded; an encoded slash stays inside the segment.
  EXPECT_THAT(t.Match("/v1/nodes/a%2Fb%20c/flows/1"),
              Optional(Bindings{{"name", "a/b c"}, {"filter.port", "1"}}));
  EXPECT_EQ(t.Match("/v1/nodes/a/b/flows/1"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/nodes//flows/1"), std::nullopt);  // empty segment
  EXPECT_EQ(t.Match("/v1/nodes/%zz/flows/1"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/nodes/%4/flows/1"), std::nullopt);
}

TEST(PathTemplateTest, BindsMultiSegmentVariables) {
  const PathTemplate t = Parsed("/v1/{name=shelves/*/books/*}");
  EXPECT_THAT(t.Match("/v1/shelves/s1/books/b%2F2"),
              Optional(Bindings{{"name", "shelves/s1/books/b%2F2"}}));
  EXPECT_EQ(t.Match("/v1/shelves/s1/books"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/racks/s1/books/b"), std::nullopt);
}

TEST(PathTemplateTest, DoubleWildcardTakesTheRest) {
  const PathTemplate t = Parsed("/files/{path=**}");
  EXPECT_THAT(t.Match("/files/a/b/c.txt"),
              Optional(Bindings{{"path", "a/b/c.txt"}}));
  EXPECT_THAT(t.Match("/files/a"), Optional(Bindings{{"path", "a"}}));
  EXPECT_THAT(t.Match("/files"), Optional(Bindings{{"path", ""}}));
  EXPECT_EQ(t.Match("/other/a"), std::nullopt);

  const PathTemplate verb = Parsed("/objects/{name=**}:get");
  EXPECT_THAT(verb.Match("/objects/a/b:get"),
              Optional(Bindings{{"name", "a/b"}}));
  EXPECT_EQ(verb.Match("/objects/a/b"), std::nullopt);
}

TEST(PathTemplateTest, AnonymousWildcardsMatchWithoutBinding) {
  const PathTemplate t = Parsed("/v1/*/items/**");
  EXPECT_THAT(t.Match("/v1/x/items/a/b"), Optional(Bindings{}));
  EXPECT_THAT(t.Match("/v1/x/items"), Optional(Bindings{}));
  EXPECT_EQ(t.Match("/v1/items"), std::nullopt);
}

TEST(PathTemplateTest, ParsesTheSeedPaths) {
  for (const char* path :
       {"/api/health", "/api/stats", "/api/live", "/api/history", "/api/stream",
        "/v1/top", "/v1/timeseries", "/v1/connections"}) {
    EXPECT_THAT(Parsed(path).Match(path), Optional(Bindings{})) << path;
  }
}

TEST(PathTemplateTest, RejectsMalformedTemplates) {
  struct Case {
    const char* text;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"", "must start with '/'"},
           {"v1/flows", "must start with '/'"},
           {"/v1//flows", "empty or invalid segment"},
           {"/v1/flows/", "empty or invalid segment"},
           {"/v1/**/x", "'**' must be the last segment"},
           {"/v1/{name", "expected '=' or '}'"},
           {"/v1/{na-me}", "expected '=' or '}'"},
           {"/v1/{1name}", "bad variable name"},
           {"/v1/{a.}", "bad variable name"},
           {"/v1/{a={b}}", "empty or invalid segment"},
           {"/v1/{a=x/y", "unclosed variable"},
           {"/v1/{a}/{a}", "appears twice"},
           {"/v1/flows:", "bad verb"},
           {"/v1/flows:a/b", "bad verb"},
           {"/v1/fl}ows", "unexpected '}'"},
       }) {
    absl::StatusOr<PathTemplate> parsed = PathTemplate::Parse(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(c.error))
        << c.text;
  }
}

TEST(PercentDecodeTest, DecodesAndKeepsSlashesWhenAsked) {
  EXPECT_THAT(PercentDecode("a%20b%2fc"), Optional(std::string("a b/c")));
  EXPECT_THAT(PercentDecode("a%2Fc", /*keep_slash=*/true),
              Optional(std::string("a%2Fc")));
  EXPECT_EQ(PercentDecode("%"), std::nullopt);
  EXPECT_EQ(PercentDecode("%a"), std::nullopt);
  EXPECT_EQ(PercentDecode("%g0"), std::nullopt);
  EXPECT_THAT(PercentDecode(""), Optional(std::string("")));
}

}  // namespace
}  // namespace weir::queryd::http
