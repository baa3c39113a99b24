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
//   udp_flood --shape=churn --interface=wa --dst-mac=02:00:00:00:0b:02
//             --new-flows-per-second=100000 --seconds=5
//     churn: new 5-tuples at a set rate (source address and port from
//     192.0.2.1-254 x 1024-65535, so up to 16 M distinct tuples, to
//     --dst:--port); scan: one source (192.0.2.1:40000) sweeping the
//     destination ports 1-65535, every frame the next port. Both write
//     60-byte frames through an AF_PACKET socket bound to --interface (the
//     kernel's transmit path from the device queue on: the TC egress hook
//     and every packet tap see them as they see the socket flood), with
//     sendmmsg as fast as the device takes them. A frame starts a new tuple
//     when the tuples so far are behind the rate (new = elapsed * rate), so
//     above the link's packet rate every frame is new. Adds
//     new_flows=N (tuples started) to the line printed. Needs CAP_NET_RAW.
//
// The receiver's count is not taken here: tools/bench reads the veth's own
// counters.

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "tools/benchmarks/bench_main.h"

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
ABSL_FLAG(std::string, shape, "sockets",
          "sockets: --flows connected UDP sockets; churn: new 5-tuples at "
          "--new-flows-per-second; scan: one source sweeping destination "
          "ports (churn and scan: AF_PACKET frames on --interface)");
ABSL_FLAG(std::string, interface, "",
          "device to write frames to (churn, scan)");
ABSL_FLAG(std::string, src_mac, "02:00:00:00:0a:01",
          "Ethernet source of the frames (churn, scan)");
ABSL_FLAG(std::string, dst_mac, "02:00:00:00:0b:02",
          "Ethernet destination of the frames (churn, scan)");
ABSL_FLAG(int64_t, new_flows_per_second, 100000,
          "churn: new 5-tuples per second (1-100000000; above the link's "
          "packet rate every frame is a new tuple)");

namespace weir::bench {
namespace {

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
  while (!StopRequested() && std::chrono::steady_clock::now() < end) {
    usleep(100000);
  }
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
  for (size_t call = 0; !StopRequested() && now < end; ++call) {
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

double CpuSeconds() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

bool ParseMac(const std::string& text, uint8_t out[6]) {
  unsigned v[6];
  char tail;
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2],
                  &v[3], &v[4], &v[5], &tail) != 6) {
    return false;
  }
  for (int i = 0; i < 6; ++i) {
    if (v[i] > 0xff) return false;
    out[i] = static_cast<uint8_t>(v[i]);
  }
  return true;
}

// One 60-byte frame: Ethernet, IPv4 (no options), UDP, payload.
constexpr size_t kFrameBytes = 60;
constexpr size_t kIpOffset = 14;
constexpr size_t kUdpOffset = kIpOffset + 20;

void Put16(uint8_t* p, uint16_t v) {
  p[0] = v >> 8;
  p[1] = v & 0xff;
}
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, v >> 16);
  Put16(p + 2, v & 0xffff);
}

// Fills `frame` for one tuple (addresses in host order); the UDP checksum
// stays 0 (none, allowed over IPv4), the IPv4 header's is computed.
void WriteFrame(uint8_t* frame, const uint8_t src_mac[6],
                const uint8_t dst_mac[6], uint32_t src, uint32_t dst,
                uint16_t sport, uint16_t dport) {
  std::memset(frame, 0, kFrameBytes);
  std::memcpy(frame, dst_mac, 6);
  std::memcpy(frame + 6, src_mac, 6);
  Put16(frame + 12, ETHERTYPE_IP);
  uint8_t* ip = frame + kIpOffset;
  ip[0] = 0x45;
  Put16(ip + 2, kFrameBytes - kIpOffset);  // total length: 46
  ip[8] = 64;                              // TTL
  ip[9] = IPPROTO_UDP;
  Put32(ip + 12, src);
  Put32(ip + 16, dst);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  Put16(ip + 10, static_cast<uint16_t>(~sum));
  uint8_t* udp = frame + kUdpOffset;
  Put16(udp, sport);
  Put16(udp + 2, dport);
  Put16(udp + 4, kFrameBytes - kUdpOffset);
  std::memset(udp + 8, 'w', kFrameBytes - kUdpOffset - 8);
}

// Tuple `index` of a shape: churn walks 254 source addresses x 64512 source
// ports; scan walks the destination ports.
void TupleOf(bool scan, uint64_t index, int port, uint32_t* src,
             uint16_t* sport, uint16_t* dport) {
  constexpr uint32_t kTestNet1 = 0xc0000200;  // 192.0.2.0
  if (scan) {
    *src = kTestNet1 | 1;
    *sport = 40000;
    *dport = static_cast<uint16_t>(1 + index % 65535);
    return;
  }
  *src = kTestNet1 | static_cast<uint32_t>(1 + index % 254);
  *sport = static_cast<uint16_t>(1024 + (index / 254) % 64512);
  *dport = static_cast<uint16_t>(port);
}

