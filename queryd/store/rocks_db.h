// The store's RocksDB database: its options (one place for every column
// family, schema.h Family), open, column family handles, and the
// whole-database operations (memtable flush, compaction, size and memory
// figures). Store components take it by reference; nothing outside
// queryd/store sees it.

#ifndef WEIR_QUERYD_STORE_ROCKS_DB_H_
#define WEIR_QUERYD_STORE_ROCKS_DB_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "queryd/store/schema.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace weir::store {

inline constexpr Family kFamilies[] = {Family::kRaw,  Family::kMinute,
                                       Family::kHour, Family::kNodes,
                                       Family::kMeta, Family::kPending};

class RocksDb {
 public:
  // Opens (creating what is missing) the database in `dir`, every family of
  // kFamilies with its options, and any other family found on disk
  // (RocksDB opens all or nothing) with default options. Writes through
  // Write are synced when `sync_writes`.
  static absl::StatusOr<std::unique_ptr<RocksDb>> Open(const std::string& dir,
                                                       size_t block_cache_bytes,
                                                       bool sync_writes);

  // Descriptors of every family to open: ours first, in Family order, then
  // any other of `on_disk`, with default options. `cache` may be null.
  static std::vector<rocksdb::ColumnFamilyDescriptor> Descriptors(
      const std::vector<std::string>& on_disk,
      const std::shared_ptr<rocksdb::Cache>& cache);

  // The names of the families of the database in `dir`.
  static absl::Status ListFamilies(const std::string& dir,
                                   std::vector<std::string>* names);

  ~RocksDb();
  RocksDb(const RocksDb&) = delete;
  RocksDb& operator=(const RocksDb&) = delete;

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Family family) const {
    return handles_[static_cast<int>(family)];
  }
  // The error that made RocksDB stop writing (ENOSPC, an I/O error in a
  // flush, a compaction or the WAL), as a canonical status
  // (rocksdb_status.h), or OK while it writes. RocksDB tells it through an
  // EventListener; it does not resume by itself (max_bgerror_resume_count
  // is 0): Resume() does.
  absl::Status BackgroundError() const;
  // DB::Resume(): flushes the memtables to new files, starts a new WAL and
  // takes writes again, or fails (and keeps the error) while the cause
  // lasts. OK at once when there is no error.
  absl::Status Resume() const;
  // The table files RocksDB keeps open at most (max_open_files): a quarter
  // of the process's descriptor limit, at least 32, so the rest is left to
  // sockets and to the files RocksDB writes.
  int max_open_files() const { return max_open_files_; }

  // Synced or not as opened; logged.
  const rocksdb::WriteOptions& write_options() const { return write_options_; }

  // A write with write_options(); errors say what it was (`what`).
  absl::Status Write(rocksdb::WriteBatch* batch, absl::string_view what) const;
  // A write that skips the WAL (see the store's lock and durability notes).
  absl::Status WriteUnlogged(rocksdb::WriteBatch* batch,
                             absl::string_view what) const;

  // Writes every family's memtables to SST files, atomically.
  absl::Status FlushMemtables() const;
  // Compacts every family fully (merges are folded into values).
  absl::Status Compact() const;
  // Bytes on disk (SST files) plus memtables, all families.
  uint64_t ApproximateSize() const;
  uint64_t MemtableBytes() const;
  // What the block cache (shared by every family) holds.
  uint64_t BlockCacheBytes() const;

 private:
  class ErrorListener;
  RocksDb(std::unique_ptr<rocksdb::DB> db,
          std::vector<rocksdb::ColumnFamilyHandle*> handles, bool sync_writes,
          std::shared_ptr<ErrorListener> errors, int max_open_files);

  // Not const: left unclosed after a fatal error (~RocksDb).
  std::unique_ptr<rocksdb::DB> db_;
  // Indexed by Family; then any other family found on disk.
  const std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::WriteOptions write_options_;
  const std::shared_ptr<ErrorListener> errors_;
  const int max_open_files_;
};

// An iterator over the keys of one family from `lower` (included) to
// `upper` (excluded). It owns the bounds RocksDB reads them through, so it
// neither moves nor copies.
class RangeIterator {
 public:
  RangeIterator(const RocksDb& db, Family family, std::string lower,
                std::string upper)
      : lower_(std::move(lower)),
        upper_(std::move(upper)),
        lower_bound_(lower_),
        upper_bound_(upper_) {
    rocksdb::ReadOptions read;
    read.iterate_lower_bound = &lower_bound_;
    read.iterate_upper_bound = &upper_bound_;
    it_.reset(db.db()->NewIterator(read, db.cf(family)));
  }
  RangeIterator(const RangeIterator&) = delete;
  RangeIterator& operator=(const RangeIterator&) = delete;

  rocksdb::Iterator* operator->() const { return it_.get(); }

 private:
  const std::string lower_;
  const std::string upper_;
  const rocksdb::Slice lower_bound_;
  const rocksdb::Slice upper_bound_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_ROCKS_DB_H_
