#include "queryd/store/format_upgrade.h"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "queryd/store/encoding.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/rocksdb_status.h"
#include "queryd/store/rollup_block.h"
#include "queryd/store/rollup_buffer.h"
#include "queryd/store/value_codec.h"

namespace weir::store {
namespace {

std::string DataDirIsNotAStore(const std::string& dir, absl::string_view why) {
  return absl::StrCat("data directory ", dir, " is not a weir-queryd store (",
                      why, ")");
}

// Version 1 or 2: flow view entries (one key each) into blocks (format
// version 3), in chunks that each write blocks and delete the entries they
// hold in one write.
absl::Status ConvertRollups(RocksDb& db) {
  // Entries per write: bounds the memory of a conversion.
  constexpr int kChunk = 1 << 16;
  for (Tier tier : kRollupTiers) {
    rocksdb::ColumnFamilyHandle* family = db.cf(TierFamily(tier));
    std::vector<BlockBuilder> shards;
    BlockKey current;
    bool open = false;
    rocksdb::WriteBatch write;
    int entries = 0;
    std::string block_key;
    // The blocks of the (bucket, view) read so far, into `write`.
    const auto write_blocks = [&] {
      for (size_t i = 0; i < shards.size(); ++i) {
        if (shards[i].empty()) continue;
        block_key.clear();
        current.shard = static_cast<uint16_t>(i);
        AppendBlockKey(current, &block_key);
        const absl::string_view block = shards[i].value();
        write.Merge(family, block_key,
                    rocksdb::Slice(block.data(), block.size()));
        shards[i].Reset(ViewKeySize(current.view));
      }
    };
    const auto commit = [&] {
      write_blocks();
      absl::Status s = db.Write(
          &write,
          absl::StrCat("converting ", TierName(tier), " rollups to blocks"));
      write.Clear();
      entries = 0;
      return s;
    };
    std::unique_ptr<rocksdb::Iterator> it(
        db.db()->NewIterator(rocksdb::ReadOptions(), family));
    RollupKey key;
    Totals totals;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const absl::string_view k(it->key().data(), it->key().size());
      if (k.size() == kBlockKeySize ||
          (k.size() > kBucketPrefixSize &&
           static_cast<uint8_t>(k[kBucketPrefixSize]) ==
               static_cast<uint8_t>(View::kNodeCounters))) {
        continue;  // already a block, or node counters (unchanged)
      }
      if (!DecodeRollupKey(k, &key) ||
          !DecodeTotalsValue(
              absl::string_view(it->value().data(), it->value().size()),
              &totals)) {
        return absl::DataLossError(absl::StrCat("undecodable ", TierName(tier),
                                                " rollup entry, key ",
                                                it->key().ToString(true)));
      }
      if (!open || key.bucket_start_sec != current.bucket_start_sec ||
          key.view != current.view) {
        write_blocks();
        if (entries >= kChunk) {
          WEIR_RETURN_IF_ERROR(commit());
        }
        current = {key.bucket_start_sec, key.view, 0};
        shards.resize(ShardCount(key.view));
        for (BlockBuilder& shard : shards) shard.Reset(ViewKeySize(key.view));
        open = true;
      }
      // Entries come in view key order, so each shard's do too.
      const absl::string_view view_key = k.substr(kViewPrefixSize);
      shards[ShardOf(key.view, view_key)].Add(view_key, totals);
      write.Delete(family, it->key());
      ++entries;
    }
    WEIR_RETURN_IF_ERROR(FromRocksDb(
        it->status(),
        absl::StrCat("reading ", TierName(tier), " rollups to convert")));
    if (open) {
      WEIR_RETURN_IF_ERROR(commit());
    }
  }
  return absl::OkStatus();
}

// Version 1 to 3: raw flows (one key each) into blocks (format version 4),
// a raw bucket at a time, each write holding whole buckets' blocks and the
// deletion of their flows.
absl::Status ConvertRaw(RocksDb& db) {
  // Flows per write: bounds the memory of a conversion.
  constexpr size_t kChunk = 1 << 16;
  rocksdb::ColumnFamilyHandle* family = db.cf(Family::kRaw);
  rocksdb::WriteBatch write;
  size_t flows = 0;
  // The current bucket's blocks by (node id, batch): old keys come in
  // (last_seen, node, batch, index) order, so each block's flows come in
  // (last_seen, index) order.
  std::map<std::pair<uint32_t, uint64_t>, RawBlockBuilder> blocks;
  uint64_t bucket = 0;
  std::string key;
  const auto write_blocks = [&] {
    for (auto& [id, block] : blocks) {
      key.clear();
      AppendRawBlockKey({bucket, id.first, id.second}, &key);
      const absl::string_view value = block.value();
      write.Put(family, key, rocksdb::Slice(value.data(), value.size()));
    }
    blocks.clear();
  };
  const auto commit = [&] {
    absl::Status s = db.Write(&write, "converting raw flows to blocks");
    write.Clear();
    flows = 0;
    return s;
  };
  std::unique_ptr<rocksdb::Iterator> it(
      db.db()->NewIterator(rocksdb::ReadOptions(), family));
  RawKey flow_key;
  FlowRecord flow;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const absl::string_view k(it->key().data(), it->key().size());
    if (k.size() == kRawBlockKeySize) continue;  // already a block
    if (!DecodeRawKey(k, &flow_key) ||
        !DecodeRawValue(
            absl::string_view(it->value().data(), it->value().size()), &flow)) {
      return absl::DataLossError(absl::StrCat(
          "undecodable raw flow record, key ", it->key().ToString(true)));
    }
    const uint64_t flow_bucket = RawBucketStart(flow_key.last_seen_unix_nano);
    if (!blocks.empty() && flow_bucket != bucket) {
      write_blocks();
      if (flows >= kChunk) {
        WEIR_RETURN_IF_ERROR(commit());
      }
    }
    bucket = flow_bucket;
    blocks[{flow_key.node_id, flow_key.batch}].Add(flow_key.last_seen_unix_nano,
                                                   flow_key.index, flow);
    write.Delete(family, it->key());
    ++flows;
  }
  WEIR_RETURN_IF_ERROR(
      FromRocksDb(it->status(), "reading raw flows to convert"));
  write_blocks();
  return commit();
}

}  // namespace

