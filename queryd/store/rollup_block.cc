#include "queryd/store/rollup_block.h"

#include <cstring>

#include "queryd/store/encoding.h"
#include "queryd/store/value_codec.h"

namespace weir::store {
namespace {

constexpr size_t kTotalsSize = 5 * 8;
constexpr size_t kCountOffset = 4;

}  // namespace

bool RollupBlock::Parse(absl::string_view value) {
  Reader reader(value);
  uint8_t version, kind, flags, key_size;
  uint32_t count;
  if (!reader.GetU8(&version) || version != kRollupValueVersion ||
      !reader.GetU8(&kind) ||
      kind != static_cast<uint8_t>(RollupKind::kBlock) ||
      !reader.GetU8(&flags) || !reader.GetU8(&key_size) ||
      !reader.GetU32(&count)) {
    return false;
  }
  entries_ = reader.rest();
  count_ = count;
  key_size_ = key_size;
  damaged_ = (flags & kDamagedFlag) != 0;
  offsets_.clear();
  if (key_size_ != 0) {
    stride_ = key_size_ + kTotalsSize;
    return entries_.size() / stride_ == count_ &&
           entries_.size() % stride_ == 0;
  }
  stride_ = 0;
  if (count_ > entries_.size()) return false;
  offsets_.reserve(count_);
  size_t at = 0;
  for (size_t i = 0; i < count_; ++i) {
    if (at >= entries_.size()) return false;
    const size_t size = 1 + static_cast<uint8_t>(entries_[at]) + kTotalsSize;
    if (entries_.size() - at < size) return false;
    offsets_.push_back(static_cast<uint32_t>(at));
    at += size;
  }
  return at == entries_.size();
}

Totals RollupBlock::totals(size_t i) const {
  const char* p = totals_data(i);
  Totals totals;
  totals.bytes = BigEndianWord(p);
  totals.packets = BigEndianWord(p + 8);
  totals.flows = BigEndianWord(p + 16);
  totals.first_seen_unix_nano = BigEndianWord(p + 24);
  totals.last_seen_unix_nano = BigEndianWord(p + 32);
  totals.damaged = damaged_;
  return totals;
}

size_t RollupBlock::Find(absl::string_view key) const {
  size_t low = 0;
  size_t high = count_;
  while (low < high) {
    const size_t middle = low + (high - low) / 2;
    if (KeyLess(this->key(middle), key)) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low < count_ && this->key(low) == key ? low : count_;
}

void BlockBuilder::Reset(size_t key_size) {
  key_size_ = key_size;
  count_ = 0;
  damaged_ = false;
  data_.clear();
  PutU8(&data_, kRollupValueVersion);
  PutU8(&data_, static_cast<uint8_t>(RollupKind::kBlock));
  PutU8(&data_, 0);
  PutU8(&data_, static_cast<uint8_t>(key_size));
  PutU32(&data_, 0);
}

void BlockBuilder::Add(absl::string_view key, const Totals& totals) {
  // One resize, then stores: merges and buffer flushes add millions of
  // entries, and appending field by field was most of their copying.
  const size_t length_byte = key_size_ == 0 ? 1 : 0;
  const size_t at = data_.size();
  data_.resize(at + length_byte + key.size() + kTotalsSize);
  char* out = data_.data() + at;
  if (length_byte != 0) *out++ = static_cast<char>(key.size());
  std::memcpy(out, key.data(), key.size());
  out += key.size();
  for (uint64_t word :
       {totals.bytes, totals.packets, totals.flows, totals.first_seen_unix_nano,
        totals.last_seen_unix_nano}) {
    StoreBigEndianWord(word, out);
    out += 8;
  }
  damaged_ = damaged_ || totals.damaged;
  ++count_;
}

absl::string_view BlockBuilder::value() {
  data_[2] = static_cast<char>(damaged_ ? kDamagedFlag : 0);
  for (int i = 0; i < 4; ++i) {
    data_[kCountOffset + i] = static_cast<char>(count_ >> (8 * (3 - i)));
  }
  return data_;
}

}  // namespace weir::store
