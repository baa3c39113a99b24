// ListFlows' page tokens: opaque to clients, stable across pages and
// restarts of weir-queryd.
//
// A token carries the store's cursor (where the next page resumes), the
// window the first page resolved (so "the last hour" means the same hour on
// every page, however long the client takes between pages) and a
// fingerprint of the query (range and filter as the client sent them), so a
// token reused with another query is refused instead of silently resuming
// somewhere unrelated.
//
// Layout, version 1, then base64url without padding
// (absl::WebSafeBase64Escape):
//   [0]        version, 1                                    u8
//   [1, 9)     query fingerprint                             u64 BE
//   [9, 17)    window start, ns since the Unix epoch         u64 BE
//   [17, 25)   window end, ns since the Unix epoch           u64 BE
//   [25, ...)  store cursor (at least one byte)
//
// Tokens are not signed: a client that forges one can only move the start
// of its own scan or its window, which it could do with an ordinary request.
//
// ListConnections' tokens (KeyPageToken) walk an in-memory table in key
// order; they carry no window. Layout, version 2, then base64url:
//   [0]        version, 2                                    u8
//   [1, 9)     query fingerprint                             u64 BE
//   [9, ...)   the last key listed (at least one byte)
// Each decoder refuses the other's tokens.

#ifndef WEIR_QUERYD_QUERY_PAGE_TOKEN_H_
#define WEIR_QUERYD_QUERY_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "queryd/store/store_types.h"

namespace weir::query {

inline constexpr uint8_t kPageTokenVersion = 1;
inline constexpr uint8_t kKeyPageTokenVersion = 2;
// Longest token accepted, in characters; real ones are about 70.
inline constexpr size_t kMaxPageTokenSize = 512;

struct PageToken {
  // QueryFingerprint of the query the token was issued for.
  uint64_t fingerprint = 0;
  // The window of the first page, pinned for the following pages.
  store::TimeRange range;
  // The store's cursor (store::RawScan::cursor), opaque here.
  std::string cursor;
};

// The token's text. `token.range` must lie within the Unix epoch and
// 2262 (the span of int64 nanoseconds), and the cursor must not be empty.
std::string EncodePageToken(const PageToken& token);

// Parses a token made by EncodePageToken. Anything else is INVALID_ARGUMENT
// "page_token: ...".
absl::StatusOr<PageToken> DecodePageToken(absl::string_view text);

struct KeyPageToken {
  // QueryFingerprint of the query the token was issued for.
  uint64_t fingerprint = 0;
  // The key (as its caller encodes keys) of the last item listed; the next
  // page starts strictly after it.
  std::string after;
};

// The token's text; `token.after` must not be empty.
std::string EncodeKeyPageToken(const KeyPageToken& token);

// Parses a token made by EncodeKeyPageToken. Anything else is
// INVALID_ARGUMENT "page_token: ...".
absl::StatusOr<KeyPageToken> DecodeKeyPageToken(absl::string_view text);

// A stable 64-bit fingerprint of `query` (FNV-1a over its deterministic
// serialization): equal for equal messages in every process and build of
// the same proto. Callers clear the fields that may change between pages
// (page_token, page_size) before calling.
uint64_t QueryFingerprint(const google::protobuf::Message& query);

}  // namespace weir::query

#endif  // WEIR_QUERYD_QUERY_PAGE_TOKEN_H_
