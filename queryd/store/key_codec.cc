#include "queryd/store/key_codec.h"

#include <limits>

#include "queryd/store/encoding.h"

namespace weir::store {
namespace {

constexpr uint64_t kNanosPerSecond = 1000000000;

}  // namespace

void AppendRawKey(const RawKey& key, std::string* out) {
  PutU64(out, key.last_seen_unix_nano);
  PutU32(out, key.node_id);
  PutU64(out, key.batch);
  PutU32(out, key.index);
}

std::string EncodeRawKey(const RawKey& key) {
  std::string out;
  out.reserve(kRawKeySize);
  AppendRawKey(key, &out);
  return out;
}

bool DecodeRawKey(absl::string_view in, RawKey* out) {
  if (in.size() != kRawKeySize) return false;
  Reader reader(in);
  return reader.GetU64(&out->last_seen_unix_nano) &&
         reader.GetU32(&out->node_id) && reader.GetU64(&out->batch) &&
         reader.GetU32(&out->index);
}

std::string RawTimeBound(uint64_t unix_nano) {
  std::string out;
  PutU64(&out, unix_nano);
  return out;
}

void AppendRawBlockKey(const RawBlockKey& key, std::string* out) {
  PutU64(out, key.bucket_unix_nano);
  PutU32(out, key.node_id);
  PutU64(out, key.batch);
}

bool DecodeRawBlockKey(absl::string_view in, RawBlockKey* out) {
  Reader reader(in);
  return in.size() == kRawBlockKeySize &&
         reader.GetU64(&out->bucket_unix_nano) &&
         reader.GetU32(&out->node_id) && reader.GetU64(&out->batch) &&
         out->bucket_unix_nano == RawBucketStart(out->bucket_unix_nano);
}

void AppendViewKey(const RollupKey& key, std::string* out) {
  switch (key.view) {
    case View::kSrc:
      PutArray(out, key.src_addr);
      break;
    case View::kDst:
      PutArray(out, key.dst_addr);
      break;
    case View::kPair:
      PutArray(out, key.src_addr);
      PutArray(out, key.dst_addr);
      break;
    case View::kSrcPort:
    case View::kDstPort:
      PutU8(out, key.protocol);
      PutU16(out, key.port);
      break;
    case View::kProtocol:
      PutU8(out, key.protocol);
      break;
    case View::kNode:
      PutU32(out, key.node_id);
      PutU8(out, key.direction);
      out->append(key.ifname);
      break;
    case View::kNodeCounters:
      PutU32(out, key.node_id);
      break;
  }
}

void AppendRollupKey(const RollupKey& key, std::string* out) {
  PutU64(out, key.bucket_start_sec);
  PutU8(out, static_cast<uint8_t>(key.view));
  AppendViewKey(key, out);
}

std::string EncodeRollupKey(const RollupKey& key) {
  std::string out;
  AppendRollupKey(key, &out);
  return out;
}

bool DecodeViewKey(View view, absl::string_view in, RollupKey* out) {
  Reader reader(in);
  out->view = view;
  bool ok = false;
  switch (view) {
    case View::kSrc:
      ok = reader.GetArray(&out->src_addr);
      break;
    case View::kDst:
      ok = reader.GetArray(&out->dst_addr);
      break;
    case View::kPair:
      ok = reader.GetArray(&out->src_addr) && reader.GetArray(&out->dst_addr);
      break;
    case View::kSrcPort:
    case View::kDstPort:
      ok = reader.GetU8(&out->protocol) && reader.GetU16(&out->port);
      break;
    case View::kProtocol:
      ok = reader.GetU8(&out->protocol);
      break;
    case View::kNode: {
      absl::string_view ifname;
      ok = reader.GetU32(&out->node_id) && reader.GetU8(&out->direction) &&
           reader.GetBytes(reader.remaining(), &ifname);
      if (ok) out->ifname.assign(ifname.data(), ifname.size());
      break;
    }
    case View::kNodeCounters:
      ok = reader.GetU32(&out->node_id);
      break;
  }
  return ok && reader.remaining() == 0;
}

bool DecodeRollupKey(absl::string_view in, RollupKey* out) {
  Reader reader(in);
  uint8_t view;
  if (!reader.GetU64(&out->bucket_start_sec) || !reader.GetU8(&view) ||
      !IsKnownView(view)) {
    return false;
  }
  return DecodeViewKey(static_cast<View>(view), reader.rest(), out);
}

size_t ViewKeySize(View view) {
  switch (view) {
    case View::kSrc:
    case View::kDst:
      return 16;
    case View::kPair:
      return 32;
    case View::kSrcPort:
    case View::kDstPort:
      return 3;
    case View::kProtocol:
      return 1;
    case View::kNode:
      return 0;
    case View::kNodeCounters:
      return 4;
  }
  return 0;
}

void AppendBlockKey(const BlockKey& key, std::string* out) {
  PutU64(out, key.bucket_start_sec);
  PutU8(out, static_cast<uint8_t>(key.view));
  PutU16(out, key.shard);
}

bool DecodeBlockKey(absl::string_view in, BlockKey* out) {
  Reader reader(in);
  uint8_t view;
  if (in.size() != kBlockKeySize || !reader.GetU64(&out->bucket_start_sec) ||
      !reader.GetU8(&view) || !IsKnownView(view) ||
      view == static_cast<uint8_t>(View::kNodeCounters) ||
      !reader.GetU16(&out->shard)) {
    return false;
  }
  out->view = static_cast<View>(view);
  return out->shard < ShardCount(out->view);
}

uint16_t ShardOf(View view, absl::string_view view_key) {
  const uint16_t count = ShardCount(view);
  if (count <= 1) return 0;
  uint64_t h = 0xcbf29ce484222325;  // FNV-1a 64
  for (const char c : view_key) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3;
  }
  h ^= h >> 33;  // MurmurHash3 fmix64
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return static_cast<uint16_t>(h % count);
}

