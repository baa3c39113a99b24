#include "collector/preflight.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace weir::collector {
namespace {

struct NeededCapability {
  int number;
  const char* name;
};

// In the order the error message lists them.
constexpr NeededCapability kNeeded[] = {
    {CAP_BPF, "CAP_BPF"},
    {CAP_NET_ADMIN, "CAP_NET_ADMIN"},
    {CAP_PERFMON, "CAP_PERFMON"},
};

}  // namespace

absl::Status CheckCapabilities() {
  // capget(2) directly: libcap would add nothing but a dependency here.
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    return absl::ErrnoToStatus(errno, "reading this process's capabilities");
  }
  std::vector<const char*> missing;
  for (const NeededCapability& cap : kNeeded) {
    const uint32_t word = data[cap.number / 32].effective;
    if ((word & (1u << (cap.number % 32))) == 0) missing.push_back(cap.name);
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "missing ", absl::StrJoin(missing, ", "),
        ": weir-collector needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON "
        "(not CAP_SYS_ADMIN)"));
  }
  return absl::OkStatus();
}

absl::Status CheckKernelBtf(const std::string& btf_path) {
  if (access(btf_path.c_str(), R_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "kernel BTF not readable at ", btf_path, " (", std::strerror(errno),
        "): weir-collector needs a kernel built with CONFIG_DEBUG_INFO_BTF"));
  }
  return absl::OkStatus();
}

}  // namespace weir::collector
