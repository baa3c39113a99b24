// A UDP flood for the wire benchmark (tools/bench wire), and the sink it
// floods. Fixed small datagrams from `--flows` sockets (one source port
// each, so the traffic is that many flows), sent with sendmmsg as fast as the
// kernel takes them, for a bounded time.
//
//   udp_flood --dst=198.51.100.2 --port=9 --seconds=5
//     prints: sent=N errors=E seconds=S pps=P cpu_seconds=C
//     (C: user + system CPU time of this process while sending, which
//     includes the kernel's transmit path and whatever receive work the
//     kernel runs in its context; less sensitive to other load than S)
//   udp_flood --sink --bind=198.51.100.2 --port=9 --seconds=600
//     holds bound sockets with a small receive buffer that are never read:
//     datagrams are dropped at the socket (no ICMP port-unreachable
//     replies), which is the cheapest receive path that is still the real
//     stack. Exits after --seconds or on SIGTERM/SIGINT.
//
// The receiver's count is not taken here: tools/bench reads the veth's own
// counters.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "common/command_line.h"

ABSL_FLAG(bool, sink, false, "hold the receiving sockets instead of sending");
ABSL_FLAG(std::string, dst, "198.51.100.2", "destination address (flood)");
ABSL_FLAG(std::string, bind, "198.51.100.2", "address to bind (sink)");
ABSL_FLAG(int, port, 9, "destination UDP port");
ABSL_FLAG(int, flows, 16, "sending sockets, one source port each (1-1024)");
ABSL_FLAG(int, payload, 18,
          "UDP payload bytes: 18 makes a 60-byte IPv4 frame on the wire "
          "(64 with the FCS a real link would add)");
ABSL_FLAG(double, seconds, 5,
          "how long to send (flood) or hold (sink); "
          "at most 3600");
ABSL_FLAG(int, batch, 64, "datagrams per sendmmsg call (1-1024)");

namespace weir::bench {
namespace {

volatile sig_atomic_t stop = 0;
void OnSignal(int) { stop = 1; }

bool Parse(const std::string& text, int port, sockaddr_storage* out,
           socklen_t* len) {
  std::memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(*v4);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof(*v6);
    return true;
  }
  return false;
}

int Sink(const sockaddr_storage& addr, socklen_t len, double seconds) {
  const int fd = socket(addr.ss_family, SOCK_DGRAM, 0);
  const int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    std::fprintf(stderr, "udp_flood: sink: %s\n", std::strerror(errno));
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!stop && std::chrono::steady_clock::now() < end) usleep(100000);
  close(fd);
  return 0;
}

int Flood(const sockaddr_storage& addr, socklen_t len, double seconds,
          int flows, int payload, int batch) {
  std::vector<int> fds;
  for (int i = 0; i < flows; ++i) {
    const int fd = socket(addr.ss_family, SOCK_DGRAM, 0);
    if (fd < 0 ||
        connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
      std::fprintf(stderr, "udp_flood: socket/connect: %s\n",
                   std::strerror(errno));
      return 1;
    }
    fds.push_back(fd);
  }
  std::vector<char> data(payload, 'w');
  struct iovec iov = {data.data(), data.size()};
  std::vector<mmsghdr> msgs(batch);
  for (mmsghdr& m : msgs) {
    std::memset(&m, 0, sizeof(m));
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
  }
  uint64_t sent = 0, errors = 0;
  struct rusage usage0, usage1;
  getrusage(RUSAGE_SELF, &usage0);
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  auto now = start;
  for (size_t call = 0; !stop && now < end; ++call) {
    const int n = sendmmsg(fds[call % fds.size()], msgs.data(), batch, 0);
    if (n > 0) {
      sent += n;
    } else if (errno != EINTR) {
      ++errors;
    }
    now = std::chrono::steady_clock::now();
  }
  const double elapsed = std::chrono::duration<double>(now - start).count();
  getrusage(RUSAGE_SELF, &usage1);
  auto seconds_of = [](const struct timeval& t) {
    return t.tv_sec + t.tv_usec / 1e6;
  };
  const double cpu = seconds_of(usage1.ru_utime) - seconds_of(usage0.ru_utime) +
                     seconds_of(usage1.ru_stime) - seconds_of(usage0.ru_stime);
  for (int fd : fds) close(fd);
  std::printf("sent=%llu errors=%llu seconds=%.6f pps=%.0f cpu_seconds=%.6f\n",
              static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(errors), elapsed,
              elapsed > 0 ? sent / elapsed : 0.0, cpu);
  return 0;
}

int Main(int argc, char** argv) {
  CommandLineSpec spec;
  spec.program = "udp_flood";
  spec.usage =
      "UDP flood with sendmmsg for a bounded time, or (--sink) the socket "
      "it floods.";
  spec.flag_source_prefixes = {"tools/benchmarks/"};
  if (!ParseCommandLineOrExit(argc, argv, spec).empty()) {
    UsageError(spec, "takes no positional arguments");
  }
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const int port = absl::GetFlag(FLAGS_port);
  const int flows = absl::GetFlag(FLAGS_flows);
  const int payload = absl::GetFlag(FLAGS_payload);
  const int batch = absl::GetFlag(FLAGS_batch);
  if (!(seconds > 0 && seconds <= 3600) || port < 1 || port > 65535 ||
      flows < 1 || flows > 1024 || payload < 0 || payload > 1400 || batch < 1 ||
      batch > 1024) {
    std::fprintf(stderr, "udp_flood: a flag is out of range; see --help\n");
    return 2;
  }
  const bool sink = absl::GetFlag(FLAGS_sink);
  const std::string host =
      sink ? absl::GetFlag(FLAGS_bind) : absl::GetFlag(FLAGS_dst);
  sockaddr_storage addr;
  socklen_t len;
  if (!Parse(host, port, &addr, &len)) {
    std::fprintf(stderr, "udp_flood: '%s' is not an IP address\n",
                 host.c_str());
    return 2;
  }
  return sink ? Sink(addr, len, seconds)
              : Flood(addr, len, seconds, flows, payload, batch);
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) { return weir::bench::Main(argc, argv); }
