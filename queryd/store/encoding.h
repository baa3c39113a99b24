// Fixed-width big-endian integers: the byte order of every key and value the
// store writes, so that byte order is numeric order in keys.

#ifndef WEIR_QUERYD_STORE_ENCODING_H_
#define WEIR_QUERYD_STORE_ENCODING_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace weir::store {

inline void PutU8(std::string* out, uint8_t v) {
  out->push_back(static_cast<char>(v));
}

inline void PutU16(std::string* out, uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 2);
}

inline void PutU32(std::string* out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}

inline void PutU64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v);
    v >>= 8;
  }
  out->append(b, 8);
}

// A fixed-size byte array (an address), as it is.
template <size_t N>
inline void PutArray(std::string* out, const std::array<uint8_t, N>& v) {
  out->append(reinterpret_cast<const char*>(v.data()), N);
}

// Reads from the front of a view and advances it. Every Get* returns false,
// leaving the view and *v unspecified, when too few bytes remain.
class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}

  bool GetU8(uint8_t* v) {
    if (in_.size() < 1) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool GetU16(uint16_t* v) {
    uint64_t x;
    if (!GetBE(2, &x)) return false;
    *v = static_cast<uint16_t>(x);
    return true;
  }
  bool GetU32(uint32_t* v) {
    uint64_t x;
    if (!GetBE(4, &x)) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  bool GetU64(uint64_t* v) { return GetBE(8, v); }
  bool GetBytes(size_t n, absl::string_view* v) {
    if (in_.size() < n) return false;
    *v = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }

  template <size_t N>
  bool GetArray(std::array<uint8_t, N>* v) {
    absl::string_view bytes;
    if (!GetBytes(N, &bytes)) return false;
    std::memcpy(v->data(), bytes.data(), N);
    return true;
  }

  size_t remaining() const { return in_.size(); }
  absl::string_view rest() const { return in_; }

 private:
  bool GetBE(size_t n, uint64_t* v) {
    if (in_.size() < n) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i) x = (x << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(n);
    *v = x;
    return true;
  }

  absl::string_view in_;
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_ENCODING_H_
