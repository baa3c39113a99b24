// For the tests of what takes a SourceAllowlist: parsing where a test means a
// valid --allowed-ips text.

#ifndef WEIR_COMMON_SOURCE_ALLOWLIST_TEST_UTIL_H_
#define WEIR_COMMON_SOURCE_ALLOWLIST_TEST_UTIL_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/source_allowlist.h"
#include "gtest/gtest.h"

namespace weir {

// The list `text` names; a test failure (and the list of everyone) when it
// names none.
inline SourceAllowlist ParsedAllowlist(absl::string_view text) {
  absl::StatusOr<SourceAllowlist> list =
      SourceAllowlist::Parse("--allowed-ips", text);
  EXPECT_TRUE(list.ok()) << text << ": " << list.status();
  return list.ok() ? *list : SourceAllowlist();
}

}  // namespace weir

#endif  // WEIR_COMMON_SOURCE_ALLOWLIST_TEST_UTIL_H_
