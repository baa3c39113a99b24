// Checks weir-collector makes before touching the kernel, so a missing
// privilege or kernel feature is one clear line instead of a libbpf errno.
#ifndef WEIR_COLLECTOR_PREFLIGHT_H_
#define WEIR_COLLECTOR_PREFLIGHT_H_

#include <string>

#include "absl/status/status.h"

namespace weir::collector {

// FAILED_PRECONDITION naming every missing capability among CAP_BPF,
// CAP_NET_ADMIN and CAP_PERFMON in the effective set. CAP_SYS_ADMIN is
// neither needed nor accepted as a substitute.
absl::Status CheckCapabilities();

// FAILED_PRECONDITION when the kernel exposes no BTF at `btf_path`.
absl::Status CheckKernelBtf(
    const std::string& btf_path = "/sys/kernel/btf/vmlinux");

}  // namespace weir::collector

#endif  // WEIR_COLLECTOR_PREFLIGHT_H_
