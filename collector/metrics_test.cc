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

// `text`:`port` as a socket address; its length (0 when `text` is no
// address).
socklen_t SocketAddress(const char* text, int port, sockaddr_storage* out) {
  *out = {};
  if (std::strchr(text, ':') != nullptr) {
    auto* a = reinterpret_cast<sockaddr_in6*>(out);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    return inet_pton(AF_INET6, text, &a->sin6_addr) == 1 ? sizeof(*a) : 0;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(out);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  return inet_pton(AF_INET, text, &a->sin_addr) == 1 ? sizeof(*a) : 0;
}

// What a client bound to `source` gets for GET /metrics on `target`:`port`
// until the server closes ("" when it closes at once).
std::string Scrape(const char* source, const char* target, int port) {
  sockaddr_storage from, to;
  const socklen_t len = SocketAddress(target, port, &to);
  if (len == 0 || SocketAddress(source, 0, &from) != len) return "no address";
  const int fd = socket(to.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return "no socket";
  timeval timeout = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
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
  EXPECT_EQ(CollectorMetrics::CivetwebAcl(
                ParsedAllowlist("192.0.2.0/24,2001:db8::/32")),
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
    auto metrics = c.allowed == nullptr
                       ? CollectorMetrics::Start("127.0.0.1:0")
                       : CollectorMetrics::Start("127.0.0.1:0",
                                                 ParsedAllowlist(c.allowed));
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
