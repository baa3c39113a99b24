// Attaches the empty TC program (//bpf/testing:empty_tc) to an interface's
// ingress and egress the way weir-collector attaches Weir's (the collector's
// own Attacher: a tcx link where the kernel has tcx, else clsact), holds it
// until SIGTERM/SIGINT or --seconds, and detaches what it attached. The
// wire benchmark's "empty program" variant (tools/bench wire).
//
//   empty_tc_attach --interface=wa --pin-path=/sys/fs/bpf/bench-empty
//   prints "attached <mode>" on stdout once both hooks are in place.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/flags/flag.h"
#include "bpf/testing/empty_tc.skel.h"
#include "tools/benchmarks/bench_main.h"
#include "tools/benchmarks/tc_hooks.h"

ABSL_FLAG(std::string, interface, "", "interface to attach to");
ABSL_FLAG(std::string, pin_path, "",
          "a bpffs folder for the tcx link pins (the collector's layout)");
ABSL_FLAG(bool, clsact, false, "attach through clsact even where tcx exists");
ABSL_FLAG(double, seconds, 600, "detach after this long at the latest");

namespace weir::bench {
namespace {

int Main(int argc, char** argv) {
  const CommandLineSpec spec = ParseBenchCommandLine(
      argc, argv, "empty_tc_attach",
      "Holds the empty TC program on an interface's ingress and egress.");
  const std::string ifname = absl::GetFlag(FLAGS_interface);
  const std::string pin_path = absl::GetFlag(FLAGS_pin_path);
  if (ifname.empty() || pin_path.empty()) {
    std::fprintf(stderr,
                 "empty_tc_attach: --interface and --pin-path are "
                 "required\n");
    return 2;
  }
  StopOnSignals();
  struct empty_tc* skel = empty_tc__open_and_load();
  if (skel == nullptr) {
    std::fprintf(stderr, "empty_tc_attach: loading empty_tc failed\n");
    return 1;
  }
  absl::Cleanup destroy = [skel] { empty_tc__destroy(skel); };
  TcHooks hooks(spec.program, pin_path);
  int status = hooks.Attach(bpf_program__fd(skel->progs.empty_tc), ifname,
                            absl::GetFlag(FLAGS_clsact))
                   ? 0
                   : 1;
  if (status == 0) {
    const auto end =
        std::chrono::steady_clock::now() +
        std::chrono::duration<double>(absl::GetFlag(FLAGS_seconds));
    while (!StopRequested() && std::chrono::steady_clock::now() < end) {
      usleep(50000);
    }
  }
  if (!hooks.Detach()) status = 1;
  return status;
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) { return weir::bench::Main(argc, argv); }