absl::StatusOr<uint32_t> ReadFormatVersion(const std::string& dir) {
  std::vector<std::string> names;
  WEIR_RETURN_IF_ERROR(RocksDb::ListFamilies(dir, &names));
  const std::string meta{FamilyName(Family::kMeta)};
  const std::string nodes{FamilyName(Family::kNodes)};
  if (std::find(names.begin(), names.end(), meta) == names.end()) {
    return absl::FailedPreconditionError(
        DataDirIsNotAStore(dir, "no meta column family"));
  }
  // Only families present (a read-only open creates none), with their real
  // options so the WAL replays as it would in a read-write open.
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (rocksdb::ColumnFamilyDescriptor& d :
       RocksDb::Descriptors(names, nullptr)) {
    if (std::find(names.begin(), names.end(), d.name) != names.end()) {
      descriptors.push_back(std::move(d));
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  WEIR_RETURN_IF_ERROR(
      FromRocksDb(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir,
                                               descriptors, &handles, &raw_db),
                  absl::StrCat("opening ", dir, " read-only")));
  std::unique_ptr<rocksdb::DB> db(raw_db);
  rocksdb::ColumnFamilyHandle* meta_cf = nullptr;
  rocksdb::ColumnFamilyHandle* nodes_cf = nullptr;
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    if (handle->GetName() == meta) meta_cf = handle;
    if (handle->GetName() == nodes) nodes_cf = handle;
  }

  absl::StatusOr<uint32_t> result = 0;
  std::string value;
  rocksdb::Status get = db->Get(rocksdb::ReadOptions(), meta_cf,
                                std::string{kFormatVersionKey}, &value);
  if (get.IsNotFound()) {
    // A store whose first open stopped before it wrote its version has no
    // nodes: every stored batch writes one. Anything else is not ours.
    bool empty = true;
    if (nodes_cf != nullptr) {
      std::unique_ptr<rocksdb::Iterator> it(
          db->NewIterator(rocksdb::ReadOptions(), nodes_cf));
      it->SeekToFirst();
      empty = !it->Valid() && it->status().ok();
    }
    if (!empty) {
      result = absl::FailedPreconditionError(
          DataDirIsNotAStore(dir, "no format version record"));
    }
  } else if (!get.ok()) {
    result =
        FromRocksDb(get, absl::StrCat("reading the format version of ", dir));
  } else {
    Reader reader(value);
    uint32_t version = 0;
    if (value.size() != 4 || !reader.GetU32(&version) || version == 0) {
      result = absl::DataLossError(absl::StrCat(
          "data directory ", dir, " has a corrupt format version record"));
    } else if (version > kFormatVersion) {
      result = absl::FailedPreconditionError(absl::StrCat(
          "data directory ", dir, " was written by format version ", version,
          "; this weir-queryd reads up to ", kFormatVersion));
    } else {
      result = version;
    }
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    db->DestroyColumnFamilyHandle(handle);
  }
  return result;
}

