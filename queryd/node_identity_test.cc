#include "queryd/node_identity.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace weir::queryd {
namespace {

constexpr absl::StatusCode kOk = absl::StatusCode::kOk;
constexpr absl::StatusCode kDenied = absl::StatusCode::kPermissionDenied;

struct Case {
  const char* description;
  PeerCertificate peer;
  const char* node;
  absl::StatusCode want;
};

TEST(NodeIdentityTest, MatchesSanFirstCommonNameOnlyWithoutSan) {
  const Case cases[] = {
      {"no certificate", {}, "node-a", absl::StatusCode::kUnauthenticated},
      {"DNS SAN equal", {true, {"node-a"}, "other"}, "node-a", kOk},
      {"one of several SANs",
       {true, {"x.example", "node-a"}, ""},
       "node-a",
       kOk},
      {"SAN differs", {true, {"node-a"}, ""}, "node-b", kDenied},
      {"CN ignored when a SAN exists",
       {true, {"node-a"}, "node-b"},
       "node-b",
       kDenied},
      {"CN without SAN", {true, {}, "node-a"}, "node-a", kOk},
      {"CN differs", {true, {}, "node-a"}, "node-b", kDenied},
      {"neither SAN nor CN", {true, {}, ""}, "node-a", kDenied},
      {"empty node never matches", {true, {}, ""}, "", kDenied},
      {"prefix is no match", {true, {"node-a"}, ""}, "node-a2", kDenied},
      {"case matters", {true, {"node-a"}, ""}, "Node-A", kDenied},
  };
  for (const Case& c : cases) {
    const absl::Status status = CheckNodeIdentity(c.peer, c.node);
    // A shared name the certificate does not hold changes nothing.
    EXPECT_EQ(CheckNodeIdentity(c.peer, c.node, "weir-collector").code(),
              c.want)
        << c.description;
    EXPECT_EQ(status.code(), c.want) << c.description << ": " << status;
    if (c.want == kDenied) {
      EXPECT_NE(status.message().find(absl::StrCat("\"", c.node, "\"")),
                absl::string_view::npos)
          << c.description << ": the message names the node: " << status;
    }
  }
}

TEST(NodeIdentityTest, ASharedNameWritesAsAnyNode) {
  const PeerCertificate shared{true, {"weir-collector"}, ""};
  const PeerCertificate shared_cn{true, {}, "weir-collector"};
  const PeerCertificate node_a{true, {"node-a"}, "weir-collector"};
  EXPECT_TRUE(CheckNodeIdentity(shared, "node-a", "weir-collector").ok());
  EXPECT_TRUE(CheckNodeIdentity(shared, "node-b", "weir-collector").ok());
  EXPECT_TRUE(CheckNodeIdentity(shared_cn, "node-b", "weir-collector").ok());
  // Without the flag the shared certificate is one node's, named oddly.
  EXPECT_EQ(CheckNodeIdentity(shared, "node-a").code(),
            absl::StatusCode::kPermissionDenied);
  // The CN does not count when the certificate has a SAN.
  EXPECT_EQ(CheckNodeIdentity(node_a, "node-b", "weir-collector").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckNodeIdentity({}, "node-a", "weir-collector").code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace weir::queryd
