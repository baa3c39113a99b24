// A google.api.http path template and its matcher (grammar from
// google/api/http.proto):
//
//   Template  = "/" Segments [ Verb ] ;
//   Segments  = Segment { "/" Segment } ;
//   Segment   = "*" | "**" | LITERAL | Variable ;
//   Variable  = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//   Verb      = ":" LITERAL ;
//
// `*` matches one path segment, `**` zero or more (only as the last segment),
// `{var}` is `{var=*}`. A request path matches when every segment matches and
// it ends in ":<verb>" exactly when the template has a verb.
#ifndef WEIR_QUERYD_HTTP_PATH_TEMPLATE_H_
#define WEIR_QUERYD_HTTP_PATH_TEMPLATE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace weir::queryd::http {

class PathTemplate {
 public:
  // A variable's field path and the part of the request path it matched,
  // percent-decoded ("%2F" stays encoded in multi-segment values, as
  // http.proto asks, so the value still splits into its segments).
  struct Binding {
    std::string field_path;
    std::string value;

    friend bool operator==(const Binding& a, const Binding& b) {
      return a.field_path == b.field_path && a.value == b.value;
    }
  };

  // INVALID_ARGUMENT naming the template and what is wrong with it.
  static absl::StatusOr<PathTemplate> Parse(absl::string_view text);

  // Matches a request path: the part of the request target before '?',
  // still percent-encoded. nullopt when it does not match (including
  // malformed percent-encoding).
  std::optional<std::vector<Binding>> Match(absl::string_view path) const;

  // The template as written, e.g. "/v1/flows:watch" (a metrics label).
  const std::string& text() const { return text_; }
  const std::string& verb() const { return verb_; }
  // Field paths of the variables, in order.
  std::vector<std::string> variables() const;

 private:
  enum class Kind { kLiteral, kSingle, kMulti };  // LITERAL, "*", "**"
  struct Segment {
    Kind kind;
    std::string literal;  // kLiteral only
  };
  struct Variable {
    std::string field_path;
    size_t begin;  // segments [begin, end)
    size_t end;
  };

  PathTemplate() = default;

  std::string text_;
  std::vector<Segment> segments_;
  std::vector<Variable> variables_;
  std::string verb_;
};

// Percent-decodes `text`; keeps "%2F"/"%2f" encoded when keep_slash is set.
// nullopt for a truncated or non-hex escape.
std::optional<std::string> PercentDecode(absl::string_view text,
                                         bool keep_slash = false);

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_PATH_TEMPLATE_H_
