#include "queryd/listen_address.h"

#include <netinet/in.h>

#include "gtest/gtest.h"

namespace weir::queryd {
namespace {

TEST(ListenAddressTest, SplitsAtTheLastColonAndDropsBrackets) {
  const struct {
    const char* address;
    const char* host;
    const char* port;
  } cases[] = {
      {"127.0.0.1:50051", "127.0.0.1", "50051"},
      {"[::1]:0", "::1", "0"},
      {":8080", "", "8080"},
      {"localhost:", "localhost", ""},
  };
  for (const auto& c : cases) {
    const absl::StatusOr<ListenAddress> split = SplitListenAddress(c.address);
    ASSERT_TRUE(split.ok()) << c.address << ": " << split.status();
    EXPECT_EQ(split->host, c.host) << c.address;
    EXPECT_EQ(split->port, c.port) << c.address;
  }
}

TEST(ListenAddressTest, NoColonIsNotHostPort) {
  const absl::StatusOr<ListenAddress> split = SplitListenAddress("localhost");
  ASSERT_FALSE(split.ok());
  EXPECT_EQ(split.status().message(), "not host:port");
}

TEST(ListenAddressTest, ResolvesNumericHostsAndRefusesANamedPort) {
  absl::StatusOr<ResolvedAddresses> v4 =
      ResolveListenAddress({"127.0.0.1", "50051"});
  ASSERT_TRUE(v4.ok()) << v4.status();
  ASSERT_NE(v4->get(), nullptr);
  EXPECT_EQ((*v4)->ai_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in*>((*v4)->ai_addr)->sin_port),
            50051);
  absl::StatusOr<ResolvedAddresses> v6 = ResolveListenAddress({"::1", "0"});
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ((*v6)->ai_family, AF_INET6);
  // AI_NUMERICSERV: a service name is no port.
  EXPECT_FALSE(ResolveListenAddress({"127.0.0.1", "http"}).ok());
}

}  // namespace
}  // namespace weir::queryd