int Churn(bool scan, const std::string& ifname, const uint8_t src_mac[6],
          const uint8_t dst_mac[6], const sockaddr_storage& addr, int port,
          double seconds, int64_t rate, int batch) {
  if (addr.ss_family != AF_INET) {
    std::fprintf(stderr, "udp_flood: churn and scan send IPv4 only\n");
    return 2;
  }
  const unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) {
    std::fprintf(stderr, "udp_flood: --interface '%s': %s\n", ifname.c_str(),
                 std::strerror(errno));
    return 2;
  }
  const int fd = socket(AF_PACKET, SOCK_RAW, 0);  // sends only: protocol 0
  if (fd < 0) {
    std::fprintf(stderr, "udp_flood: AF_PACKET socket: %s\n",
                 std::strerror(errno));
    return 1;
  }
  sockaddr_ll ll = {};
  ll.sll_family = AF_PACKET;
  ll.sll_ifindex = static_cast<int>(ifindex);
  ll.sll_halen = 6;
  std::memcpy(ll.sll_addr, dst_mac, 6);
  const uint32_t dst =
      ntohl(reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr.s_addr);
  std::vector<uint8_t> frames(static_cast<size_t>(batch) * kFrameBytes);
  std::vector<iovec> iovs(batch);
  std::vector<mmsghdr> msgs(batch);
  for (int i = 0; i < batch; ++i) {
    iovs[i] = {frames.data() + i * kFrameBytes, kFrameBytes};
    std::memset(&msgs[i], 0, sizeof(msgs[i]));
    msgs[i].msg_hdr.msg_name = &ll;
    msgs[i].msg_hdr.msg_namelen = sizeof(ll);
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  // tuples: how many tuples frames on the wire carried so far; tuple of
  // frame i of the batch being sent: first + i's own index.
  uint64_t sent = 0, errors = 0, tuples = 0;
  std::vector<uint64_t> tuple_of(batch);
  const double cpu0 = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  auto now = start;
  while (!StopRequested() && now < end) {
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const uint64_t due =
        scan ? UINT64_MAX : static_cast<uint64_t>(elapsed * rate) + 1;
    uint64_t next = tuples;
    for (int i = 0; i < batch; ++i) {
      if (next < due) ++next;  // due >= 1: the first frame starts tuple 1
      tuple_of[i] = next;
      uint32_t src;
      uint16_t sport, dport;
      TupleOf(scan, next - 1, port, &src, &sport, &dport);
      WriteFrame(frames.data() + i * kFrameBytes, src_mac, dst_mac, src, dst,
                 sport, dport);
    }
    const int n = sendmmsg(fd, msgs.data(), batch, 0);
    if (n > 0) {
      sent += n;
      tuples = tuple_of[n - 1];  // unsent frames' tuples are made again
    } else if (errno != EINTR && errno != ENOBUFS && errno != EAGAIN) {
      ++errors;
    }
    now = std::chrono::steady_clock::now();
  }
  const double elapsed = std::chrono::duration<double>(now - start).count();
  const double cpu = CpuSeconds() - cpu0;
  close(fd);
  const uint64_t made = tuples;
  std::printf(
      "sent=%llu errors=%llu seconds=%.6f pps=%.0f cpu_seconds=%.6f "
      "new_flows=%llu\n",
      static_cast<unsigned long long>(sent),
      static_cast<unsigned long long>(errors), elapsed,
      elapsed > 0 ? sent / elapsed : 0.0, cpu,
      static_cast<unsigned long long>(made));
  return 0;
}

int Main(int argc, char** argv) {
  const CommandLineSpec spec = ParseBenchCommandLine(
      argc, argv, "udp_flood",
      "UDP flood with sendmmsg for a bounded time, or (--sink) the socket "
      "it floods.");
  StopOnSignals();
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
  if (sink) return Sink(addr, len, seconds);
  const std::string shape = absl::GetFlag(FLAGS_shape);
  if (shape == "sockets") {
    return Flood(addr, len, seconds, flows, payload, batch);
  }
  if (shape != "churn" && shape != "scan") {
    std::fprintf(stderr,
                 "udp_flood: --shape must be sockets, churn or scan, not "
                 "'%s'\n",
                 shape.c_str());
    return 2;
  }
  uint8_t src_mac[6], dst_mac[6];
  if (!ParseMac(absl::GetFlag(FLAGS_src_mac), src_mac) ||
      !ParseMac(absl::GetFlag(FLAGS_dst_mac), dst_mac)) {
    std::fprintf(stderr,
                 "udp_flood: --src-mac and --dst-mac take xx:xx:xx:xx:xx:xx\n");
    return 2;
  }
  const int64_t rate = absl::GetFlag(FLAGS_new_flows_per_second);
  if (rate < 1 || rate > 100000000) {
    std::fprintf(stderr,
                 "udp_flood: --new-flows-per-second must be 1-100000000\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_interface).empty()) {
    std::fprintf(stderr, "udp_flood: --shape=%s needs --interface\n",
                 shape.c_str());
    return 2;
  }
  return Churn(shape == "scan", absl::GetFlag(FLAGS_interface), src_mac,
               dst_mac, addr, port, seconds, rate, batch);
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) { return weir::bench::Main(argc, argv); }
