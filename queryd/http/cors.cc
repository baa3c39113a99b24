#include "queryd/http/cors.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace weir::queryd::http {
namespace {

bool IsHostChar(char c) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' ||
         c == '.';
}

// Why `origin` is not a serialized http(s) origin, or "" when it is one.
std::string OriginProblem(absl::string_view origin) {
  absl::string_view rest = origin;
  if (!absl::ConsumePrefix(&rest, "http://") &&
      !absl::ConsumePrefix(&rest, "https://")) {
    return "must start with http:// or https://";
  }
  absl::string_view host = rest;
  absl::string_view port;
  if (absl::StartsWith(rest, "[")) {
    const size_t close = rest.find(']');
    if (close == absl::string_view::npos) return "has an unclosed '['";
    host = rest.substr(0, close + 1);
    const absl::string_view inside = host.substr(1, host.size() - 2);
    if (inside.empty() ||
        !std::all_of(inside.begin(), inside.end(), [](char c) {
          return (absl::ascii_isxdigit(c) && !absl::ascii_isupper(c)) ||
                 c == ':' || c == '.';
        })) {
      return "has a malformed IPv6 address (lower-case hex digits, ':')";
    }
    rest.remove_prefix(close + 1);
    if (!rest.empty() && !absl::ConsumePrefix(&rest, ":")) {
      return "has something after the host (no path, no trailing '/')";
    }
    port = rest;
    if (port.empty() && absl::EndsWith(origin, ":")) return "has an empty port";
  } else {
    const size_t colon = rest.find(':');
    if (colon != absl::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return "has an empty port";
    }
    if (host.empty()) return "has no host";
    for (char c : host) {
      if (c == '/' || c == '?' || c == '#') {
        return "has something after the host (no path, no trailing '/')";
      }
      if (!IsHostChar(c)) {
        return absl::ascii_isupper(c)
                   ? "must be in lower case, as browsers send it"
                   : "has a character a host name cannot have";
      }
    }
  }
  if (!port.empty()) {
    uint32_t number = 0;
    if (!std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(port, &number) || number == 0 || number > 65535) {
      return "has a port outside 1-65535 (or something after the host)";
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<CorsPolicy> CorsPolicy::Parse(absl::string_view flag) {
  CorsPolicy policy;
  flag = absl::StripAsciiWhitespace(flag);
  if (flag.empty()) return policy;
  if (flag == "*") {
    policy.any_ = true;
    return policy;
  }
  for (absl::string_view item : absl::StrSplit(flag, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) {
      return absl::InvalidArgumentError(
          "--http-cors-origins: empty item in the list");
    }
    if (item == "*") {
      return absl::InvalidArgumentError(
          "--http-cors-origins: \"*\" must stand alone (any origin)");
    }
    if (const std::string problem = OriginProblem(item); !problem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--http-cors-origins: \"", item, "\" ", problem,
          " (want an origin such as https://grafana.example.org or "
          "http://127.0.0.1:3000, or *)"));
    }
    policy.origins_.emplace_back(item);
  }
  return policy;
}

std::optional<std::string> CorsPolicy::AllowOrigin(
    absl::string_view origin) const {
  if (origin.empty()) return std::nullopt;
  if (any_) return std::string("*");
  for (const std::string& allowed : origins_) {
    if (allowed == origin) return allowed;
  }
  return std::nullopt;
}

std::string CorsPolicy::AllowHeaders(absl::string_view requested) {
  std::vector<std::string> allowed;
  for (absl::string_view name : absl::StrSplit(requested, ',')) {
    const std::string lower =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
    if (lower == "authorization" || lower == "content-type" ||
        (absl::StartsWith(lower, "grpc-metadata-") &&
         lower.size() > sizeof("grpc-metadata-") - 1)) {
      if (std::find(allowed.begin(), allowed.end(), lower) == allowed.end()) {
        allowed.push_back(lower);
      }
    }
  }
  return absl::StrJoin(allowed, ", ");
}

}  // namespace weir::queryd::http
