#include "common/enum_names.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace weir {

using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;

std::string EnumValuePrefix(const EnumDescriptor& type) {
  const std::string& name = type.name();
  std::string prefix;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    // A word starts at an upper-case letter after a lower-case letter or a
    // digit ("GroupBy"), or at the last capital of an acronym that a
    // lower-case letter follows ("HTTPMethod" -> HTTP_METHOD).
    if (i > 0 && absl::ascii_isupper(c)) {
      const char before = name[i - 1];
      const bool after_word =
          absl::ascii_islower(before) || absl::ascii_isdigit(before);
      const bool acronym_end = absl::ascii_isupper(before) &&
                               i + 1 < name.size() &&
                               absl::ascii_islower(name[i + 1]);
      if (after_word || acronym_end) prefix += '_';
    }
    prefix += absl::ascii_toupper(c);
  }
  prefix += '_';
  return prefix;
}

std::string ShortEnumName(const EnumValueDescriptor& value) {
  const std::string prefix = EnumValuePrefix(*value.type());
  absl::string_view rest = value.name();
  if (!absl::ConsumePrefix(&rest, prefix) || rest.empty() ||
      absl::ascii_isdigit(rest[0])) {
    return "";
  }
  return absl::AsciiStrToLower(rest);
}

const EnumValueDescriptor* FindEnumValue(const EnumDescriptor& type,
                                         absl::string_view text) {
  if (text.empty()) return nullptr;
  const std::string name(text);
  if (const EnumValueDescriptor* value = type.FindValueByName(name)) {
    return value;
  }
  int32_t number = 0;
  if ((absl::ascii_isdigit(text[0]) || text[0] == '-') &&
      absl::SimpleAtoi(text, &number)) {
    return type.FindValueByNumber(number);
  }
  const std::string lower = absl::AsciiStrToLower(text);
  for (int i = 0; i < type.value_count(); ++i) {
    const std::string short_name = ShortEnumName(*type.value(i));
    if (!short_name.empty() && short_name == lower) return type.value(i);
  }
  return nullptr;
}

std::string EnumValueForms(const EnumDescriptor& type) {
  std::vector<std::string> names;
  std::vector<std::string> short_names;
  for (int i = 0; i < type.value_count(); ++i) {
    names.push_back(type.value(i)->name());
    std::string short_name = ShortEnumName(*type.value(i));
    if (!short_name.empty()) short_names.push_back(std::move(short_name));
  }
  return absl::StrCat(
      "one of ", absl::StrJoin(names, ", "),
      short_names.empty()
          ? ""
          : absl::StrCat("; in short ", absl::StrJoin(short_names, ", ")),
      "; or its number");
}

}  // namespace weir
