#include "queryd/auth/token_table.h"

#include <string>

#include "gtest/gtest.h"

namespace weir::queryd::auth {
namespace {

constexpr char kReadToken[] = "read-token-0123456789abcdef";
constexpr char kAdminToken[] = "admin-token-0123456789abcdef";

std::string Line(const std::string& name, const std::string& scopes,
                 const std::string& token) {
  return name + " " + scopes + " " + FormatTokenHash(HashToken(token)) + "\n";
}

TEST(TokenTableTest, HashIsSha256InHex) {
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(FormatTokenHash(HashToken("abc")),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f2"
            "0015ad");
}

TEST(TokenTableTest, FindsEachTokenWithItsScopes) {
  const std::string file =
      "# people\n\n" + Line("alice", "read", kReadToken) + "  " +
      Line("ops", "admin", kAdminToken) +
      Line("prom", "metrics,read", "prom-token-0123456789") + "   # the end\n";
  absl::StatusOr<TokenTable> table = TokenTable::Parse(file, "tokens");
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->size(), 3u);
  const TokenEntry* alice = table->Find(kReadToken);
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->name, "alice");
  EXPECT_TRUE(alice->Grants(Scope::kRead));
  EXPECT_FALSE(alice->Grants(Scope::kIngest));
  EXPECT_FALSE(alice->Grants(Scope::kMetrics));
  const TokenEntry* ops = table->Find(kAdminToken);
  ASSERT_NE(ops, nullptr);
  for (Scope s : {Scope::kRead, Scope::kIngest, Scope::kMetrics}) {
    EXPECT_TRUE(ops->Grants(s)) << ScopeName(s);
  }
  const TokenEntry* prom = table->Find("prom-token-0123456789");
  ASSERT_NE(prom, nullptr);
  EXPECT_EQ(prom->ScopeList(), "read,metrics");
  EXPECT_EQ(table->Find("not-a-token-0123456789"), nullptr);
  EXPECT_EQ(table->Find(""), nullptr);
}

TEST(TokenTableTest, BadLinesNameFileAndLine) {
  const std::string hash = FormatTokenHash(HashToken(kReadToken));
  const struct {
    std::string contents;
    std::string error;
  } cases[] = {
      {"alice read\n", "tokens:1: want 3 fields"},
      {"\n# c\nalice read " + hash + " extra\n", "tokens:3: want 3 fields"},
      {"alice write " + hash + "\n", "tokens:1: scope \"write\""},
      {"alice read, " + hash + "\n", "tokens:1: scope \"\""},
      {"alice read,,ingest " + hash + "\n", "tokens:1: scope \"\""},
      {"al/ice read " + hash + "\n", "tokens:1: name \"al/ice\""},
      {"alice read " + std::string(kReadToken) + "\n",
       "tokens:1: the third field must be sha256:"},
      {"alice read sha256:abcd\n", "tokens:1: sha256: needs 64 hex digits"},
      {"alice read sha256:" + std::string(64, 'g') + "\n",
       "tokens:1: sha256: holds a non-hex"},
      {"alice read " + hash + "\nalice ingest " +
           FormatTokenHash(HashToken(kAdminToken)) + "\n",
       "tokens:2: name \"alice\" is used twice"},
      {"alice read " + hash + "\nbob ingest " + hash + "\n",
       "tokens:2: the token of \"bob\" is also the token of \"alice\""},
  };
  for (const auto& c : cases) {
    absl::StatusOr<TokenTable> table = TokenTable::Parse(c.contents, "tokens");
    ASSERT_FALSE(table.ok()) << c.contents;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(table.status().message().find(c.error), std::string::npos)
        << table.status().message() << " wants " << c.error;
    // A raw token pasted where the hash goes is never repeated.
    EXPECT_EQ(table.status().message().find(kReadToken), std::string::npos);
  }
}

TEST(TokenTableTest, EmptyFileHasNoTokens) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse("# none yet\n", "t");
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->size(), 0u);
}

TEST(TokenTableTest, ValidatesTokens) {
  EXPECT_TRUE(ValidateToken("0123456789abcdef").ok());
  EXPECT_TRUE(ValidateToken("abcDEF012_-.~+/xyz==").ok());
  EXPECT_FALSE(ValidateToken("short").ok());
  EXPECT_FALSE(ValidateToken("0123456789abcdef ghi").ok());
  EXPECT_FALSE(ValidateToken("0123456789a=bcdef").ok());
  EXPECT_FALSE(ValidateToken(std::string(5000, 'a')).ok());
}

TEST(TokenTableTest, HashesTokenInput) {
  const std::string want = FormatTokenHash(HashToken("0123456789abcdef"));
  for (const char* input :
       {"0123456789abcdef", "0123456789abcdef\n", "0123456789abcdef\r\n"}) {
    absl::StatusOr<std::string> line = HashTokenInput(input);
    ASSERT_TRUE(line.ok()) << line.status();
    EXPECT_EQ(*line, want);
  }
  EXPECT_FALSE(HashTokenInput("0123456789abcdef\n\n").ok());
  EXPECT_FALSE(HashTokenInput("\n").ok());
  EXPECT_FALSE(HashTokenInput("").ok());
}

TEST(TokenTableTest, ParsesBearer) {
  const struct {
    const char* value;
    const char* token;  // null: refused
  } cases[] = {
      {"Bearer abc", "abc"},   {"bearer abc", "abc"}, {"BEARER   abc ", "abc"},
      {"Basic abc", nullptr},  {"Bearer", nullptr},   {"Bearer ", nullptr},
      {"Bearer a b", nullptr}, {"abc", nullptr},      {"Bearerabc", nullptr},
      {"", nullptr},
  };
  for (const auto& c : cases) {
    absl::StatusOr<absl::string_view> token = ParseBearer(c.value);
    if (c.token == nullptr) {
      EXPECT_FALSE(token.ok()) << c.value;
    } else {
      ASSERT_TRUE(token.ok()) << c.value;
      EXPECT_EQ(*token, c.token);
    }
  }
}

}  // namespace
}  // namespace weir::queryd::auth
