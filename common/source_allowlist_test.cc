#include "common/source_allowlist.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "common/source_allowlist_test_util.h"
#include "gtest/gtest.h"

namespace weir {
namespace {

bool AllowsText(const SourceAllowlist& list, absl::string_view text) {
  absl::StatusOr<IpAddress> address = IpAddress::Parse(text);
  EXPECT_TRUE(address.ok()) << address.status();
  return address.ok() && list.Allows(*address);
}

bool AllowsV4Sockaddr(const SourceAllowlist& list, const char* text) {
  sockaddr_in peer = {};
  peer.sin_family = AF_INET;
  EXPECT_EQ(inet_pton(AF_INET, text, &peer.sin_addr), 1);
  return list.Allows(reinterpret_cast<const sockaddr*>(&peer), sizeof(peer));
}

bool AllowsV6Sockaddr(const SourceAllowlist& list, const char* text) {
  sockaddr_in6 peer = {};
  peer.sin6_family = AF_INET6;
  EXPECT_EQ(inet_pton(AF_INET6, text, &peer.sin6_addr), 1);
  return list.Allows(reinterpret_cast<const sockaddr*>(&peer), sizeof(peer));
}

TEST(SourceAllowlistTest, EmptyAllowsEveryone) {
  for (const char* text : {"", "  "}) {
    const SourceAllowlist list = ParsedAllowlist(text);
    EXPECT_TRUE(list.allows_everyone());
    EXPECT_TRUE(AllowsText(list, "198.51.100.7"));
    EXPECT_TRUE(AllowsText(list, "2001:db8::1"));
    EXPECT_EQ(list.ToString(), "");
  }
}

TEST(SourceAllowlistTest, MatchesBlocksOfBothFamilies) {
  const SourceAllowlist list = ParsedAllowlist("192.0.2.2, 2001:db8:1::/48");
  EXPECT_FALSE(list.allows_everyone());
  EXPECT_EQ(list.ToString(), "192.0.2.2/32,2001:db8:1::/48");
  EXPECT_TRUE(AllowsText(list, "192.0.2.2"));
  EXPECT_FALSE(AllowsText(list, "192.0.2.3"));
  EXPECT_TRUE(AllowsText(list, "2001:db8:1::5"));
  EXPECT_FALSE(AllowsText(list, "2001:db8:2::5"));
}

TEST(SourceAllowlistTest, SockaddrPeers) {
  const SourceAllowlist list = ParsedAllowlist("192.0.2.0/31,2001:db8::/32");
  EXPECT_TRUE(AllowsV4Sockaddr(list, "192.0.2.1"));
  EXPECT_FALSE(AllowsV4Sockaddr(list, "192.0.2.3"));
  EXPECT_TRUE(AllowsV6Sockaddr(list, "2001:db8::2"));
  EXPECT_FALSE(AllowsV6Sockaddr(list, "2001:db9::2"));
  // An IPv4 client of a dual-stack socket matches the IPv4 block.
  EXPECT_TRUE(AllowsV6Sockaddr(list, "::ffff:192.0.2.1"));
  EXPECT_FALSE(AllowsV6Sockaddr(list, "::ffff:192.0.2.3"));
  // A short or foreign address is not a match.
  sockaddr_in peer = {};
  peer.sin_family = AF_INET;
  EXPECT_FALSE(list.Allows(reinterpret_cast<const sockaddr*>(&peer), 4));
  EXPECT_FALSE(list.Allows(nullptr, 0));
}

TEST(SourceAllowlistTest, ErrorsNameTheFlag) {
  for (const char* text :
       {"192.0.2.0/33", "192.0.2.0/24,,", "nonsense", "192.0.2.1/24"}) {
    const absl::StatusOr<SourceAllowlist> list =
        SourceAllowlist::Parse("--allowed-ips", text);
    ASSERT_FALSE(list.ok()) << text;
    EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(list.status().message().rfind("--allowed-ips: ", 0), 0u)
        << list.status();
  }
}

}  // namespace
}  // namespace weir
