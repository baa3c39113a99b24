#include "queryd/auth/token_table.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace weir::queryd::auth {
namespace {

constexpr Scope kScopes[] = {Scope::kRead, Scope::kIngest, Scope::kMetrics,
                             Scope::kAdmin};
constexpr absl::string_view kHashPrefix = "sha256:";
constexpr size_t kMinTokenLength = 16;
constexpr size_t kMaxTokenLength = 4096;
constexpr size_t kMaxNameLength = 64;

bool IsNameChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
}

bool IsB64TokenChar(char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
         c == '~' || c == '+' || c == '/';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<TokenHash> ParseHash(absl::string_view field) {
  if (!absl::ConsumePrefix(&field, kHashPrefix)) {
    return absl::InvalidArgumentError(
        "the third field must be sha256:<64 hex digits> (weir-queryd "
        "--hash-token prints it)");
  }
  TokenHash hash;
  if (field.size() != 2 * hash.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sha256: needs 64 hex digits, got ", field.size()));
  }
  for (size_t i = 0; i < hash.size(); ++i) {
    const int hi = HexValue(field[2 * i]);
    const int lo = HexValue(field[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError("sha256: holds a non-hex character");
    }
    hash[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return hash;
}

}  // namespace

absl::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kRead:
      return "read";
    case Scope::kIngest:
      return "ingest";
    case Scope::kMetrics:
      return "metrics";
    case Scope::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Scope> ParseScope(absl::string_view name) {
  for (Scope scope : kScopes) {
    if (name == ScopeName(scope)) return scope;
  }
  return std::nullopt;
}

TokenHash HashToken(absl::string_view token) {
  TokenHash hash;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
         hash.data());
  return hash;
}

std::string FormatTokenHash(const TokenHash& hash) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kHashPrefix);
  for (uint8_t byte : hash) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
  }
  return out;
}

absl::Status ValidateToken(absl::string_view token) {
  if (token.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a token needs at least ", kMinTokenLength, " characters, this has ",
        token.size(), " (make one with: openssl rand -hex 32)"));
  }
  if (token.size() > kMaxTokenLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("a token has at most ", kMaxTokenLength, " characters"));
  }
  size_t end = token.size();
  while (end > 0 && token[end - 1] == '=') --end;
  for (size_t i = 0; i < end; ++i) {
    if (!IsB64TokenChar(token[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a token may hold letters, digits and - . _ ~ + / (then any =); "
          "character ",
          i + 1, " is not one of them"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> HashTokenInput(absl::string_view input) {
  absl::ConsumeSuffix(&input, "\n") && absl::ConsumeSuffix(&input, "\r");
  if (absl::Status valid = ValidateToken(input); !valid.ok()) return valid;
  return FormatTokenHash(HashToken(input));
}

std::string TokenEntry::ScopeList() const {
  std::string out;
  for (Scope scope : kScopes) {
    if ((scopes & static_cast<uint8_t>(scope)) != 0) {
      absl::StrAppend(&out, out.empty() ? "" : ",", ScopeName(scope));
    }
  }
  return out;
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view contents,
                                             absl::string_view filename) {
  TokenTable table;
  absl::flat_hash_set<std::string> names;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(filename, ":", line_number, ": ", what));
    };
    if (const size_t hash = line.find('#'); hash != line.npos) {
      line = line.substr(0, hash);
    }
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.size() != 3) {
      return error(absl::StrCat(
          "want 3 fields (<name> <scope>[,<scope>...] sha256:<hex>), got ",
          fields.size()));
    }
    TokenEntry entry;
    entry.name = std::string(fields[0]);
    if (entry.name.size() > kMaxNameLength ||
        !std::all_of(entry.name.begin(), entry.name.end(), IsNameChar)) {
      return error(absl::StrCat("name \"", entry.name,
                                "\": want 1 to 64 of A-Z a-z 0-9 . _ -"));
    }
    if (!names.insert(entry.name).second) {
      return error(absl::StrCat("name \"", entry.name, "\" is used twice"));
    }
    for (absl::string_view name : absl::StrSplit(fields[1], ',')) {
      const std::optional<Scope> scope = ParseScope(name);
      if (!scope.has_value()) {
        return error(absl::StrCat("scope \"", name,
                                  "\": want read, ingest, metrics or admin"));
      }
      entry.scopes |= static_cast<uint8_t>(*scope);
    }
    absl::StatusOr<TokenHash> hash = ParseHash(fields[2]);
    if (!hash.ok()) return error(hash.status().message());
    entry.hash = *hash;
    for (const TokenEntry& other : table.entries_) {
      if (other.hash == entry.hash) {
        return error(absl::StrCat("the token of \"", entry.name,
                                  "\" is also the token of \"", other.name,
                                  "\""));
      }
    }
    table.entries_.push_back(std::move(entry));
  }
  return table;
}

const TokenEntry* TokenTable::Find(absl::string_view token) const {
  const TokenHash hash = HashToken(token);
  const TokenEntry* found = nullptr;
  for (const TokenEntry& entry : entries_) {
    const bool equal =
        CRYPTO_memcmp(entry.hash.data(), hash.data(), hash.size()) == 0;
    if (equal) found = &entry;
  }
  return found;
}

absl::StatusOr<absl::string_view> ParseBearer(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  const size_t space = value.find_first_of(" \t");
  if (space == value.npos ||
      !absl::EqualsIgnoreCase(value.substr(0, space), "bearer")) {
    return absl::InvalidArgumentError("authorization: want \"Bearer <token>\"");
  }
  absl::string_view token =
      absl::StripLeadingAsciiWhitespace(value.substr(space));
  if (token.empty() || token.find_first_of(" \t") != token.npos) {
    return absl::InvalidArgumentError(
        "authorization: want \"Bearer <token>\" with one token");
  }
  return token;
}

}  // namespace weir::queryd::auth
