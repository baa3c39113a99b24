// Attaches Weir's TC programs to an interface's ingress and egress hooks,
// and detaches only what it attached.
//
// Where the kernel has tcx (6.6+) each hook gets a tcx link, pinned under
// <pin_path>/links/ so the attachment outlives the collector when asked to
// (--keep-attached) and a later collector adopts it, swapping in its own
// program with bpf_link_update: no packet goes unobserved during an upgrade.
// Elsewhere the program goes in as a direct-action filter on a clsact qdisc
// (created only if missing). Either way the program is an observer: it
// returns TC_ACT_UNSPEC and other filters on the hook keep running.
#ifndef WEIR_COLLECTOR_ATTACH_H_
#define WEIR_COLLECTOR_ATTACH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "weir/v1/flow.pb.h"

namespace weir::collector {

enum class AttachMode { kTcx, kClsact };

// One program on one hook of one interface.
struct Attachment {
  std::string ifname;
  int ifindex = 0;
  weir::v1::Direction direction = weir::v1::DIRECTION_UNSPECIFIED;
  AttachMode mode = AttachMode::kTcx;
  // tcx: the link (owned) and where it is pinned.
  int link_fd = -1;
  std::string link_pin;
  // clsact: the filter's handle and priority, and whether the qdisc was
  // created here. The qdisc stays on detach even then: another tool may
  // have added filters to it since, and those are not ours to remove.
  unsigned handle = 0;
  unsigned priority = 0;
  bool created_qdisc = false;
  // The hook already had Weir attached (pinned link or our filter) and it
  // was taken over.
  bool adopted = false;
};

class Attacher {
 public:
  // `pin_path` is the bpffs folder of Weir's pinned state.
  explicit Attacher(std::string pin_path) : pin_path_(std::move(pin_path)) {}

  // Attaches `prog_fd` on the hook. Prefers tcx and falls back to clsact
  // when the kernel has no tcx; `force_clsact` skips tcx.
  absl::StatusOr<Attachment> Attach(int prog_fd, const std::string& ifname,
                                    weir::v1::Direction direction,
                                    bool force_clsact = false);

  // Removes the attachment: unpins and detaches a tcx link, or deletes our
  // clsact filter (never the qdisc, nor anyone else's filter).
  absl::Status Detach(Attachment& attachment);

  // Leaves the attachment in place (its pin keeps a tcx link alive) and
  // closes our handle to it.
  void Release(Attachment& attachment);

 private:
  absl::StatusOr<Attachment> AttachTcx(int prog_fd, Attachment attachment);
  absl::StatusOr<Attachment> AttachClsact(int prog_fd, Attachment attachment);

  const std::string pin_path_;
};

// Names of the interfaces "all" means: every interface that is up, except
// loopback.
absl::StatusOr<std::vector<std::string>> InterfacesThatAreUp();

}  // namespace weir::collector

#endif  // WEIR_COLLECTOR_ATTACH_H_
