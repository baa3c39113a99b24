#include "queryd/store/key_codec.h"

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace weir::store {
namespace {

Address V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  Address out;
  const char bytes[4] = {static_cast<char>(a), static_cast<char>(b),
                         static_cast<char>(c), static_cast<char>(d)};
  AddressFromBytes(absl::string_view(bytes, 4), &out);
  return out;
}

TEST(KeyCodecTest, SchemaNamesArePinned) {
  EXPECT_EQ(FamilyName(Family::kRaw), "raw");
  EXPECT_EQ(FamilyName(Family::kMinute), "m1");
  EXPECT_EQ(FamilyName(Family::kHour), "h1");
  EXPECT_EQ(FamilyName(Family::kNodes), "nodes");
  EXPECT_EQ(FamilyName(Family::kMeta), "meta");
  EXPECT_EQ(FamilyName(Family::kPending), "pending");
  EXPECT_EQ(static_cast<int>(View::kSrc), 1);
  EXPECT_EQ(static_cast<int>(View::kNode), 7);
  EXPECT_EQ(static_cast<int>(View::kNodeCounters), 8);
  EXPECT_EQ(ViewName(View::kDstPort), "dst_port");
  EXPECT_EQ(TierName(Tier::kHour), "1h");
}

TEST(KeyCodecTest, EncodesRawKeyBigEndian) {
  const std::string key = EncodeRawKey(
      {0x0102030405060708, 0x0a0b0c0d, 0x1112131415161718, 0x21222324});
  EXPECT_EQ(absl::BytesToHexString(key),
            "0102030405060708"
            "0a0b0c0d"
            "1112131415161718"
            "21222324");
  EXPECT_EQ(key.size(), kRawKeySize);
}

TEST(KeyCodecTest, RawKeyRoundTrips) {
  const RawKey in = {1700000000123456789, 42, 7, 999};
  RawKey out;
  ASSERT_TRUE(DecodeRawKey(EncodeRawKey(in), &out));
  EXPECT_EQ(out.last_seen_unix_nano, in.last_seen_unix_nano);
  EXPECT_EQ(out.node_id, in.node_id);
  EXPECT_EQ(out.batch, in.batch);
  EXPECT_EQ(out.index, in.index);
}

TEST(KeyCodecTest, RawKeyOrderIsTimeOrder) {
  std::mt19937_64 random(7);
  std::vector<RawKey> keys;
  keys.reserve(2000);
  for (int i = 0; i < 2000; ++i) {
    // Narrow ranges so that ties on the leading fields are common.
    keys.push_back({1700000000000000000 + random() % 5000,
                    static_cast<uint32_t>(1 + random() % 3), random() % 4,
                    static_cast<uint32_t>(random() % 300)});
  }
  std::vector<std::string> encoded;
  encoded.reserve(keys.size());
  for (const RawKey& key : keys) encoded.push_back(EncodeRawKey(key));
  auto tuple = [](const RawKey& k) {
    return std::make_tuple(k.last_seen_unix_nano, k.node_id, k.batch, k.index);
  };
  std::sort(keys.begin(), keys.end(), [&](const RawKey& a, const RawKey& b) {
    return tuple(a) < tuple(b);
  });
  std::sort(encoded.begin(), encoded.end());
  ASSERT_EQ(keys.size(), encoded.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    RawKey decoded;
    ASSERT_TRUE(DecodeRawKey(encoded[i], &decoded));
    EXPECT_EQ(tuple(decoded), tuple(keys[i])) << "at " << i;
  }
}

TEST(KeyCodecTest, RawTimeBoundBracketsKeysOfThatTime) {
  const uint64_t t = 1700000000000000000;
  const std::string key = EncodeRawKey({t, 0xffffffff, ~0ull, 0xffffffff});
  const std::string first = EncodeRawKey({t, 0, 0, 0});
  EXPECT_LE(RawTimeBound(t), first);
  EXPECT_LT(key, RawTimeBound(t + 1));
  EXPECT_LT(EncodeRawKey({t - 1, 0xffffffff, ~0ull, 0xffffffff}),
            RawTimeBound(t));
}

TEST(KeyCodecTest, DecodeRawKeyRejectsOtherSizes) {
  RawKey key;
  std::string encoded = EncodeRawKey({1, 2, 3, 4});
  EXPECT_FALSE(DecodeRawKey(encoded.substr(0, 23), &key));
  EXPECT_FALSE(DecodeRawKey(encoded + "x", &key));
  EXPECT_FALSE(DecodeRawKey("", &key));
}

TEST(KeyCodecTest, PinsRollupKeyLayout) {
  RollupKey key;
  key.bucket_start_sec = 1700000040;
  key.view = View::kSrc;
  key.src_addr = V4(192, 0, 2, 7);
  EXPECT_EQ(absl::BytesToHexString(EncodeRollupKey(key)),
            "000000006553f128"
            "01"
            "00000000000000000000ffffc0000207");
  key.view = View::kDstPort;
  key.protocol = 6;
  key.port = 443;
  EXPECT_EQ(absl::BytesToHexString(EncodeRollupKey(key)),
            "000000006553f128"
            "05"
            "0601bb");
  key.view = View::kNode;
  key.node_id = 3;
  key.direction = 2;
  key.ifname = "eth0";
  EXPECT_EQ(absl::BytesToHexString(EncodeRollupKey(key)),
            "000000006553f128"
            "07"
            "00000003"
            "02"
            "65746830");
}

TEST(KeyCodecTest, PinsRawBlockKeyLayout) {
  const uint64_t last_seen = 1700000000123456789;
  const uint64_t bucket = RawBucketStart(last_seen);
  EXPECT_EQ(bucket % kRawBucketNanos, 0u);
  EXPECT_LE(bucket, last_seen);
  EXPECT_GT(bucket + kRawBucketNanos, last_seen);
  std::string key;
  AppendRawBlockKey({bucket, 3, 258}, &key);
  EXPECT_EQ(absl::BytesToHexString(key),
            absl::StrCat(absl::BytesToHexString(RawTimeBound(bucket)),
                         "00000003"
                         "0000000000000102"));
  RawBlockKey decoded;
  ASSERT_TRUE(DecodeRawBlockKey(key, &decoded));
  EXPECT_EQ(decoded.bucket_unix_nano, bucket);
  EXPECT_EQ(decoded.node_id, 3u);
  EXPECT_EQ(decoded.batch, 258u);
  EXPECT_FALSE(DecodeRawBlockKey(key + "x", &decoded));
  // Not a bucket start; a flow's 24-byte key.
  key.clear();
  AppendRawBlockKey({bucket + 1, 3, 258}, &key);
  EXPECT_FALSE(DecodeRawBlockKey(key, &decoded));
  EXPECT_FALSE(DecodeRawBlockKey(EncodeRawKey({bucket, 3, 258, 0}), &decoded));
  // Blocks sort with the flows' time bounds: every flow of a bucket is at
  // or after its start.
  EXPECT_LE(RawTimeBound(bucket), key);
}

TEST(KeyCodecTest, PinsBlockKeyLayoutAndShards) {
  std::string key;
  AppendBlockKey({1700000040, View::kPair, 186}, &key);
  EXPECT_EQ(absl::BytesToHexString(key),
            "000000006553f128"
            "03"
            "00ba");
  BlockKey decoded;
  ASSERT_TRUE(DecodeBlockKey(key, &decoded));
  EXPECT_EQ(decoded.bucket_start_sec, 1700000040u);
  EXPECT_EQ(decoded.view, View::kPair);
  EXPECT_EQ(decoded.shard, 186);
  EXPECT_FALSE(DecodeBlockKey(key.substr(0, 10), &decoded));
  EXPECT_FALSE(DecodeBlockKey(key + "x", &decoded));
  // A shard beyond its view's count, node counters, an unknown view.
  key.clear();
  AppendBlockKey({1700000040, View::kSrc, 64}, &key);
  EXPECT_FALSE(DecodeBlockKey(key, &decoded));
  key[8] = static_cast<char>(View::kNodeCounters);
  key[10] = 0;
  EXPECT_FALSE(DecodeBlockKey(key, &decoded));
  key[8] = 0x7f;
  EXPECT_FALSE(DecodeBlockKey(key, &decoded));

  // Shards are on disk: the hash must never change.
  RollupKey rollup;
  rollup.src_addr = V4(192, 0, 2, 7);
  rollup.dst_addr = V4(198, 51, 100, 1);
  rollup.protocol = 6;
  rollup.port = 443;
  const auto shard = [&](View view) {
    rollup.view = view;
    std::string view_key;
    AppendViewKey(rollup, &view_key);
    EXPECT_EQ(view_key.size(), ViewKeySize(view));
    return ShardOf(view, view_key);
  };
  EXPECT_EQ(shard(View::kSrc), 42);
  EXPECT_EQ(shard(View::kDst), 62);
  EXPECT_EQ(shard(View::kPair), 186);
  EXPECT_EQ(shard(View::kDstPort), 14);
  EXPECT_EQ(shard(View::kProtocol), 0);
  EXPECT_EQ(ShardCount(View::kNode), 1);

  // Neighbouring addresses spread evenly.
  std::vector<int> per_shard(ShardCount(View::kSrc));
  for (int i = 0; i < 64 * 200; ++i) {
    rollup.src_addr = V4(10, static_cast<uint8_t>(i >> 16),
                         static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
    ++per_shard[shard(View::kSrc)];
  }
  for (int count : per_shard) {
    EXPECT_GT(count, 140);
    EXPECT_LT(count, 260);
  }
}

TEST(KeyCodecTest, RollupKeyRoundTripsEveryView) {
  for (View view :
       {View::kSrc, View::kDst, View::kPair, View::kSrcPort, View::kDstPort,
        View::kProtocol, View::kNode, View::kNodeCounters}) {
    RollupKey in;
    in.bucket_start_sec = 1700000000 - 1700000000 % 3600;
    in.view = view;
    in.src_addr = V4(192, 0, 2, 1);
    in.dst_addr = V4(198, 51, 100, 2);
    in.protocol = 17;
    in.port = 53;
    in.node_id = 9;
    in.direction = 1;
    in.ifname = "veth1a2b";
    RollupKey out;
    ASSERT_TRUE(DecodeRollupKey(EncodeRollupKey(in), &out)) << ViewName(view);
    EXPECT_EQ(out.bucket_start_sec, in.bucket_start_sec);
    EXPECT_EQ(out.view, view);
    switch (view) {
      case View::kSrc:
        EXPECT_EQ(out.src_addr, in.src_addr);
        break;
      case View::kDst:
        EXPECT_EQ(out.dst_addr, in.dst_addr);
        break;
      case View::kPair:
        EXPECT_EQ(out.src_addr, in.src_addr);
        EXPECT_EQ(out.dst_addr, in.dst_addr);
        break;
      case View::kSrcPort:
      case View::kDstPort:
        EXPECT_EQ(out.protocol, 17);
        EXPECT_EQ(out.port, 53);
        break;
      case View::kProtocol:
        EXPECT_EQ(out.protocol, 17);
        break;
      case View::kNode:
        EXPECT_EQ(out.node_id, 9u);
        EXPECT_EQ(out.direction, 1);
        EXPECT_EQ(out.ifname, "veth1a2b");
        break;
      case View::kNodeCounters:
        EXPECT_EQ(out.node_id, 9u);
        break;
    }
  }
}

TEST(KeyCodecTest, NodeViewKeyAllowsEmptyInterfaceName) {
  RollupKey in;
  in.view = View::kNode;
  in.node_id = 1;
  RollupKey out;
  out.ifname = "stale";
  ASSERT_TRUE(DecodeRollupKey(EncodeRollupKey(in), &out));
  EXPECT_EQ(out.ifname, "");
}

TEST(KeyCodecTest, RollupKeyOrderIsBucketThenView) {
  std::vector<RollupKey> keys;
  keys.reserve(500);
  std::mt19937_64 random(3);
  for (int i = 0; i < 500; ++i) {
    RollupKey key;
    key.bucket_start_sec = 1700000000 + 60 * (random() % 50);
    key.view = static_cast<View>(1 + random() % 8);
    key.src_addr = V4(10, 0, 0, random() % 256);
    key.dst_addr = V4(10, 1, 0, random() % 256);
    key.protocol = random() % 3;
    key.port = random() % 65536;
    key.node_id = random() % 4;
    key.ifname = std::string(random() % 5, 'e');
    keys.push_back(key);
  }
  std::vector<std::string> encoded;
  encoded.reserve(keys.size());
  for (const RollupKey& key : keys) encoded.push_back(EncodeRollupKey(key));
  std::sort(encoded.begin(), encoded.end());
  RollupKey previous;
  for (size_t i = 0; i < encoded.size(); ++i) {
    RollupKey key;
    ASSERT_TRUE(DecodeRollupKey(encoded[i], &key));
    if (i > 0) {
      EXPECT_LE(previous.bucket_start_sec, key.bucket_start_sec);
      if (previous.bucket_start_sec == key.bucket_start_sec) {
        EXPECT_LE(previous.view, key.view);
      }
    }
    previous = key;
  }
  // Every key of a bucket sorts inside [BucketPrefix(b), BucketPrefix(b+1)).
  for (const std::string& key : encoded) {
    uint64_t bucket;
    ASSERT_TRUE(DecodeBucket(key, &bucket));
    EXPECT_LE(BucketPrefix(bucket), key);
    EXPECT_LT(key, BucketPrefix(bucket + 1));
  }
}

TEST(KeyCodecTest, DecodeRollupKeyRejectsMalformedKeys) {
  RollupKey key;
  key.view = View::kPair;
  const std::string pair = EncodeRollupKey(key);
  RollupKey out;
  EXPECT_FALSE(DecodeRollupKey(pair.substr(0, pair.size() - 1), &out));
  EXPECT_FALSE(DecodeRollupKey(pair + "x", &out));
  EXPECT_FALSE(DecodeRollupKey("short", &out));
  std::string unknown_view = pair;
  unknown_view[8] = 0;
  EXPECT_FALSE(DecodeRollupKey(unknown_view, &out));
  unknown_view[8] = 9;
  EXPECT_FALSE(DecodeRollupKey(unknown_view, &out));
}

TEST(KeyCodecTest, PendingKeyIsNodeThenBatch) {
  std::string key;
  AppendPendingKey({0x0a0b0c0d, 0x1112131415161718}, &key);
  EXPECT_EQ(absl::BytesToHexString(key), "0a0b0c0d1112131415161718");
  PendingKey out;
  ASSERT_TRUE(DecodePendingKey(key, &out));
  EXPECT_EQ(out.node_id, 0x0a0b0c0du);
  EXPECT_EQ(out.batch, 0x1112131415161718u);
  EXPECT_FALSE(DecodePendingKey(key.substr(1), &out));
  EXPECT_FALSE(DecodePendingKey(key + "x", &out));
}

TEST(KeyCodecTest, BucketStartFloorsToTheTier) {
  const uint64_t t = 1700000123ull * 1000000000 + 999;
  EXPECT_EQ(BucketStartSec(t, Tier::kRaw), 1700000123u);
  EXPECT_EQ(BucketStartSec(t, Tier::kMinute), 1700000100u);
  EXPECT_EQ(BucketStartSec(t, Tier::kHour), 1699999200u);
}

TEST(KeyCodecTest, TimeConversionsClamp) {
  EXPECT_EQ(ToUnixNanosClamped(absl::UnixEpoch() - absl::Seconds(1)), 0u);
  EXPECT_EQ(ToUnixNanosClamped(absl::FromUnixNanos(12345)), 12345u);
  EXPECT_EQ(ToUnixNanosClamped(absl::InfiniteFuture()),
            static_cast<uint64_t>(INT64_MAX));
  EXPECT_EQ(CeilUnixSeconds(absl::FromUnixSeconds(10)), 10u);
  EXPECT_EQ(CeilUnixSeconds(absl::FromUnixMillis(10001)), 11u);
  EXPECT_EQ(CeilUnixSeconds(absl::InfinitePast()), 0u);
}

}  // namespace
}  // namespace weir::store
