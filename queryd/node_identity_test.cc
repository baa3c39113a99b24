#include "queryd/node_identity.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace weir::queryd {
namespace {

struct Case {
  const char* description;
  PeerCertificate peer;
  const char* node;
  absl::StatusCode want;
};

TEST(NodeIdentityTest, MatchesSanFirstCommonNameOnlyWithoutSan) {
  const Case cases[] = {
      {"no certificate", {}, "node-a", absl::StatusCode::kUnauthenticated},
      {"DNS SAN equal",
       {true, {"node-a"}, "other"},
       "node-a",
       absl::StatusCode::kOk},
      {"one of several SANs",
       {true, {"x.example", "node-a"}, ""},
       "node-a",
       absl::StatusCode::kOk},
      {"SAN differs",
       {true, {"node-a"}, ""},
       "node-b",
       absl::StatusCode::kPermissionDenied},
      {"CN ignored when a SAN exists",
       {true, {"node-a"}, "node-b"},
       "node-b",
       absl::StatusCode::kPermissionDenied},
      {"CN without SAN", {true, {}, "node-a"}, "node-a", absl::StatusCode::kOk},
      {"CN differs",
       {true, {}, "node-a"},
       "node-b",
       absl::StatusCode::kPermissionDenied},
      {"neither SAN nor CN",
       {true, {}, ""},
       "node-a",
       absl::StatusCode::kPermissionDenied},
      {"empty node never matches",
       {true, {}, ""},
       "",
       absl::StatusCode::kPermissionDenied},
      {"prefix is no match",
       {true, {"node-a"}, ""},
       "node-a2",
       absl::StatusCode::kPermissionDenied},
      {"case matters",
       {true, {"node-a"}, ""},
       "Node-A",
       absl::StatusCode::kPermissionDenied},
  };
  for (const Case& c : cases) {
    const absl::Status status = CheckNodeIdentity(c.peer, c.node);
    EXPECT_EQ(status.code(), c.want) << c.description << ": " << status;
    if (c.want == absl::StatusCode::kPermissionDenied) {
      EXPECT_NE(status.message().find(absl::StrCat("\"", c.node, "\"")),
                absl::string_view::npos)
          << c.description << ": the message names the node: " << status;
    }
  }
}

}  // namespace
}  // namespace weir::queryd