absl::Status UpgradeFormat(
    RocksDb& db, const std::string& dir, uint32_t stored_version,
    const std::function<void(absl::string_view line)>& progress) {
  if (stored_version >= 4) return absl::OkStatus();
  const auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  const absl::Time started = absl::Now();
  say(absl::StrCat("converting data directory ", dir, " from format version ",
                   stored_version, " to ", kFormatVersion,
                   " (rollups and raw flows as blocks); this reads the "
                   "whole store once"));
  if (stored_version < 3) {
    WEIR_RETURN_IF_ERROR(ConvertRollups(db));
  }
  WEIR_RETURN_IF_ERROR(ConvertRaw(db));
  say(absl::StrCat("converted data directory ", dir, " to format version ",
                   kFormatVersion, " in ",
                   absl::FormatDuration(absl::Trunc(absl::Now() - started,
                                                    absl::Milliseconds(1)))));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ReadHourTierEnd(RocksDb& db, const std::string& dir,
                                         bool versioned,
                                         uint32_t stored_version) {
  uint64_t hour_end_sec = 0;
  std::string stored_end;
  const rocksdb::Status get =
      db.db()->Get(rocksdb::ReadOptions(), db.cf(Family::kMeta),
                   std::string{kHourTierEndKey}, &stored_end);
  if (get.ok()) {
    Reader reader(stored_end);
    if (stored_end.size() != 8 || !reader.GetU64(&hour_end_sec) ||
        hour_end_sec % 3600 != 0) {
      return absl::DataLossError(absl::StrCat(
          "data directory ", dir, " has a corrupt hour tier end record"));
    }
  } else if (!get.IsNotFound()) {
    return FromRocksDb(get, absl::StrCat("reading the hour tier end of ", dir));
  } else if (versioned && stored_version >= 5) {
    return absl::DataLossError(
        absl::StrCat("data directory ", dir, " has no hour tier end record"));
  } else if (versioned) {
    hour_end_sec =
        BucketStartSec(ToUnixNanosClamped(absl::Now()), Tier::kHour) + 3600;
  }
  return hour_end_sec;
}

absl::Status WriteFormatRecords(RocksDb& db, const std::string& dir,
                                uint64_t hour_end_sec) {
  std::string version;
  PutU32(&version, kFormatVersion);
  std::string end;
  PutU64(&end, hour_end_sec);
  rocksdb::WriteBatch records;
  records.Put(db.cf(Family::kMeta), std::string{kFormatVersionKey}, version);
  records.Put(db.cf(Family::kMeta), std::string{kHourTierEndKey}, end);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  return FromRocksDb(db.db()->Write(sync, &records),
                     absl::StrCat("writing the format version to ", dir));
}

}  // namespace weir::store
