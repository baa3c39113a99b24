#include "queryd/http/path_template.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace weir::queryd::http {
namespace {

// Characters that end a literal: the template's own punctuation, and what
// can never be part of a path.
bool EndsLiteral(char c) {
  switch (c) {
    case '/':
    case ':':
    case '{':
    case '}':
    case '=':
    case '*':
    case '?':
    case '#':
      return true;
    default:
      return false;
  }
}

bool IsIdent(absl::string_view text) {
  if (text.empty() || absl::ascii_isdigit(text[0])) return false;
  for (char c : text) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Recursive-descent parser over the template text.
class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::string_view rest() const { return text_.substr(pos_); }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  bool Consume(absl::string_view s) {
    if (!absl::StartsWith(rest(), s)) return false;
    pos_ += s.size();
    return true;
  }
  absl::string_view Literal() {
    const size_t start = pos_;
    while (!AtEnd() && !EndsLiteral(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  absl::string_view FieldPath() {
    const size_t start = pos_;
    while (!AtEnd() && (absl::ascii_isalnum(text_[pos_]) ||
                        text_[pos_] == '_' || text_[pos_] == '.')) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }
  size_t pos() const { return pos_; }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<std::string> PercentDecode(absl::string_view text,
                                         bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = HexValue(text[i + 1]);
    const int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const char c = static_cast<char>(hi * 16 + lo);
    if (keep_slash && c == '/') {
      out.append(text.data() + i, 3);
    } else {
      out.push_back(c);
    }
    i += 2;
  }
  return out;
}

absl::StatusOr<PathTemplate> PathTemplate::Parse(absl::string_view text) {
  auto error = [text](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("path template \"", text, "\": ", what));
  };
  PathTemplate result;
  result.text_.assign(text.data(), text.size());
  Parser p(text);
  if (!p.Consume('/')) return error("must start with '/'");

  bool in_variable = false;
  Variable variable;
  while (true) {
    // One segment.
    if (!in_variable && p.Consume('{')) {
      absl::string_view path = p.FieldPath();
      for (absl::string_view part : absl::StrSplit(path, '.')) {
        if (!IsIdent(part)) {
          return error(absl::StrCat("bad variable name \"", path, "\""));
        }
      }
      for (const Variable& v : result.variables_) {
        if (v.field_path == path) {
          return error(absl::StrCat("variable \"", path, "\" appears twice"));
        }
      }
      variable = Variable{std::string(path.data(), path.size()),
                          result.segments_.size(), 0};
      if (p.Consume('}')) {  // {var} is {var=*}
        result.segments_.push_back({Kind::kSingle, ""});
        variable.end = result.segments_.size();
        result.variables_.push_back(variable);
      } else if (p.Consume('=')) {
        in_variable = true;
        continue;
      } else {
        return error(absl::StrCat("expected '=' or '}' at offset ", p.pos()));
      }
    } else if (p.Consume("**")) {
      result.segments_.push_back({Kind::kMulti, ""});
    } else if (p.Consume('*')) {
      result.segments_.push_back({Kind::kSingle, ""});
    } else {
      absl::string_view literal = p.Literal();
      if (literal.empty()) {
        return error(
            absl::StrCat("empty or invalid segment at offset ", p.pos()));
      }
      result.segments_.push_back(
          {Kind::kLiteral, std::string(literal.data(), literal.size())});
    }

    if (in_variable && p.Consume('}')) {
      in_variable = false;
      variable.end = result.segments_.size();
      result.variables_.push_back(variable);
    }
    if (p.Consume('/')) continue;
    if (in_variable) {
      return error(
          absl::StrCat("unclosed variable \"", variable.field_path, "\""));
    }
    if (p.Consume(':')) {
      absl::string_view verb = p.Literal();
      if (verb.empty() || !p.AtEnd()) return error("bad verb");
      result.verb_.assign(verb.data(), verb.size());
    }
    if (!p.AtEnd()) {
      return error(absl::StrCat("unexpected '", std::string(1, p.Peek()),
                                "' at offset ", p.pos()));
    }
    break;
  }
  for (size_t i = 0; i < result.segments_.size(); ++i) {
    if (result.segments_[i].kind == Kind::kMulti &&
        i + 1 != result.segments_.size()) {
      return error("'**' must be the last segment");
    }
  }
  return result;
}

std::vector<std::string> PathTemplate::variables() const {
  std::vector<std::string> names;
  for (const Variable& v : variables_) names.push_back(v.field_path);
  return names;
}

std::optional<std::vector<PathTemplate::Binding>> PathTemplate::Match(
    absl::string_view path) const {
  if (!absl::ConsumePrefix(&path, "/")) return std::nullopt;
  if (!verb_.empty()) {
    // The verb follows the last segment after a literal ':'.
    const std::string suffix = absl::StrCat(":", verb_);
    if (!absl::ConsumeSuffix(&path, suffix)) return std::nullopt;
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');

  const bool multi =
      !segments_.empty() && segments_.back().kind == Kind::kMulti;
  if (multi ? parts.size() + 1 < segments_.size()
            : parts.size() != segments_.size()) {
    return std::nullopt;
  }
  // A single trailing "**" also matches the path "/" (no segments).
  const bool empty_rest = multi && parts.size() + 1 == segments_.size();

  for (size_t i = 0; i < segments_.size(); ++i) {
    const Segment& segment = segments_[i];
    if (segment.kind == Kind::kMulti) break;
    std::optional<std::string> part = PercentDecode(parts[i]);
    if (!part.has_value() || part->empty()) return std::nullopt;
    if (segment.kind == Kind::kLiteral && *part != segment.literal) {
      return std::nullopt;
    }
  }

  std::vector<Binding> bindings;
  for (const Variable& v : variables_) {
    std::vector<std::string> values;
    const size_t end =
        (multi && v.end == segments_.size()) ? parts.size() : v.end;
    for (size_t i = v.begin; i < end; ++i) {
      if (empty_rest && i >= parts.size()) break;
      const bool multi_segment =
          v.end - v.begin != 1 || segments_[v.begin].kind == Kind::kMulti;
      std::optional<std::string> part =
          PercentDecode(parts[i], /*keep_slash=*/multi_segment);
      if (!part.has_value()) return std::nullopt;
      values.push_back(*std::move(part));
    }
    bindings.push_back({v.field_path, absl::StrJoin(values, "/")});
  }
  return bindings;
}

}  // namespace weir::queryd::http
