#include "collector/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "common/source_allowlist.h"
#include "gtest/gtest.h"

namespace weir::collector {
namespace {

SourceAllowlist Allow(absl::string_view text) {
  absl::StatusOr<SourceAllowlist> list =
      SourceAllowlist::Parse("--allowed-ips", text);
  EXPECT_TRUE(list.ok()) << list.status();
  return list.ok() ? *list : SourceAllowlist();
}

// What a client bound to `source` gets for GET /metrics on `target`:`port`
// until the server closes ("" when it closes at once).
std::string Scrape(const char* source, const char* target, int port) {
  const bool v6 = std::strchr(target, ':') != nullptr;
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "no socket";
  timeval timeout = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_storage from = {}, to = {};
  socklen_t len;
  if (v6) {
    auto* f = reinterpret_cast<sockaddr_in6*>(&from);
    auto* t = reinterpret_cast<sockaddr_in6*>(&to);
    f->sin6_family = t->sin6_family = AF_INET6;
    inet_pton(AF_INET6, source, &f->sin6_addr);
    inet_pton(AF_INET6, target, &t->sin6_addr);
    t->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  } else {
    auto* f = reinterpret_cast<sockaddr_in*>(&from);
    auto* t = reinterpret_cast<sockaddr_in*>(&to);
    f->sin_family = t->sin_family = AF_INET;
    inet_pton(AF_INET, source, &f->sin_addr);
    inet_pton(AF_INET, target, &t->sin_addr);
    t->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  }
  std::string got;
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), len) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), len) != 0) {
    close(fd);
    return "no connection";
  }
  const char request[] =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL);
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) got.append(buffer, n);
  close(fd);
  return got;
}

TEST(CollectorMetricsTest, CivetwebAclAllowsEachBlockOnly) {
  EXPECT_EQ(CollectorMetrics::CivetwebAcl(Allow("192.0.2.0/24,2001:db8::/32")),
            "-0.0.0.0/0,+192.0.2.0/24");
}

TEST(CollectorMetricsTest, EveryoneWithoutAList) {
  auto metrics = CollectorMetrics::Start("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const int port = (*metrics)->port();
  EXPECT_EQ(Scrape("127.0.0.2", "127.0.0.1", port).rfind("HTTP/1.1 200", 0),
            0u);
}

TEST(CollectorMetricsTest, Ipv4PeersOutsideTheListGetNothing) {
  auto metrics = CollectorMetrics::Start("127.0.0.1:0", Allow("127.0.0.2"));
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const int port = (*metrics)->port();
  EXPECT_EQ(Scrape("127.0.0.2", "127.0.0.1", port).rfind("HTTP/1.1 200", 0),
            0u);
  EXPECT_EQ(Scrape("127.0.0.1", "127.0.0.1", port), "");
  EXPECT_EQ(Scrape("127.0.0.3", "127.0.0.1", port), "");
}

TEST(CollectorMetricsTest, AListOfIpv6BlocksOnlyLetsNoIpv4PeerIn) {
  auto metrics = CollectorMetrics::Start("127.0.0.1:0", Allow("2001:db8::/32"));
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(Scrape("127.0.0.1", "127.0.0.1", (*metrics)->port()), "");
}

}  // namespace
}  // namespace weir::collector
