// For the tests of addresses and of what is built on them (Cidr): parsing
// where a test means a valid text, and the error where it means a bad one.

#ifndef WEIR_COMMON_IP_ADDRESS_TEST_UTIL_H_
#define WEIR_COMMON_IP_ADDRESS_TEST_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/ip_address.h"
#include "gtest/gtest.h"

namespace weir {

// The address `text` names; a test failure (and the default address) when it
// names none.
inline IpAddress ParsedAddress(absl::string_view text) {
  absl::StatusOr<IpAddress> address = IpAddress::Parse(text);
  EXPECT_TRUE(address.ok()) << text << ": " << address.status();
  return address.ok() ? *address : IpAddress();
}

// Why T::Parse (IpAddress::Parse, Cidr::Parse) refuses `text`: the message
// of its INVALID_ARGUMENT error, or "parsed as <value>" when it accepts it.
template <typename T>
std::string ParseErrorOf(absl::string_view text) {
  const absl::StatusOr<T> parsed = T::Parse(text);
  if (parsed.ok()) return absl::StrCat("parsed as ", parsed->ToString());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string{parsed.status().message()};
}

// A text T::Parse must refuse, and the message it must refuse it with.
struct Refusal {
  std::string input;
  const char* error;
};

// ParseErrorOf<T> of every case's input is the case's error.
template <typename T>
void ExpectRefusals(absl::Span<const Refusal> cases) {
  for (const Refusal& c : cases) {
    EXPECT_EQ(ParseErrorOf<T>(c.input), c.error);
  }
}

}  // namespace weir

#endif  // WEIR_COMMON_IP_ADDRESS_TEST_UTIL_H_
