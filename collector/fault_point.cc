// Built only into testonly targets (see fault_point.h).
#include "collector/fault_point.h"

#ifndef WEIR_FAULT_POINTS
#error "fault_point.cc belongs to test builds only (WEIR_FAULT_POINTS)"
#endif

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace weir::collector::fault {
namespace {

struct Wanted {
  std::string point;
  uint64_t hit = 1;
};

const Wanted& WantedFromEnvironment() {
  static const Wanted* wanted = [] {
    auto* w = new Wanted;
    const char* value = std::getenv("WEIR_FAULT");
    if (value == nullptr) return w;
    std::pair<std::string, std::string> parts =
        absl::StrSplit(value, absl::MaxSplits('@', 1));
    w->point = parts.first;
    if (!parts.second.empty() && !absl::SimpleAtoi(parts.second, &w->hit)) {
      w->point.clear();  // a malformed count arms nothing
    }
    return w;
  }();
  return *wanted;
}

}  // namespace

bool Armed(absl::string_view point) {
  const Wanted& wanted = WantedFromEnvironment();
  if (wanted.point.empty() || wanted.point != point) return false;
  static std::atomic<uint64_t> hits{0};
  return ++hits == wanted.hit;
}

}  // namespace weir::collector::fault
