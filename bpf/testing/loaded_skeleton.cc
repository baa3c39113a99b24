#include "bpf/testing/loaded_skeleton.h"

#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace weir::bpf::testing {

std::unique_ptr<Skeleton> LoadedSkeleton(const ProgramOptions& options) {
  absl::StatusOr<std::unique_ptr<Skeleton>> skeleton =
      Skeleton::OpenAndLoad(options);
  EXPECT_TRUE(skeleton.ok()) << skeleton.status();
  return skeleton.ok() ? *std::move(skeleton) : nullptr;
}

}  // namespace weir::bpf::testing
