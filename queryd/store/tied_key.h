// Equality, order and hash for small key structs, from one member:
//
//   struct PortKey {
//     uint64_t bucket_sec;
//     uint8_t protocol;
//     uint16_t port;
//     auto Tie() const { return std::tie(bucket_sec, protocol, port); }
//   };
//
// A struct of this namespace that declares Tie() gets ==, !=, < and
// AbslHashValue (so absl::Hash and absl::flat_hash_map take it), all going
// through the tuple Tie() returns: fields compare in its order. The structs
// stay aggregates ({bucket, protocol, port} builds one).

#ifndef WEIR_QUERYD_STORE_TIED_KEY_H_
#define WEIR_QUERYD_STORE_TIED_KEY_H_

#include <type_traits>
#include <utility>

namespace weir::store {

// The tuple type of Key::Tie(); only keys that have one get the operators.
template <typename Key>
using TieOf = decltype(std::declval<const Key&>().Tie());

template <typename Key, typename = TieOf<Key>>
bool operator==(const Key& a, const Key& b) {
  return a.Tie() == b.Tie();
}

template <typename Key, typename = TieOf<Key>>
bool operator!=(const Key& a, const Key& b) {
  return !(a.Tie() == b.Tie());
}

template <typename Key, typename = TieOf<Key>>
bool operator<(const Key& a, const Key& b) {
  return a.Tie() < b.Tie();
}

template <typename H, typename Key, typename = TieOf<Key>>
H AbslHashValue(H h, const Key& key) {
  return H::combine(std::move(h), key.Tie());
}

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_TIED_KEY_H_
