#include "queryd/auth/authorizer.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace weir::queryd::auth {
namespace {

constexpr char kRead[] = "read-token-0123456789abcdef";
constexpr char kIngest[] = "ingest-token-0123456789abcdef";

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    path_ = absl::StrCat(
        tmp != nullptr ? tmp : "/tmp", "/tokens-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  void Write(const std::string& contents) {
    // Replaced whole, as an editor or a Kubernetes Secret update does.
    const std::string next = path_ + ".next";
    std::ofstream(next) << contents;
    ASSERT_EQ(std::rename(next.c_str(), path_.c_str()), 0);
  }

  static std::string Line(const std::string& name, const std::string& scopes,
                          const std::string& token) {
    return absl::StrCat(name, " ", scopes, " ",
                        FormatTokenHash(HashToken(token)), "\n");
  }

  std::unique_ptr<Authorizer> Open() {
    AuthorizerOptions options;
    options.token_file = path_;
    options.recheck_interval = absl::ZeroDuration();
    options.log = [this](absl::string_view line) {
      logged_.emplace_back(line);
    };
    absl::StatusOr<std::unique_ptr<Authorizer>> a =
        Authorizer::Open(std::move(options));
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *std::move(a) : nullptr;
  }

  std::string path_;
  std::vector<std::string> logged_;
};

std::string Bearer(const std::string& token) { return "Bearer " + token; }

TEST_F(AuthorizerTest, DecidesByTokenAndScope) {
  Write(Line("alice", "read", kRead) + Line("node", "ingest", kIngest));
  std::unique_ptr<Authorizer> a = Open();
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->Authorize(Bearer(kRead), Scope::kRead).ok());
  EXPECT_TRUE(a->Authorize(Bearer(kIngest), Scope::kIngest).ok());

  const absl::Status none = a->Authorize(std::nullopt, Scope::kRead);
  EXPECT_EQ(none.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(none.message().find("scope read"), std::string::npos) << none;

  const absl::Status wrong_scope = a->Authorize(Bearer(kIngest), Scope::kRead);
  EXPECT_EQ(wrong_scope.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(wrong_scope.message().find("\"node\" has scope ingest"),
            std::string::npos)
      << wrong_scope;

  const absl::Status unknown =
      a->Authorize(Bearer("unknown-token-0123456789"), Scope::kRead);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(unknown.message().find("unknown-token"), std::string::npos);

  const absl::Status basic = a->Authorize("Basic abc", Scope::kMetrics);
  EXPECT_EQ(basic.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(basic.message().find("scope metrics"), std::string::npos);
  EXPECT_TRUE(logged_.empty());
}

TEST_F(AuthorizerTest, EditedFileRevokesAndBadFileKeepsTokens) {
  Write(Line("alice", "read", kRead) + Line("node", "ingest", kIngest));
  std::unique_ptr<Authorizer> a = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Authorize(Bearer(kRead), Scope::kRead).ok());

  Write(Line("node", "ingest", kIngest));  // alice revoked
  EXPECT_EQ(a->Authorize(Bearer(kRead), Scope::kRead).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(a->Authorize(Bearer(kIngest), Scope::kIngest).ok());
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_NE(logged_[0].find("1 tokens"), std::string::npos) << logged_[0];

  Write("node ingest\n");  // bad: the old table stays, told once
  EXPECT_TRUE(a->Authorize(Bearer(kIngest), Scope::kIngest).ok());
  EXPECT_TRUE(a->Authorize(Bearer(kIngest), Scope::kIngest).ok());
  ASSERT_EQ(logged_.size(), 2u);
  EXPECT_NE(logged_[1].find(absl::StrCat(path_, ":1: want 3 fields")),
            std::string::npos)
      << logged_[1];
  EXPECT_NE(logged_[1].find("stay in use"), std::string::npos);

  std::remove(path_.c_str());  // gone: the old table stays, told once
  EXPECT_TRUE(a->Authorize(Bearer(kIngest), Scope::kIngest).ok());
  EXPECT_TRUE(a->Authorize(Bearer(kIngest), Scope::kIngest).ok());
  EXPECT_EQ(logged_.size(), 3u);

  Write(Line("alice", "admin", kRead));  // fixed: alice back, as admin
  EXPECT_TRUE(a->Authorize(Bearer(kRead), Scope::kIngest).ok());
  EXPECT_EQ(a->Authorize(Bearer(kIngest), Scope::kIngest).code(),
            absl::StatusCode::kUnauthenticated);
  for (const std::string& line : logged_) {
    EXPECT_EQ(line.find(kRead), std::string::npos) << line;
    EXPECT_EQ(line.find(kIngest), std::string::npos) << line;
  }
}

TEST_F(AuthorizerTest, ReloadRereadsAtOnce) {
  Write(Line("alice", "read", kRead));
  AuthorizerOptions options;
  options.token_file = path_;
  options.recheck_interval = absl::Hours(1);
  options.log = [this](absl::string_view line) { logged_.emplace_back(line); };
  absl::StatusOr<std::unique_ptr<Authorizer>> a =
      Authorizer::Open(std::move(options));
  ASSERT_TRUE(a.ok());
  Write(Line("node", "ingest", kIngest));
  // Not rechecked yet (an hour), so alice still works until Reload().
  EXPECT_TRUE((*a)->Authorize(Bearer(kRead), Scope::kRead).ok());
  (*a)->Reload();
  EXPECT_EQ((*a)->Authorize(Bearer(kRead), Scope::kRead).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*a)->tokens(), 1u);
}

TEST_F(AuthorizerTest, OpenRefusesABadFile) {
  Write("alice read sha256:00\n");
  AuthorizerOptions options;
  options.token_file = path_;
  absl::StatusOr<std::unique_ptr<Authorizer>> a = Authorizer::Open(options);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find(path_ + ":1:"), std::string::npos)
      << a.status();
  options.token_file = path_ + ".missing";
  a = Authorizer::Open(options);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace weir::queryd::auth
