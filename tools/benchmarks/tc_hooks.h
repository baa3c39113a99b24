// One TC program held on an interface's ingress and egress, attached the way
// weir-collector attaches Weir's (collector::Attacher: a tcx link where the
// kernel has tcx, else clsact), for the wire benchmarks' programs.

#ifndef WEIR_TOOLS_BENCHMARKS_TC_HOOKS_H_
#define WEIR_TOOLS_BENCHMARKS_TC_HOOKS_H_

#include <string>
#include <vector>

#include "collector/attach.h"

namespace weir::bench {

class TcHooks {
 public:
  // `program` prefixes the error lines; `pin_path` is the bpffs folder for
  // the tcx link pins (the collector's layout).
  TcHooks(std::string program, std::string pin_path);

  // Attaches `prog_fd` on `ifname`'s ingress, then egress, and prints
  // "attached <mode>" on stdout once both are in place. On a failure prints
  // "<program>: <error>" on stderr and returns false; whatever was attached
  // stays for Detach.
  bool Attach(int prog_fd, const std::string& ifname, bool force_clsact);

  // Detaches everything Attach attached, printing each failure; false if
  // any.
  bool Detach();

 private:
  std::string program_;
  collector::Attacher attacher_;
  std::vector<collector::Attachment> attached_;
};

}  // namespace weir::bench

#endif  // WEIR_TOOLS_BENCHMARKS_TC_HOOKS_H_
