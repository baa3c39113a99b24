// For the store's unit tests: rollup totals compared field by field, so a
// failure names the field.

#ifndef WEIR_QUERYD_STORE_TOTALS_TEST_UTIL_H_
#define WEIR_QUERYD_STORE_TOTALS_TEST_UTIL_H_

#include "gtest/gtest.h"
#include "queryd/store/store_types.h"

namespace weir::store {

inline void ExpectTotals(const Totals& got, const Totals& want) {
  EXPECT_EQ(got.bytes, want.bytes);
  EXPECT_EQ(got.packets, want.packets);
  EXPECT_EQ(got.flows, want.flows);
  EXPECT_EQ(got.first_seen_unix_nano, want.first_seen_unix_nano);
  EXPECT_EQ(got.last_seen_unix_nano, want.last_seen_unix_nano);
  EXPECT_EQ(got.damaged, want.damaged);
}

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_TOTALS_TEST_UTIL_H_
