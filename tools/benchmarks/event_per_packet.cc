// The user-space half of the one-event-per-packet design (ayaFlow's design,
// re-implemented here for the peers benchmark; not ayaFlow itself): attaches
// event_per_packet.bpf.c to an interface's ingress and egress the way
// weir-collector attaches Weir's program, and consumes its ring buffer,
// counting events, until SIGTERM/SIGINT or --seconds. Then it reads what is
// left in the ring, detaches what it attached and prints
//
//   events=N bytes=B lost=L
//
// (L: events the ring had no room for, from the program's own counter).
// Prints "attached <mode>" once both hooks are in place. Needs root.
//
//   event_per_packet --interface=wa --pin-path=/sys/fs/bpf/bench-epp

#include "tools/benchmarks/event_per_packet.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/flags/flag.h"
#include "tools/benchmarks/bench_main.h"
#include "tools/benchmarks/event_per_packet.skel.h"
#include "tools/benchmarks/tc_hooks.h"

ABSL_FLAG(std::string, interface, "", "interface to attach to");
ABSL_FLAG(std::string, pin_path, "",
          "a bpffs folder for the tcx link pins (the collector's layout)");
ABSL_FLAG(double, seconds, 600, "stop after this long at the latest");

namespace weir::bench {
namespace {

struct Totals {
  uint64_t events = 0;
  uint64_t bytes = 0;
};

int OnEvent(void* ctx, void* data, size_t size) {
  if (size < sizeof(struct epp_event)) return 0;
  auto* totals = static_cast<Totals*>(ctx);
  const auto* e = static_cast<const struct epp_event*>(data);
  totals->events += 1;
  totals->bytes += e->bytes;
  return 0;
}

uint64_t Lost(int map_fd) {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return 0;
  std::vector<uint64_t> per_cpu(cpus);
  const uint32_t zero = 0;
  if (bpf_map_lookup_elem(map_fd, &zero, per_cpu.data()) != 0) return 0;
  uint64_t sum = 0;
  for (uint64_t v : per_cpu) sum += v;
  return sum;
}

int Main(int argc, char** argv) {
  const CommandLineSpec spec = ParseBenchCommandLine(
      argc, argv, "event_per_packet",
      "One ring-buffer event per packet and a consumer that counts them "
      "(the one-event-per-packet design, re-implemented for the peers "
      "benchmark). Needs root.");
  const std::string ifname = absl::GetFlag(FLAGS_interface);
  const std::string pin_path = absl::GetFlag(FLAGS_pin_path);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  if (ifname.empty() || pin_path.empty() || !(seconds > 0 && seconds <= 3600)) {
    std::fprintf(stderr,
                 "event_per_packet: --interface and --pin-path are required, "
                 "--seconds is 0-3600\n");
    return 2;
  }
  StopOnSignals();
  struct event_per_packet* skel = event_per_packet__open_and_load();
  if (skel == nullptr) {
    std::fprintf(stderr, "event_per_packet: loading the program failed\n");
    return 1;
  }
  absl::Cleanup destroy = [skel] { event_per_packet__destroy(skel); };
  Totals totals;
  struct ring_buffer* ring = ring_buffer__new(bpf_map__fd(skel->maps.events),
                                              OnEvent, &totals, nullptr);
  if (ring == nullptr) {
    std::fprintf(stderr, "event_per_packet: ring_buffer__new failed\n");
    return 1;
  }
  absl::Cleanup free_ring = [ring] { ring_buffer__free(ring); };
  TcHooks hooks(spec.program, pin_path);
  int status = hooks.Attach(bpf_program__fd(skel->progs.event_per_packet),
                            ifname, /*force_clsact=*/false)
                   ? 0
                   : 1;
  if (status == 0) {
    const auto end = std::chrono::steady_clock::now() +
                     std::chrono::duration<double>(seconds);
    while (!StopRequested() && std::chrono::steady_clock::now() < end) {
      const int n = ring_buffer__poll(ring, 100);
      if (n < 0 && n != -EINTR) {
        std::fprintf(stderr, "event_per_packet: ring_buffer__poll: %d\n", n);
        status = 1;
        break;
      }
    }
  }
  if (!hooks.Detach()) status = 1;
  // Detached: nothing more arrives; read what the ring still holds.
  ring_buffer__consume(ring);
  std::printf(
      "events=%llu bytes=%llu lost=%llu\n",
      static_cast<unsigned long long>(totals.events),
      static_cast<unsigned long long>(totals.bytes),
      static_cast<unsigned long long>(Lost(bpf_map__fd(skel->maps.lost))));
  return status;
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) { return weir::bench::Main(argc, argv); }
