// Sums of counters that stop at the largest uint64 instead of wrapping.
//
// Every flow record is bounded at ingest (queryd/store/batch_validator.h),
// but totals over many records, nodes and months have no such bound, and a
// wrapped total reads as a small number: 2^63 + 2^63 packets would read 0.
// A saturated total reads as 18446744073709551615, which is visibly "too
// many" and never smaller than any of its parts.

#ifndef WEIR_COMMON_SATURATING_H_
#define WEIR_COMMON_SATURATING_H_

#include <cstdint>
#include <limits>

namespace weir {

inline constexpr uint64_t kSaturated = std::numeric_limits<uint64_t>::max();

// a + b, or kSaturated when the sum does not fit in 64 bits.
constexpr uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? kSaturated : sum;
}

// *sum = SaturatingAdd(*sum, value), for accumulating loops.
constexpr void SaturatingAddTo(uint64_t& sum, uint64_t value) {
  sum = SaturatingAdd(sum, value);
}

}  // namespace weir

#endif  // WEIR_COMMON_SATURATING_H_
