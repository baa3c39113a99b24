#include "queryd/http/field_values.h"

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/enum_names.h"
#include "google/protobuf/util/json_util.h"
#include "queryd/http/path_template.h"

namespace weir::queryd::http {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

const FieldDescriptor* FindField(const Descriptor& type,
                                 absl::string_view name) {
  const std::string proto_name(name);
  if (const FieldDescriptor* field = type.FindFieldByName(proto_name)) {
    return field;
  }
  for (int i = 0; i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == name) return type.field(i);
  }
  return nullptr;
}

// Message types whose JSON form is not an object: set as one value.
bool IsJsonScalarMessage(const Descriptor& type) {
  switch (type.well_known_type()) {
    case Descriptor::WELLKNOWNTYPE_DOUBLEVALUE:
    case Descriptor::WELLKNOWNTYPE_FLOATVALUE:
    case Descriptor::WELLKNOWNTYPE_INT64VALUE:
    case Descriptor::WELLKNOWNTYPE_UINT64VALUE:
    case Descriptor::WELLKNOWNTYPE_INT32VALUE:
    case Descriptor::WELLKNOWNTYPE_UINT32VALUE:
    case Descriptor::WELLKNOWNTYPE_STRINGVALUE:
    case Descriptor::WELLKNOWNTYPE_BYTESVALUE:
    case Descriptor::WELLKNOWNTYPE_BOOLVALUE:
    case Descriptor::WELLKNOWNTYPE_FIELDMASK:
    case Descriptor::WELLKNOWNTYPE_DURATION:
    case Descriptor::WELLKNOWNTYPE_TIMESTAMP:
      return true;
    default:
      return false;
  }
}

// Message types JSON shows as something other than an object of their
// fields (so their fields cannot be addressed one by one).
bool IsSpecialJsonMessage(const Descriptor& type) {
  return type.well_known_type() != Descriptor::WELLKNOWNTYPE_UNSPECIFIED;
}

constexpr absl::string_view kDurationForms =
    "a duration such as 90s or 1.5s (seconds, the proto3 JSON form) or "
    "1m30s, 2h, 7d, 500ms (units d, h, m, s, ms, us, ns)";

// google.protobuf.Duration's range: +-10,000 years.
constexpr int64_t kMaxDurationSeconds = 315576000000;

// One unit of a duration's text, longest spelling first so "ms" is not
// read as "m".
struct DurationUnit {
  absl::string_view name;
  absl::Duration length;
};
constexpr DurationUnit kDurationUnits[] = {
    {"ns", absl::Nanoseconds(1)},  {"us", absl::Microseconds(1)},
    {"ms", absl::Milliseconds(1)}, {"d", absl::Hours(24)},
    {"h", absl::Hours(1)},         {"m", absl::Minutes(1)},
    {"s", absl::Seconds(1)},
};

// What a value for `field` must look like, for error messages.
std::string Expected(const FieldDescriptor& field) {
  switch (field.type()) {
    case FieldDescriptor::TYPE_ENUM:
      return EnumValueForms(*field.enum_type());
    case FieldDescriptor::TYPE_BOOL:
      return "true or false";
    case FieldDescriptor::TYPE_STRING:
      return "UTF-8 text";
    case FieldDescriptor::TYPE_BYTES:
      return "base64";
    case FieldDescriptor::TYPE_MESSAGE:
      switch (field.message_type()->well_known_type()) {
        case Descriptor::WELLKNOWNTYPE_TIMESTAMP:
          return "an RFC 3339 time such as 2024-05-01T12:00:00Z";
        case Descriptor::WELLKNOWNTYPE_DURATION:
          return {kDurationForms.begin(), kDurationForms.end()};
        case Descriptor::WELLKNOWNTYPE_FIELDMASK:
          return "comma-separated field paths";
        default:
          return field.message_type()->full_name();
      }
    default:
      return absl::StrCat("a number of type ", field.type_name());
  }
}

// {"a":{"b":<leaf>}} for the path of fields.
std::string NestedJson(absl::Span<const FieldDescriptor* const> fields,
                       const std::string& leaf) {
  std::string json;
  for (const FieldDescriptor* field : fields) {
    absl::StrAppend(&json, "{", JsonQuote(field->name()), ":");
  }
  absl::StrAppend(&json, leaf);
  json.append(fields.size(), '}');
  return json;
}

}  // namespace

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

