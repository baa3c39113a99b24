// The kernel cost of a packet that starts a new flow (tools/bench kernel),
// measured through BPF_PROG_TEST_RUN with many repeats per run.
//
// new_flow_harness.bpf.c runs first on every repeat, writes a value that
// advances per repeat into the frame's TCP source port and tail-calls the
// program under test. Each round, on one IPv4 or IPv6 TCP frame, times
// (--repeats repeats each; the kernel reports the mean ns per repeat):
//   empty     harness -> empty program, the port advancing;
//   new       harness -> weir.bpf.c, the port advancing, on an emptied flow
//             map: every repeat inserts a new flow;
//   existing  harness -> weir.bpf.c, the port fixed: every repeat but the
//             first adds to one existing flow (in the map `new` filled);
//   empty     again (flanking).
// The flow map is Weir's default size (65536) and --repeats must stay below
// it, so no insert ever fails; each round checks that every repeat of `new`
// made a flow. Rounds alternate IPv4 and IPv6. Printed, per family: medians
// of the four timings and of the per-round differences new - empty and
// existing - empty, which are what weir.bpf.c adds over the empty program on
// each path (the harness's own cost cancels). Needs root.

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "bpf/skeleton.h"
#include "bpf/testing/empty_tc.skel.h"
#include "bpf/testing/packet_builder.h"
#include "bpf/weir_flow.h"
#include "tools/benchmarks/bench_main.h"
#include "tools/benchmarks/new_flow_harness.skel.h"

ABSL_FLAG(int, repeats, 60000,
          "repeats per run: new flows per run (below the 65536-entry map)");
ABSL_FLAG(int, rounds, 20, "rounds of empty/new/existing/empty per family");

namespace weir::bench {
namespace {

using ::weir::bpf::testing::kTcpAck;
using ::weir::bpf::testing::PacketBuilder;

constexpr int kHarnessTailCallFailed = 77;
constexpr int kTcActUnspec = -1;

// Entries of the flow map.
int Count(int map_fd) {
  struct weir_flow_key key, next;
  const void* prev = nullptr;
  int n = 0;
  while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
    ++n;
    key = next;
    prev = &key;
  }
  return n;
}

// Deletes every entry of the flow map; returns how many there were.
int Clear(int map_fd) {
  std::vector<struct weir_flow_key> keys;
  struct weir_flow_key key, next;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
    keys.push_back(next);
    key = next;
    prev = &key;
  }
  for (const struct weir_flow_key& k : keys) bpf_map_delete_elem(map_fd, &k);
  return static_cast<int>(keys.size());
}

double Median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

class Harness {
 public:
  Harness(struct new_flow_harness* skel, int empty_fd, int weir_fd)
      : skel_(skel), empty_fd_(empty_fd), weir_fd_(weir_fd) {}

  // Mean ns per repeat of the harness with `target` in its slot, the port
  // advancing by `step`; -1 on error.
  double Run(const std::vector<uint8_t>& frame, uint32_t field_offset,
             bool weir, uint32_t step, int repeats) {
    const uint32_t zero = 0;
    const int target = weir ? weir_fd_ : empty_fd_;
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.bench_target), &zero,
                            &target, BPF_ANY) != 0) {
      std::perror("kernel_new_flow: setting the tail-call target");
      return -1;
    }
    skel_->data->field_offset = field_offset;
    skel_->data->step = step;
    skel_->data->next_value = next_++ * 7919;  // a fresh start each run
    struct bpf_test_run_opts opts = {};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<__u32>(frame.size());
    opts.repeat = repeats;
    if (bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.new_flow_harness),
                               &opts) != 0) {
      std::perror("kernel_new_flow: BPF_PROG_TEST_RUN");
      return -1;
    }
    if (static_cast<int>(opts.retval) != kTcActUnspec) {
      std::fprintf(stderr, "kernel_new_flow: the run returned %d%s\n",
                   static_cast<int>(opts.retval),
                   static_cast<int>(opts.retval) == kHarnessTailCallFailed
                       ? " (the tail call failed)"
                       : "");
      return -1;
    }
    return opts.duration;
  }

 private:
  struct new_flow_harness* skel_;
  int empty_fd_;
  int weir_fd_;
  uint32_t next_ = 0;
};

