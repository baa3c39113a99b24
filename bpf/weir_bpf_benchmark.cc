// Kernel cost per packet of weir.bpf.c against an empty TC program, both run
// by BPF_PROG_TEST_RUN on the same frames (docs/benchmarks.md). The kernel
// times the repeats itself, so the figures are program run time without syscall
// overhead; each is the median of several runs of 1M repeats. Needs root.
//
//   bazel run -c opt //bpf:weir_bpf_benchmark [-- rounds]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "bpf/skeleton.h"
#include "bpf/testing/empty_tc.skel.h"
#include "bpf/testing/packet_builder.h"

namespace weir::bpf {
namespace {

using ::weir::bpf::testing::kTcpAck;
using ::weir::bpf::testing::PacketBuilder;

constexpr uint32_t kRepeat = 1 << 20;

// Median ns per run of `prog_fd` on `frame`, or a negative value on error.
double NsPerPacket(int prog_fd, const std::vector<uint8_t>& frame, int rounds) {
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    struct bpf_test_run_opts opts = {};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<__u32>(frame.size());
    opts.repeat = kRepeat;
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) return -1;
    samples.push_back(opts.duration);  // the kernel's mean ns per repeat
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

int Main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 9;
  if (geteuid() != 0) {
    std::fprintf(stderr,
                 "weir_bpf_benchmark: needs root (CAP_BPF, CAP_PERFMON)\n");
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Skeleton>> weir = Skeleton::OpenAndLoad({});
  if (!weir.ok()) {
    std::fprintf(stderr, "weir_bpf_benchmark: %s\n",
                 weir.status().ToString().c_str());
    return 1;
  }
  struct empty_tc* empty = empty_tc__open_and_load();
  if (empty == nullptr) {
    std::fprintf(stderr, "weir_bpf_benchmark: loading empty_tc failed\n");
    return 1;
  }
  const int empty_fd = bpf_program__fd(empty->progs.empty_tc);
  const int weir_fd = (*weir)->ingress_program_fd();
  struct Frame {
    const char* name;
    std::vector<uint8_t> bytes;
  };
  const Frame frames[] = {
      {"ipv4_tcp", PacketBuilder()
                       .Ethernet()
                       .Ipv4("192.0.2.1", "198.51.100.2")
                       .Tcp(40000, 443, kTcpAck)
                       .Build()},
      {"ipv6_tcp", PacketBuilder()
                       .Ethernet()
                       .Ipv6("2001:db8::1", "2001:db8::2")
                       .Tcp(40000, 443, kTcpAck)
                       .Build()},
  };
  int status = 0;
  std::printf("%-10s %12s %12s %8s\n", "frame", "empty ns", "weir ns", "ratio");
  for (const Frame& frame : frames) {
    const double base = NsPerPacket(empty_fd, frame.bytes, rounds);
    const double cost = NsPerPacket(weir_fd, frame.bytes, rounds);
    if (base <= 0 || cost < 0) {
      std::fprintf(stderr, "weir_bpf_benchmark: BPF_PROG_TEST_RUN failed\n");
      status = 1;
      break;
    }
    std::printf("%-10s %12.1f %12.1f %8.2f\n", frame.name, base, cost,
                cost / base);
  }
  empty_tc__destroy(empty);
  return status;
}

}  // namespace
}  // namespace weir::bpf

int main(int argc, char** argv) { return weir::bpf::Main(argc, argv); }
