// Cross-origin access to the HTTP front for browsers (the Fetch standard's
// CORS protocol), as --http-cors-origins configures it: off by default (no
// Access-Control-* header is ever sent), "*" for any origin, or a list of
// exact origins.
#ifndef WEIR_QUERYD_HTTP_CORS_H_
#define WEIR_QUERYD_HTTP_CORS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace weir::queryd::http {

class CorsPolicy {
 public:
  // No CORS: the default.
  CorsPolicy() = default;

  // From the flag's value: "" (off), "*" (any origin), or comma-separated
  // origins as browsers serialize them: scheme "http" or "https", "://",
  // a lower-case host name, IPv4 address or bracketed IPv6 address, an
  // optional ":port" (1-65535), nothing after ("https://grafana.example.org",
  // "http://127.0.0.1:3000"). INVALID_ARGUMENT naming the bad item.
  static absl::StatusOr<CorsPolicy> Parse(absl::string_view flag);

  bool enabled() const { return any_ || !origins_.empty(); }

  // Access-Control-Allow-Origin for a request's Origin header: "*" for
  // any, the origin itself when it is listed, nullopt otherwise (also for a
  // request without Origin, which is not a cross-origin browser request).
  std::optional<std::string> AllowOrigin(absl::string_view origin) const;

  // Whether answers depend on the Origin header (a list rather than "*"),
  // so caches must key on it: Vary: Origin.
  bool varies_by_origin() const { return !origins_.empty(); }

  // Access-Control-Allow-Headers of a preflight, from its
  // Access-Control-Request-Headers: the requested headers that the gateway
  // reads (Authorization, Content-Type, Grpc-Metadata-*), lower-cased and
  // comma-separated; the others are left out, so the browser refuses them.
  static std::string AllowHeaders(absl::string_view requested);

  // How long a browser may cache a preflight's answer, in seconds.
  static constexpr int kMaxAgeSeconds = 600;

 private:
  bool any_ = false;
  std::vector<std::string> origins_;
};

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_CORS_H_