void AppendPendingKey(const PendingKey& key, std::string* out) {
  PutU32(out, key.node_id);
  PutU64(out, key.batch);
}

bool DecodePendingKey(absl::string_view in, PendingKey* out) {
  Reader reader(in);
  return in.size() == kPendingKeySize && reader.GetU32(&out->node_id) &&
         reader.GetU64(&out->batch);
}

std::string BucketPrefix(uint64_t bucket_start_sec) {
  std::string out;
  PutU64(&out, bucket_start_sec);
  return out;
}

std::string ViewPrefix(uint64_t bucket_start_sec, View view) {
  std::string out;
  PutU64(&out, bucket_start_sec);
  PutU8(&out, static_cast<uint8_t>(view));
  return out;
}

bool DecodeBucket(absl::string_view key, uint64_t* bucket_start_sec) {
  Reader reader(key);
  return reader.GetU64(bucket_start_sec);
}

uint64_t BucketStartSec(uint64_t unix_nano, Tier tier) {
  const uint64_t sec = unix_nano / kNanosPerSecond;
  const uint64_t width =
      static_cast<uint64_t>(absl::ToInt64Seconds(TierResolution(tier)));
  return sec - sec % width;
}

uint64_t ToUnixNanosClamped(absl::Time t) {
  if (t <= absl::UnixEpoch()) return 0;
  // ToUnixNanos saturates at the int64 limits (including infinite times).
  return static_cast<uint64_t>(absl::ToUnixNanos(t));
}

uint64_t CeilUnixSeconds(absl::Time t) {
  if (t <= absl::UnixEpoch()) return 0;
  const int64_t sec = absl::ToUnixSeconds(t);  // floor, saturating
  if (sec == std::numeric_limits<int64_t>::max()) return sec;
  return absl::FromUnixSeconds(sec) == t ? sec : sec + 1;
}

}  // namespace weir::store