absl::StatusOr<std::vector<FieldValue>> ParseQueryString(
    absl::string_view query) {
  std::vector<FieldValue> values;
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> raw =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    for (std::string* part : {&raw.first, &raw.second}) {
      for (char& c : *part) {
        if (c == '+') c = ' ';
      }
    }
    std::optional<std::string> name = PercentDecode(raw.first);
    std::optional<std::string> value = PercentDecode(raw.second);
    if (!name.has_value() || !value.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "query parameter \"", raw.first, "\": malformed percent-encoding"));
    }
    if (name->empty()) continue;
    values.push_back({*std::move(name), *std::move(value)});
  }
  return values;
}

absl::StatusOr<std::vector<const FieldDescriptor*>> ResolveFieldPath(
    const Descriptor& type, absl::string_view path) {
  std::vector<const FieldDescriptor*> fields;
  const Descriptor* current = &type;
  for (absl::string_view name : absl::StrSplit(path, '.')) {
    if (current == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(CanonicalPath(fields), " has no fields"));
    }
    const FieldDescriptor* field = FindField(*current, name);
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("no field \"", name, "\" in ", current->full_name()));
    }
    if (!fields.empty()) {
      const FieldDescriptor* parent = fields.back();
      if (parent->is_repeated()) {
        return absl::InvalidArgumentError(
            absl::StrCat(parent->name(), " is repeated; its elements' ",
                         "fields cannot be set one by one"));
      }
      if (IsSpecialJsonMessage(*parent->message_type())) {
        return absl::InvalidArgumentError(absl::StrCat(
            parent->name(), " (", parent->message_type()->full_name(),
            ") is set as a whole, not field by field"));
      }
    }
    fields.push_back(field);
    current = field->type() == FieldDescriptor::TYPE_MESSAGE
                  ? field->message_type()
                  : nullptr;
  }
  return fields;
}

std::string CanonicalPath(absl::Span<const FieldDescriptor* const> fields) {
  return absl::StrJoin(fields, ".",
                       [](std::string* out, const FieldDescriptor* field) {
                         out->append(field->name());
                       });
}

