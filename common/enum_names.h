// The names a protobuf enum value may be given by in text (REST query
// parameters): its full name ("GROUP_BY_SRC"), its number ("1"), and its
// short form, the full name without the upper-cased type-name prefix, in
// lower case ("src"). The prefix is derived from the type's name (GroupBy ->
// "GROUP_BY_", IpVersion -> "IP_VERSION_"), so every enum that follows the
// proto style guide gets short forms without a table.
#ifndef WEIR_COMMON_ENUM_NAMES_H_
#define WEIR_COMMON_ENUM_NAMES_H_

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace weir {

// "GROUP_BY_" for GroupBy: the type's name in upper snake case, then '_'.
std::string EnumValuePrefix(const google::protobuf::EnumDescriptor& type);

// "src" for GROUP_BY_SRC; "" when the value's name does not start with its
// type's prefix, or what is left is empty or starts with a digit (the short
// form of IP_VERSION_4 would read as a number).
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value);

// The value `text` names in any of the three forms: the full name (exactly),
// a decimal number of a declared value, or the short form (any case). Null
// when it names none.
const google::protobuf::EnumValueDescriptor* FindEnumValue(
    const google::protobuf::EnumDescriptor& type, absl::string_view text);

// Every form, for error messages: "one of GROUP_BY_UNSPECIFIED,
// GROUP_BY_SRC, ...; in short unspecified, src, ...; or its number".
std::string EnumValueForms(const google::protobuf::EnumDescriptor& type);

}  // namespace weir

#endif  // WEIR_COMMON_ENUM_NAMES_H_