int Main(int argc, char** argv) {
  const CommandLineSpec spec = ParseBenchCommandLine(
      argc, argv, "kernel_new_flow",
      "ns per packet of weir.bpf.c on new flows vs existing flows vs an empty "
      "TC program, through a tail-calling harness. Needs root.");
  const int repeats =
      FlagInRange(spec, "repeats", absl::GetFlag(FLAGS_repeats), 1000, 65000);
  const int rounds =
      FlagInRange(spec, "rounds", absl::GetFlag(FLAGS_rounds), 1, 1000);
  if (geteuid() != 0) {
    std::fprintf(stderr,
                 "kernel_new_flow: needs root (CAP_BPF, CAP_PERFMON)\n");
    return 1;
  }
  bpf::ProgramOptions options;  // the default map size: 65536 flows
  absl::StatusOr<std::unique_ptr<bpf::Skeleton>> weir =
      bpf::Skeleton::OpenAndLoad(options);
  if (!weir.ok()) {
    return Failed("kernel_new_flow", weir.status());
  }
  if (repeats >= static_cast<int>(options.flow_map_entries)) {
    std::fprintf(stderr, "kernel_new_flow: --repeats must be below %u\n",
                 options.flow_map_entries);
    return 2;
  }
  struct empty_tc* empty = empty_tc__open_and_load();
  struct new_flow_harness* harness_skel = new_flow_harness__open_and_load();
  // Both go on every return (destroying a null skeleton does nothing).
  absl::Cleanup destroy = [&] {
    new_flow_harness__destroy(harness_skel);
    empty_tc__destroy(empty);
  };
  if (empty == nullptr || harness_skel == nullptr) {
    std::fprintf(stderr,
                 "kernel_new_flow: loading the empty program or the "
                 "harness failed\n");
    return 1;
  }
  Harness harness(harness_skel, bpf_program__fd(empty->progs.empty_tc),
                  (*weir)->ingress_program_fd());
  const int flows_fd = (*weir)->flow_map_fd(0);  // slot 0: active after load

  struct Family {
    const char* name;
    std::vector<uint8_t> frame;
    uint32_t port_offset;
  };
  const Family families[] = {
      {"ipv4_tcp",
       PacketBuilder()
           .Ethernet()
           .Ipv4("192.0.2.1", "198.51.100.2")
           .Tcp(40000, 443, kTcpAck)
           .Build(),
       14 + 20},
      {"ipv6_tcp",
       PacketBuilder()
           .Ethernet()
           .Ipv6("2001:db8::1", "2001:db8::2")
           .Tcp(40000, 443, kTcpAck)
           .Build(),
       14 + 40},
  };
  struct Samples {
    std::vector<double> empty_ns, new_ns, existing_ns, new_cost, existing_cost;
  };
  Samples samples[2];
  int status = 0;
  // Rounds alternate the families, so drift hits both alike.
  for (int round = 0; round < rounds && status == 0; ++round) {
    for (int i = 0; i < 2 && status == 0; ++i) {
      const Family& f = families[i];
      Samples& s = samples[i];
      Clear(flows_fd);
      const double e1 = harness.Run(f.frame, f.port_offset, false, 1, repeats);
      const double n = harness.Run(f.frame, f.port_offset, true, 1, repeats);
      const int made = Count(flows_fd);
      const double x = harness.Run(f.frame, f.port_offset, true, 0, repeats);
      const double e2 = harness.Run(f.frame, f.port_offset, false, 1, repeats);
      if (e1 < 0 || n < 0 || x < 0 || e2 < 0) {
        status = 1;
        break;
      }
      if (made != repeats) {
        std::fprintf(stderr,
                     "kernel_new_flow: %d repeats made %d flows, not one "
                     "each\n",
                     repeats, made);
        status = 1;
        break;
      }
      s.empty_ns.push_back(e1);
      s.empty_ns.push_back(e2);
      s.new_ns.push_back(n);
      s.existing_ns.push_back(x);
      s.new_cost.push_back(n - (e1 + e2) / 2);
      s.existing_cost.push_back(x - (e1 + e2) / 2);
    }
  }
  for (int i = 0; i < 2 && status == 0; ++i) {
    const Samples& s = samples[i];
    std::printf(
        "%s repeats=%d rounds=%d harness_empty_ns=%.1f harness_new_ns=%.1f "
        "harness_existing_ns=%.1f new_over_empty_ns=%.1f "
        "existing_over_empty_ns=%.1f\n",
        families[i].name, repeats, rounds, Median(s.empty_ns), Median(s.new_ns),
        Median(s.existing_ns), Median(s.new_cost), Median(s.existing_cost));
  }
  Clear(flows_fd);
  return status;
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) { return weir::bench::Main(argc, argv); }
