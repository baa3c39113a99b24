// Attaches the empty TC program (//bpf/testing:empty_tc) to an interface's
// ingress and egress the way weir-collector attaches Weir's (the collector's
// own Attacher: a tcx link where the kernel has tcx, else clsact), holds it
// until SIGTERM/SIGINT or --seconds, and detaches what it attached. The
// wire benchmark's "empty program" variant (tools/bench wire).
//
//   empty_tc_attach --interface=wa --pin-path=/sys/fs/bpf/bench-empty
//   prints "attached <mode>" on stdout once both hooks are in place.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "bpf/testing/empty_tc.skel.h"
#include "collector/attach.h"
#include "common/command_line.h"

ABSL_FLAG(std::string, interface, "", "interface to attach to");
ABSL_FLAG(std::string, pin_path, "",
          "a bpffs folder for the tcx link pins (the collector's layout)");
ABSL_FLAG(bool, clsact, false, "attach through clsact even where tcx exists");
ABSL_FLAG(double, seconds, 600, "detach after this long at the latest");

namespace weir::bench {
namespace {

volatile sig_atomic_t stop = 0;
void OnSignal(int) { stop = 1; }

int Main(int argc, char** argv) {
  CommandLineSpec spec;
  spec.program = "empty_tc_attach";
  spec.usage =
      "Holds the empty TC program on an interface's ingress and egress.";
  spec.flag_source_prefixes = {"tools/benchmarks/"};
  if (!ParseCommandLineOrExit(argc, argv, spec).empty()) {
    UsageError(spec, "takes no positional arguments");
  }
  const std::string ifname = absl::GetFlag(FLAGS_interface);
  const std::string pin_path = absl::GetFlag(FLAGS_pin_path);
  if (ifname.empty() || pin_path.empty()) {
    std::fprintf(stderr,
                 "empty_tc_attach: --interface and --pin-path are "
                 "required\n");
    return 2;
  }
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  struct empty_tc* skel = empty_tc__open_and_load();
  if (skel == nullptr) {
    std::fprintf(stderr, "empty_tc_attach: loading empty_tc failed\n");
    return 1;
  }
  const int prog_fd = bpf_program__fd(skel->progs.empty_tc);
  collector::Attacher attacher(pin_path);
  std::vector<collector::Attachment> attached;
  int status = 0;
  for (weir::v1::Direction direction :
       {weir::v1::DIRECTION_INGRESS, weir::v1::DIRECTION_EGRESS}) {
    absl::StatusOr<collector::Attachment> a = attacher.Attach(
        prog_fd, ifname, direction, absl::GetFlag(FLAGS_clsact));
    if (!a.ok()) {
      std::fprintf(stderr, "empty_tc_attach: %s\n",
                   a.status().ToString().c_str());
      status = 1;
      break;
    }
    attached.push_back(*a);
  }
  if (status == 0) {
    std::printf("attached %s\n", attached[0].mode == collector::AttachMode::kTcx
                                     ? "tcx"
                                     : "clsact");
    std::fflush(stdout);
    const auto end =
        std::chrono::steady_clock::now() +
        std::chrono::duration<double>(absl::GetFlag(FLAGS_seconds));
    while (!stop && std::chrono::steady_clock::now() < end) usleep(50000);
  }
  for (collector::Attachment& a : attached) {
    if (absl::Status s = attacher.Detach(a); !s.ok()) {
      std::fprintf(stderr, "empty_tc_attach: %s\n", s.ToString().c_str());
      status = 1;
    }
  }
  empty_tc__destroy(skel);
  return status;
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) { return weir::bench::Main(argc, argv); }
