#include "tools/benchmarks/tc_hooks.h"

#include <cstdio>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/benchmarks/bench_main.h"
#include "weir/v1/flow.pb.h"

namespace weir::bench {

TcHooks::TcHooks(std::string program, std::string pin_path)
    : program_(std::move(program)), attacher_(std::move(pin_path)) {}

bool TcHooks::Attach(int prog_fd, const std::string& ifname,
                     bool force_clsact) {
  for (weir::v1::Direction direction :
       {weir::v1::DIRECTION_INGRESS, weir::v1::DIRECTION_EGRESS}) {
    absl::StatusOr<collector::Attachment> a =
        attacher_.Attach(prog_fd, ifname, direction, force_clsact);
    if (!a.ok()) {
      Failed(program_, a.status());
      return false;
    }
    attached_.push_back(*a);
  }
  std::printf("attached %s\n", attached_[0].mode == collector::AttachMode::kTcx
                                   ? "tcx"
                                   : "clsact");
  std::fflush(stdout);
  return true;
}

bool TcHooks::Detach() {
  bool ok = true;
  for (collector::Attachment& a : attached_) {
    if (absl::Status s = attacher_.Detach(a); !s.ok()) {
      Failed(program_, s);
      ok = false;
    }
  }
  attached_.clear();
  return ok;
}

}  // namespace weir::bench
