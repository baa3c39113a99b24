#include "collector/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/source_allowlist.h"
#include "common/source_allowlist_test_util.h"
#include "gtest/gtest.h"

namespace weir::collector {
namespace {

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
  EXPECT_EQ(CollectorMetrics::CivetwebAcl(ParsedAllowlist("192.0.2.0/24,2001:db8::/32")),
            "-0.0.0.0/0,+192.0.2.0/24");
}

// Whether a client bound to `source` gets an answer from the server on
// 127.0.0.1:`port` (true) or is closed unread (false).
bool Served(const char* source, int port) {
  const std::string got = Scrape(source, "127.0.0.1", port);
  EXPECT_TRUE(got.empty() || got.rfind("HTTP/1.1 200", 0) == 0) << got;
  return !got.empty();
}

TEST(CollectorMetricsTest, OnlyPeersTheListLetsInAreServed) {
  const struct {
    const char* allowed;  // --allowed-ips; null: none given
    std::vector<const char*> served, closed;
  } cases[] = {
      {nullptr, {"127.0.0.2"}, {}},
      {"127.0.0.2", {"127.0.0.2"}, {"127.0.0.1", "127.0.0.3"}},
      // A list of IPv6 blocks only lets no IPv4 peer in.
      {"2001:db8::/32", {}, {"127.0.0.1"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.allowed == nullptr ? "(none)" : c.allowed);
    auto metrics =
        c.allowed == nullptr
            ? CollectorMetrics::Start("127.0.0.1:0")
            : CollectorMetrics::Start("127.0.0.1:0", ParsedAllowlist(c.allowed));
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    for (const char* source : c.served) {
      EXPECT_TRUE(Served(source, (*metrics)->port())) << source;
    }
    for (const char* source : c.closed) {
      EXPECT_FALSE(Served(source, (*metrics)->port())) << source;
    }
  }
}

}  // namespace
}  // namespace weir::collector
