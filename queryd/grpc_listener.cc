#include "queryd/grpc_listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "queryd/listen_address.h"

namespace weir::queryd {
namespace {

// The port of a bound socket.
int BoundPort(int fd) {
  sockaddr_storage addr = {};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

void SetPort(sockaddr* addr, int port) {
  if (addr->sa_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(addr)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(addr)->sin6_port = htons(port);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcListener>> GrpcListener::Listen(
    absl::string_view flag, const std::string& address, SourceAllowlist allowed,
    metrics::QuerydMetrics* metrics) {
  auto error = [&](absl::string_view what) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", flag, " ", address, ": ", what));
  };
  const absl::StatusOr<ListenAddress> split = SplitListenAddress(address);
  if (!split.ok()) return error(split.status().message());
  const std::string& port = split->port;
  const absl::StatusOr<ResolvedAddresses> resolved =
      ResolveListenAddress(*split);
  if (!resolved.ok()) return error(resolved.status().message());
  bool has_v4 = false;
  for (addrinfo* a = resolved->get(); a != nullptr; a = a->ai_next) {
    has_v4 = has_v4 || a->ai_family == AF_INET;
  }

  std::unique_ptr<GrpcListener> listener(new GrpcListener());
  listener->allowed_ = std::move(allowed);
  listener->metrics_ = metrics;
  int chosen_port = 0;
  for (addrinfo* a = resolved->get(); a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    const int fd =
        socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return error(strerror(errno));
    listener->listen_fds_.push_back(fd);  // closed by the destructor
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a->ai_family == AF_INET6 && has_v4) {
      // Both families resolved (an empty host): each gets its own socket.
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (chosen_port != 0) SetPort(a->ai_addr, chosen_port);
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
      return error(errno == EADDRINUSE
                       ? absl::StrCat("port ", port, " is already in use")
                       : std::string(strerror(errno)));
    }
    if (listen(fd, SOMAXCONN) != 0) return error(strerror(errno));
    chosen_port = BoundPort(fd);
  }
  if (listener->listen_fds_.empty()) return error("no address");
  listener->port_ = chosen_port;
  listener->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (listener->wake_fd_ < 0) return error(strerror(errno));
  return listener;
}

void GrpcListener::AttachTo(
    grpc::ServerBuilder& builder,
    std::shared_ptr<grpc::ServerCredentials> credentials) {
  acceptor_ = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      std::move(credentials));
}

void GrpcListener::Start() {
  if (thread_.joinable() || stopped_) return;
  thread_ = std::thread([this] { AcceptLoop(); });
}

void GrpcListener::AcceptLoop() {
  std::vector<pollfd> polled;
  for (int fd : listen_fds_) polled.push_back({fd, POLLIN, 0});
  polled.push_back({wake_fd_, POLLIN, 0});
  int timeout_ms = -1;
  while (true) {
    const int ready = poll(polled.data(), polled.size(), timeout_ms);
    timeout_ms = -1;
    if (ready < 0 && errno != EINTR) return;
    if (polled.back().revents != 0) return;  // Stop()
    for (size_t i = 0; i + 1 < polled.size(); ++i) {
      if (polled[i].revents == 0) continue;
      if (!AcceptOne(polled[i].fd)) {
        // Out of descriptors: the connection waits in the backlog; try
        // again shortly rather than spin.
        timeout_ms = 100;
      }
    }
  }
}

bool GrpcListener::AcceptOne(int listen_fd) {
  sockaddr_storage peer = {};
  socklen_t len = sizeof(peer);
  const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    // EAGAIN, or a peer already gone: nothing to do.
    return errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
           errno != ENOMEM;
  }
  if (!allowed_.Allows(reinterpret_cast<sockaddr*>(&peer), len)) {
    close(fd);
    if (metrics_ != nullptr) metrics_->ConnectionRefused("grpc", "allowlist");
    return true;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters
      params;
  params.listener_fd = listen_fd;
  params.fd = fd;  // gRPC's from here on (it closes it)
  acceptor_->HandleNewConnection(&params);
  return true;
}

void GrpcListener::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  for (int fd : listen_fds_) close(fd);
  listen_fds_.clear();
}

GrpcListener::~GrpcListener() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

}  // namespace weir::queryd
