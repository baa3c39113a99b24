#include "queryd/http/compression.h"

#include <zlib.h>

#include <limits>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace weir::queryd::http {
namespace {

// windowBits 15 + 16: a gzip header and trailer instead of zlib's.
constexpr int kGzipWindowBits = 15 + 16;
constexpr int kMemLevel = 8;

// The q-value of one Accept-Encoding element ("gzip;q=0.5"), 1 when absent,
// nullopt when malformed.
std::optional<double> QValue(absl::string_view params) {
  double q = 1.0;
  for (absl::string_view param : absl::StrSplit(params, ';')) {
    param = absl::StripAsciiWhitespace(param);
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    if (eq == absl::string_view::npos) continue;
    const std::string name =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(param.substr(0, eq)));
    if (name != "q") continue;
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(param.substr(eq + 1)),
                          &q) ||
        q < 0 || q > 1) {
      return std::nullopt;
    }
  }
  return q;
}

}  // namespace

bool AcceptsGzip(absl::string_view accept_encoding) {
  std::optional<double> gzip;
  std::optional<double> any;
  for (absl::string_view element : absl::StrSplit(accept_encoding, ',')) {
    element = absl::StripAsciiWhitespace(element);
    const size_t semi = element.find(';');
    const std::string coding = absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(element.substr(0, semi)));
    const absl::string_view params = semi == absl::string_view::npos
                                         ? absl::string_view()
                                         : element.substr(semi + 1);
    if (coding == "gzip" || coding == "x-gzip") {
      gzip = QValue(params).value_or(0);
    } else if (coding == "*") {
      any = QValue(params).value_or(0);
    }
  }
  if (gzip.has_value()) return *gzip > 0;
  return any.has_value() && *any > 0;
}

absl::StatusOr<std::string> Gzip(absl::string_view data) {
  if (data.size() > std::numeric_limits<uInt>::max()) {
    return absl::InvalidArgumentError("too large to compress in one piece");
  }
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits,
                   kMemLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  // deflateBound() leaves room for everything: one call finishes.
  const int result = deflate(&stream, Z_FINISH);
  const size_t written = stream.total_out;
  deflateEnd(&stream);
  if (result != Z_STREAM_END) {
    return absl::InternalError(absl::StrCat("deflate failed: ", result));
  }
  out.resize(written);
  return out;
}

absl::StatusOr<std::string> Gunzip(absl::string_view data) {
  z_stream stream{};
  if (inflateInit2(&stream, kGzipWindowBits) != Z_OK) {
    return absl::InternalError("inflateInit2 failed");
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  std::vector<char> buffer(64 << 10);
  int result = Z_OK;
  while (result == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
    stream.avail_out = static_cast<uInt>(buffer.size());
    result = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer.data(), buffer.size() - stream.avail_out);
  }
  inflateEnd(&stream);
  if (result != Z_STREAM_END) {
    return absl::InvalidArgumentError(
        absl::StrCat("not one whole gzip member (zlib ", result, ")"));
  }
  return out;
}

}  // namespace weir::queryd::http
