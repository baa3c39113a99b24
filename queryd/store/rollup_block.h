// Rollup blocks: the entries of one flow view in one bucket and shard of m1
// or h1, sorted by view key, in one value (layout in value_codec.h). A
// rollup flush writes one block per bucket, view and shard it touches
// instead of one key per entry, and the merge operator joins blocks as the
// sorted runs they are, so a bucket's view is read as a few large values
// and summed over buckets by merging, never key by key.

#ifndef WEIR_QUERYD_STORE_ROLLUP_BLOCK_H_
#define WEIR_QUERYD_STORE_ROLLUP_BLOCK_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/base/config.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "queryd/store/store_types.h"

namespace weir::store {

// The 8 bytes at p as a big-endian number: comparing two of them compares
// the bytes.
inline uint64_t BigEndianWord(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, sizeof(word));
#if ABSL_IS_LITTLE_ENDIAN
  word = __builtin_bswap64(word);
#endif
  return word;
}

// Stores `word` big-endian at p (8 bytes): BigEndianWord's inverse.
inline void StoreBigEndianWord(uint64_t word, char* p) {
#if ABSL_IS_LITTLE_ENDIAN
  word = __builtin_bswap64(word);
#endif
  std::memcpy(p, &word, sizeof(word));
}

// a < b in byte order, as string_view's operator< but eight bytes at a
// time: view keys are 1 to 32 bytes, where the call to memcmp costs more
// than the comparison itself.
inline bool KeyLess(absl::string_view a, absl::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t x = BigEndianWord(a.data() + i);
    const uint64_t y = BigEndianWord(b.data() + i);
    if (x != y) return x < y;
  }
  for (; i < n; ++i) {
    if (a[i] != b[i]) {
      return static_cast<uint8_t>(a[i]) < static_cast<uint8_t>(b[i]);
    }
  }
  return a.size() < b.size();
}

// A block value, read in place (it must outlive the RollupBlock).
class RollupBlock {
 public:
  // False unless `value` is a whole block of a known version: header,
  // and entries that fill it exactly. Key order is not checked (blocks are
  // written sorted; RocksDB checksums what it stores).
  bool Parse(absl::string_view value);

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  bool damaged() const { return damaged_; }
  // Size of every key, or 0 when each carries its own length.
  size_t key_size() const { return key_size_; }

  absl::string_view key(size_t i) const {
    if (key_size_ != 0) {
      return absl::string_view(entries_.data() + i * stride_, key_size_);
    }
    const char* p = entries_.data() + offsets_[i];
    return absl::string_view(p + 1, static_cast<uint8_t>(*p));
  }
  // The entry's totals; damaged when the block is.
  Totals totals(size_t i) const;

  // Index of the entry with `key`, or size() when there is none (binary
  // search: blocks are sorted).
  size_t Find(absl::string_view key) const;

 private:
  const char* totals_data(size_t i) const {
    if (key_size_ != 0) return entries_.data() + i * stride_ + key_size_;
    const char* p = entries_.data() + offsets_[i];
    return p + 1 + static_cast<uint8_t>(*p);
  }

  absl::string_view entries_;
  size_t count_ = 0;
  size_t key_size_ = 0;
  size_t stride_ = 0;
  bool damaged_ = false;
  // Start of each entry, for blocks of variable-size keys only.
  std::vector<uint32_t> offsets_;
};

// Writes a block. Keys must be added in strictly increasing byte order.
class BlockBuilder {
 public:
  // key_size: of every key, or 0 for keys of their own length (at most 255
  // bytes).
  explicit BlockBuilder(size_t key_size = 0) { Reset(key_size); }

  // Empties the builder (keeping its memory) for keys of `key_size`.
  void Reset(size_t key_size);
  void Add(absl::string_view key, const Totals& totals);
  void MarkDamaged() { damaged_ = true; }

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The block so far: valid until the next Add or Reset.
  absl::string_view value();

 private:
  std::string data_;
  size_t key_size_ = 0;
  size_t count_ = 0;
  bool damaged_ = false;
};

// Merges sorted blocks into one sorted run: emit(key, totals) once per
// distinct key, in key order, with the totals of every block holding it
// summed (damaged if any of those blocks is), until emit returns false.
// Keys passed to emit point into the blocks.
template <typename Emit>
void MergeBlocks(absl::Span<const RollupBlock* const> blocks, Emit&& emit) {
  struct Cursor {
    const RollupBlock* block;
    size_t index;
    absl::string_view key;
  };
  std::vector<Cursor> heap;
  heap.reserve(blocks.size());
  for (const RollupBlock* block : blocks) {
    if (!block->empty()) heap.push_back({block, 0, block->key(0)});
  }
  if (heap.size() == 1) {
    const RollupBlock& only = *heap[0].block;
    for (size_t i = 0; i < only.size(); ++i) {
      if (!emit(only.key(i), only.totals(i))) return;
    }
    return;
  }
  // A min-heap on the cursors' keys.
  const auto greater = [](const Cursor& a, const Cursor& b) {
    return KeyLess(b.key, a.key);
  };
  std::make_heap(heap.begin(), heap.end(), greater);
  // Moves the top cursor to its block's next key, or drops it.
  const auto advance = [&] {
    std::pop_heap(heap.begin(), heap.end(), greater);
    Cursor& moved = heap.back();
    if (++moved.index == moved.block->size()) {
      heap.pop_back();
      return;
    }
    moved.key = moved.block->key(moved.index);
    std::push_heap(heap.begin(), heap.end(), greater);
  };
  while (!heap.empty()) {
    const absl::string_view key = heap.front().key;
    Totals sum = heap.front().block->totals(heap.front().index);
    advance();
    // No key left is below `key`, so one not above it is equal.
    while (!heap.empty() && !KeyLess(key, heap.front().key)) {
      sum += heap.front().block->totals(heap.front().index);
      advance();
    }
    if (!emit(key, sum)) return;
  }
}

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_ROLLUP_BLOCK_H_
