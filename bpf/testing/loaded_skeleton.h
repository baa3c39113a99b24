// For the tests that load Weir's program: what they need (root, for
// CAP_BPF and CAP_PERFMON) and a skeleton loaded for them.

#ifndef WEIR_BPF_TESTING_LOADED_SKELETON_H_
#define WEIR_BPF_TESTING_LOADED_SKELETON_H_

#include <memory>

#include "bpf/skeleton.h"

namespace weir::bpf::testing {

// Why a test that loads a program skips when not run as root (CI runs as
// root, so there it runs).
inline constexpr char kNeedsRoot[] = "needs root (CAP_BPF, CAP_PERFMON)";

// Skeleton::OpenAndLoad(options); a test failure, and null, when it fails.
std::unique_ptr<Skeleton> LoadedSkeleton(const ProgramOptions& options);

}  // namespace weir::bpf::testing

#endif  // WEIR_BPF_TESTING_LOADED_SKELETON_H_