absl::Status MergeFieldValues(absl::Span<const FieldValue> values,
                              absl::string_view source,
                              absl::Span<const std::string> reserved,
                              google::protobuf::Message* message) {
  const Descriptor& type = *message->GetDescriptor();
  absl::flat_hash_set<std::string> singular_seen;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;

  for (const FieldValue& value : values) {
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, " \"", value.name, "\": ", what));
    };
    absl::StatusOr<std::vector<const FieldDescriptor*>> fields =
        ResolveFieldPath(type, value.name);
    if (!fields.ok()) return error(fields.status().message());
    const std::string path = CanonicalPath(*fields);
    for (const std::string& taken : reserved) {
      if (taken == "*" || path == taken ||
          absl::StartsWith(path, absl::StrCat(taken, ".")) ||
          absl::StartsWith(taken, absl::StrCat(path, "."))) {
        return error(taken == "*"
                         ? "not allowed: the request body sets every field"
                         : absl::StrCat("not allowed: \"", taken,
                                        "\" is set by the path or the body"));
      }
    }
    const FieldDescriptor& leaf = *fields->back();
    if (leaf.is_map()) return error("a map cannot be set from a parameter");
    if (leaf.type() == FieldDescriptor::TYPE_MESSAGE &&
        !IsJsonScalarMessage(*leaf.message_type())) {
      const Descriptor& inner = *leaf.message_type();
      return error(absl::StrCat(
          "is a message (", inner.full_name(), "); set its fields",
          inner.field_count() > 0 ? absl::StrCat(", e.g. \"", value.name, ".",
                                                 inner.field(0)->name(), "\"")
                                  : ""));
    }
    if (!leaf.is_repeated() && !singular_seen.insert(path).second) {
      return error("given more than once");
    }

    // Enums and Durations take more forms than proto3 JSON does; they are
    // turned into the JSON form here (an enum's full name, "<seconds>s").
    std::string text = value.value;
    if (leaf.type() == FieldDescriptor::TYPE_ENUM) {
      const google::protobuf::EnumValueDescriptor* found =
          FindEnumValue(*leaf.enum_type(), text);
      if (found == nullptr) {
        return error(absl::StrCat("invalid value ", JsonQuote(text), " (want ",
                                  Expected(leaf), ")"));
      }
      text = found->name();
    } else if (leaf.type() == FieldDescriptor::TYPE_MESSAGE &&
               leaf.message_type()->well_known_type() ==
                   Descriptor::WELLKNOWNTYPE_DURATION) {
      absl::StatusOr<absl::Duration> duration = ParseDurationText(text);
      if (!duration.ok()) {
        return error(absl::StrCat(duration.status().message(), " (want ",
                                  Expected(leaf), ")"));
      }
      text = DurationJsonText(*duration);
    }
    // Every scalar is given to the JSON parser as a string: proto3 JSON
    // accepts quoted numbers, booleans and enum numbers, and it is the one
    // place that knows every type's text form.
    const std::string quoted = JsonQuote(text);
    const std::string json = NestedJson(
        *fields, leaf.is_repeated() ? absl::StrCat("[", quoted, "]") : quoted);
    std::unique_ptr<google::protobuf::Message> scratch(message->New());
    if (!google::protobuf::util::JsonStringToMessage(json, scratch.get(),
                                                     options)
             .ok()) {
      return error(absl::StrCat("invalid value ", quoted, " (want ",
                                Expected(leaf), ")"));
    }
    message->MergeFrom(*scratch);
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text) {
  const std::string quoted = JsonQuote(text);
  if (absl::StartsWith(text, "-")) {
    return absl::InvalidArgumentError(
        absl::StrCat("negative duration ", quoted));
  }
  absl::string_view rest = text;
  absl::ConsumePrefix(&rest, "+");
  if (rest.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid value ", quoted));
  }
  const absl::Duration max = absl::Seconds(kMaxDurationSeconds);
  absl::Duration total;
  while (!rest.empty()) {
    // <digits>[.<digits>]<unit>
    size_t end = 0;
    while (end < rest.size() && absl::ascii_isdigit(rest[end])) ++end;
    const absl::string_view whole = rest.substr(0, end);
    absl::string_view fraction;
    if (end < rest.size() && rest[end] == '.') {
      const size_t start = ++end;
      while (end < rest.size() && absl::ascii_isdigit(rest[end])) ++end;
      fraction = rest.substr(start, end - start);
    }
    if (whole.empty() && fraction.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid value ", quoted));
    }
    rest.remove_prefix(end);
    const DurationUnit* unit = nullptr;
    for (const DurationUnit& candidate : kDurationUnits) {
      if (absl::StartsWith(rest, candidate.name)) {
        unit = &candidate;
        break;
      }
    }
    if (unit == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("invalid value ", quoted));
    }
    rest.remove_prefix(unit->name.size());

    // Digits beyond what can count stop the sum; absl::Duration saturates
    // at infinity rather than wrapping, so the comparison below holds.
    int64_t count = 0;
    if (!whole.empty() &&
        (whole.size() > 18 || !absl::SimpleAtoi(whole, &count))) {
      return absl::InvalidArgumentError(
          absl::StrCat("duration ", quoted, " is too long (at most ",
                       kMaxDurationSeconds, "s)"));
    }
    total += unit->length * count;
    // The fraction, to the nanosecond: digits past the ninth are dropped.
    absl::Duration part = unit->length;
    for (size_t i = 0; i < fraction.size() && i < 9; ++i) {
      part /= 10;
      total += part * (fraction[i] - '0');
    }
    if (total > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("duration ", quoted, " is too long (at most ",
                       kMaxDurationSeconds, "s)"));
    }
  }
  return total;
}

std::string DurationJsonText(absl::Duration duration) {
  const int64_t nanos = absl::ToInt64Nanoseconds(duration % absl::Seconds(1));
  const int64_t seconds =
      absl::ToInt64Seconds(duration - absl::Nanoseconds(nanos));
  if (nanos == 0) return absl::StrCat(seconds, "s");
  std::string digits = absl::StrCat(nanos + 1000000000);  // "1xxxxxxxxx"
  return absl::StrCat(seconds, ".", digits.substr(1), "s");
}

}  // namespace weir::queryd::http
