// Bearer tokens and their scopes, as --token-file lists them
// (docs/security.md, "Tokens"). Pure: parsing and lookup only; reading the
// file and noticing changes is Authorizer's.
//
// One token per line: `<name> <scope>[,<scope>...] sha256:<64 hex digits>`,
// fields separated by spaces or tabs. The hash is SHA-256 of the token's
// bytes (`weir-queryd --hash-token` prints it), so the file holds no token
// itself. `#` starts a comment; blank lines are skipped. Names are
// [A-Za-z0-9._-]{1,64}, each once; a hash may appear once.
#ifndef WEIR_QUERYD_AUTH_TOKEN_TABLE_H_
#define WEIR_QUERYD_AUTH_TOKEN_TABLE_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace weir::queryd::auth {

// What a token may do. admin may do everything.
enum class Scope : uint8_t {
  kRead = 1,     // QueryService (REST, streams) and reflection
  kIngest = 2,   // IngestService
  kMetrics = 4,  // GET /metrics
  kAdmin = 8,    // all of the above
};

// "read", "ingest", "metrics", "admin".
absl::string_view ScopeName(Scope scope);
std::optional<Scope> ParseScope(absl::string_view name);

using TokenHash = std::array<uint8_t, 32>;

// SHA-256 of `token`'s bytes.
TokenHash HashToken(absl::string_view token);
// "sha256:<64 lower-case hex digits>", the form --token-file holds.
std::string FormatTokenHash(const TokenHash& hash);

// Whether `token` may be used: 16 to 4096 characters of RFC 6750's b64token
// (letters, digits, - . _ ~ + /, then any '='), so it fits an
// Authorization header as it is. The reason when not (never the token).
absl::Status ValidateToken(absl::string_view token);

// What `weir-queryd --hash-token` prints for `input` (the token, as read
// from standard input, one trailing newline allowed): its
// "sha256:<hex>", or why the token may not be used.
absl::StatusOr<std::string> HashTokenInput(absl::string_view input);

struct TokenEntry {
  std::string name;
  uint8_t scopes = 0;  // Scope bits
  TokenHash hash{};

  bool Grants(Scope needed) const {
    return (scopes & static_cast<uint8_t>(Scope::kAdmin)) != 0 ||
           (scopes & static_cast<uint8_t>(needed)) != 0;
  }
  // "read,metrics": the scopes in the file's order of Scope.
  std::string ScopeList() const;
};

class TokenTable {
 public:
  // `contents` of the file named `filename` (which error messages start
  // with, as "<filename>:<line>: ...").
  static absl::StatusOr<TokenTable> Parse(absl::string_view contents,
                                          absl::string_view filename);

  // The entry whose hash is SHA-256 of `token`, or null. Compares with every
  // entry in constant time each (CRYPTO_memcmp) and never stops early, so
  // the time taken says nothing about which bytes matched.
  const TokenEntry* Find(absl::string_view token) const;

  size_t size() const { return entries_.size(); }
  const std::vector<TokenEntry>& entries() const { return entries_; }

 private:
  std::vector<TokenEntry> entries_;
};

// The token of an Authorization header or metadata value
// "Bearer <token>" (the scheme in any case, RFC 7235); an error saying what
// is wrong with the value's form otherwise (never echoing it).
absl::StatusOr<absl::string_view> ParseBearer(absl::string_view value);

}  // namespace weir::queryd::auth

#endif  // WEIR_QUERYD_AUTH_TOKEN_TABLE_H_
