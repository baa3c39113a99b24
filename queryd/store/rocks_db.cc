#include "queryd/store/rocks_db.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/descriptors.h"
#include "common/status_macros.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/rocksdb_status.h"
#include "queryd/store/rollup_merge_operator.h"
#include "rocksdb/listener.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"

namespace weir::store {
namespace {

// Compression of the families that hold flows (raw and rollups), by how
// settled their data is. L0 holds fresh memtables for seconds to minutes
// before a compaction reads them again: it stays uncompressed. Levels in
// between get LZ4; the bottom, where data settles, zstd at level 1: at
// RocksDB's default level (3) it stored the same bytes (`ingest_bench
// --mode=direct` then a full compaction: 60.4 against 59.9 bytes per flow)
// for more CPU. Both together took ~15 % off the CPU per stored flow (30 s
// direct runs, 2 each: 4.66 / 4.18 against 3.65 / 3.66 us).
void CompressBySettledness(rocksdb::ColumnFamilyOptions* options) {
  options->compression_per_level.assign(options->num_levels,
                                        rocksdb::kLZ4Compression);
  options->compression_per_level[0] = rocksdb::kNoCompression;
  options->bottommost_compression = rocksdb::kZSTD;
  options->bottommost_compression_opts.level = 1;
  options->bottommost_compression_opts.enabled = true;
}

// What the families that hold flows (raw and rollups) share: 64 MiB
// memtables, 16 KiB blocks compressed by how settled they are, and inserts
// that start where the last one with the same first `hint_prefix` key
// bytes ended instead of at the top of the memtable's skip list (keys
// arrive sorted and close together).
void SetFlowFamilyOptions(size_t hint_prefix,
                          rocksdb::ColumnFamilyOptions* options,
                          rocksdb::BlockBasedTableOptions* table) {
  options->write_buffer_size = 64 << 20;
  options->memtable_insert_with_hint_prefix_extractor.reset(
      rocksdb::NewFixedPrefixTransform(hint_prefix));
  table->block_size = 16 << 10;
  CompressBySettledness(options);
  options->level_compaction_dynamic_level_bytes = true;
}

// Options of every column family, in one place.
rocksdb::ColumnFamilyOptions FamilyOptions(
    Family family, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.format_version = 5;

  switch (family) {
    case Family::kRaw:
      // Append-mostly by time, read by range scans: big blocks, compressed
      // by how settled they are. A batch's keys arrive sorted and close
      // together: inserts are hinted by 4 key bytes (~4.3 s of last_seen).
      SetFlowFamilyOptions(4, &options, &table);
      break;
    case Family::kMinute:
    case Family::kHour:
      // Rollups: many merges per key; RocksDB folds operands in flushes and
      // compactions (and on reads, through the same operator).
      options.merge_operator = std::make_shared<RollupMergeOperator>();
      // The 64 MiB memtables are big enough that a flush folds many buffer
      // writes of one bucket's blocks into one, and fewer L0 files mean
      // fewer compactions rewriting the open buckets' blocks. `ingest_bench
      // --mode=direct --seconds=20`, against 32 MiB: 8 MiB stored ~13 %
      // fewer flows/s; 64 MiB ~17 % more at ~18 % less CPU per flow, for 34
      // MiB more peak RSS (412 against 378 MiB); 128 MiB ~27 % more for 95
      // MiB. The price besides memory: a crash leaves up to a memtable's
      // worth of batches whose rollups Open redoes from raw
      // (RecoverRollups). Flushes of the rollup buffer write each bucket's
      // keys in order: as for raw, inserts start from the last one in the
      // same bucket.
      SetFlowFamilyOptions(kBucketPrefixSize, &options, &table);
      break;
    case Family::kNodes:
    case Family::kMeta:
    case Family::kPending:
      // A few small records, read at open (pending: written with each
      // batch, deleted at the next rollup flush).
      options.write_buffer_size = 4 << 20;
      options.compression = rocksdb::kNoCompression;
      break;
  }
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

// RocksDB's info log, `LOG` in the data directory, written with plain
// write(2) calls whose failures drop the line. RocksDB's own logger keeps
// one buffered writer for it, and once a write of that writer fails (a full
// disk) the next line aborts the process (an assertion in
// WritableFileWriter); a log line is not worth that. Past kMaxBytes the
// file is renamed to LOG.old and a new one started.
class DataDirLogger final : public rocksdb::Logger {
 public:
  static constexpr off_t kMaxBytes = off_t{16} << 20;

  explicit DataDirLogger(std::string dir)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL),
        path_(dir + "/LOG"),
        old_path_(dir + "/LOG.old") {
    absl::MutexLock lock(&mu_);
    Reopen();
  }
  ~DataDirLogger() override {
    if (fd_ >= 0) close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[2048];
    timeval now;
    gettimeofday(&now, nullptr);
    tm local;
    localtime_r(&now.tv_sec, &local);
    int n = std::snprintf(
        line, sizeof(line), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ",
        local.tm_year + 1900, local.tm_mon + 1, local.tm_mday, local.tm_hour,
        local.tm_min, local.tm_sec, static_cast<long>(now.tv_usec));
    va_list copy;
    va_copy(copy, ap);
    const int body =
        std::vsnprintf(line + n, sizeof(line) - n - 1, format, copy);
    va_end(copy);
    if (body < 0) return;
    n = std::min<int>(n + body, sizeof(line) - 2);
    if (line[n - 1] != '\n') line[n++] = '\n';
    absl::MutexLock lock(&mu_);
    if (fd_ < 0 || bytes_ >= kMaxBytes) Reopen();
    if (fd_ < 0) return;
    const ssize_t written = write(fd_, line, n);
    if (written > 0) bytes_ += written;
  }

 private:
  // Opens LOG for appending (moving a full one to LOG.old first); on
  // failure (no descriptor, no space) lines are dropped until the next try.
  void Reopen() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (fd_ >= 0 && bytes_ >= kMaxBytes) {
      close(fd_);
      fd_ = -1;
      rename(path_.c_str(), old_path_.c_str());
    }
    if (fd_ < 0) {
      fd_ =
          open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      bytes_ = fd_ >= 0 ? lseek(fd_, 0, SEEK_END) : 0;
    }
  }

  const std::string path_;
  const std::string old_path_;
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  off_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::string_view ReasonName(rocksdb::BackgroundErrorReason reason) {
  switch (reason) {
    case rocksdb::BackgroundErrorReason::kFlush:
    case rocksdb::BackgroundErrorReason::kFlushNoWAL:
      return "RocksDB stopped writes after a failed memtable flush";
    case rocksdb::BackgroundErrorReason::kCompaction:
      return "RocksDB stopped writes after a failed compaction";
    case rocksdb::BackgroundErrorReason::kWriteCallback:
    case rocksdb::BackgroundErrorReason::kMemTable:
      return "RocksDB stopped writes after a failed write";
    case rocksdb::BackgroundErrorReason::kManifestWrite:
    case rocksdb::BackgroundErrorReason::kManifestWriteNoWAL:
      return "RocksDB stopped writes after a failed MANIFEST write";
  }
  return "RocksDB stopped writes";
}

rocksdb::DBOptions DatabaseOptions() {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 4;
  // Rollup buffer writes skip the WAL (WriteBuffers, rollup_flusher.h), so
  // every memtable flush must take all families at one point of the write
  // sequence: a rollup write and the deletion of its pending records reach
  // disk together or not at all.
  options.atomic_flush = true;
  options.bytes_per_sync = 1 << 20;
  // The info log: DataDirLogger (set at Open), which keeps one LOG.old.
  // RocksDB's own retries (every second, forever, for a retryable error
  // such as ENOSPC) run behind the store's back; the store resumes
  // itself instead (Store::Resume), when it is told to.
  options.max_bgerror_resume_count = 0;
  // Table files open at most, a share of the descriptor limit: with the
  // default (-1, every file) a big store, or sockets, would leave the WAL
  // and flushes without a descriptor.
  options.max_open_files = std::max(32, DescriptorLimit() / 4);
  return options;
}

}  // namespace

// Keeps the error RocksDB stopped writes for, until a recovery ends well.
class RocksDb::ErrorListener final : public rocksdb::EventListener {
 public:
  void OnBackgroundError(rocksdb::BackgroundErrorReason reason,
                         rocksdb::Status* error) override {
    if (error == nullptr || error->ok()) return;
    absl::Status status = FromRocksDb(*error, ReasonName(reason));
    if (error->severity() >= rocksdb::Status::Severity::kFatalError) {
      // E.g. a new WAL that could not be created: RocksDB refuses Resume.
      status = absl::Status(
          status.code(),
          absl::StrCat(status.message(),
                       " (RocksDB cannot resume from this error: writes "
                       "wait for a restart of weir-queryd)"));
    }
    absl::MutexLock lock(&mu_);
    fatal_ =
        fatal_ || error->severity() >= rocksdb::Status::Severity::kFatalError;
    error_ = std::move(status);
  }
  // RocksDB would recover from a full disk by itself, polling until the
  // free space exceeds a memtable's worth, and refuse DB::Resume meanwhile
  // (Busy); the store resumes itself instead (Store::Resume).
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/,
                            rocksdb::Status /*error*/,
                            bool* auto_recovery) override {
    if (auto_recovery != nullptr) *auto_recovery = false;
  }
  void OnErrorRecoveryEnd(
      const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (!info.new_bg_error.ok()) return;
    Clear();
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    error_ = absl::OkStatus();
  }
  absl::Status error() const {
    absl::MutexLock lock(&mu_);
    return error_;
  }
  // Whether RocksDB has had an error it cannot resume from.
  bool fatal() const {
    absl::MutexLock lock(&mu_);
    return fatal_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool fatal_ ABSL_GUARDED_BY(mu_) = false;
};

std::vector<rocksdb::ColumnFamilyDescriptor> RocksDb::Descriptors(
    const std::vector<std::string>& on_disk,
    const std::shared_ptr<rocksdb::Cache>& cache) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (Family family : kFamilies) {
    descriptors.emplace_back(std::string{FamilyName(family)},
                             FamilyOptions(family, cache));
  }
  std::vector<std::string> names = on_disk;
  names.push_back(rocksdb::kDefaultColumnFamilyName);
  for (const std::string& name : names) {
    const bool known =
        std::any_of(descriptors.begin(), descriptors.end(),
                    [&](const auto& d) { return d.name == name; });
    if (!known) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  return descriptors;
}

absl::Status RocksDb::ListFamilies(const std::string& dir,
                                   std::vector<std::string>* names) {
  return FromRocksDb(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, names),
      absl::StrCat("listing the column families of ", dir));
}

absl::StatusOr<std::unique_ptr<RocksDb>> RocksDb::Open(const std::string& dir,
                                                       size_t block_cache_bytes,
                                                       bool sync_writes) {
  std::vector<std::string> names;
  if (rocksdb::Env::Default()->FileExists(dir + "/CURRENT").ok()) {
    WEIR_RETURN_IF_ERROR(ListFamilies(dir, &names));
  }
  const std::vector<rocksdb::ColumnFamilyDescriptor> descriptors =
      Descriptors(names, rocksdb::NewLRUCache(block_cache_bytes));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::DBOptions options = DatabaseOptions();
  auto errors = std::make_shared<ErrorListener>();
  options.listeners.push_back(errors);
  options.info_log = std::make_shared<DataDirLogger>(dir);
  WEIR_RETURN_IF_ERROR(FromRocksDb(
      rocksdb::DB::Open(options, dir, descriptors, &handles, &raw_db),
      absl::StrCat("opening data directory ", dir)));
  return std::unique_ptr<RocksDb>(
      new RocksDb(std::unique_ptr<rocksdb::DB>(raw_db), std::move(handles),
                  sync_writes, std::move(errors), options.max_open_files));
}

RocksDb::RocksDb(std::unique_ptr<rocksdb::DB> db,
                 std::vector<rocksdb::ColumnFamilyHandle*> handles,
                 bool sync_writes, std::shared_ptr<ErrorListener> errors,
                 int max_open_files)
    : db_(std::move(db)),
      handles_(std::move(handles)),
      errors_(std::move(errors)),
      max_open_files_(max_open_files) {
  write_options_.sync = sync_writes;
}

absl::Status RocksDb::BackgroundError() const { return errors_->error(); }

absl::Status RocksDb::Resume() const {
  if (errors_->error().ok()) return absl::OkStatus();
  WEIR_RETURN_IF_ERROR(FromRocksDb(db_->Resume(), "resuming writes"));
  errors_->Clear();
  return absl::OkStatus();
}

RocksDb::~RocksDb() {
  if (errors_->fatal()) {
    // After an error RocksDB cannot resume from (a WAL it could not
    // create), closing the database fails its own assertions and aborts
    // (~ColumnFamilySet). Every acknowledged write is in the synced WAL:
    // the database is left to the process's exit, as in a crash, and the
    // next open recovers it from the WAL.
    db_.release();
    return;
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle);
  }
  db_->Close().PermitUncheckedError();
}

absl::Status RocksDb::Write(rocksdb::WriteBatch* batch,
                            absl::string_view what) const {
  return FromRocksDb(db_->Write(write_options_, batch), what);
}

absl::Status RocksDb::WriteUnlogged(rocksdb::WriteBatch* batch,
                                    absl::string_view what) const {
  rocksdb::WriteOptions unlogged;
  unlogged.disableWAL = true;
  return FromRocksDb(db_->Write(unlogged, batch), what);
}

absl::Status RocksDb::FlushMemtables() const {
  std::vector<rocksdb::ColumnFamilyHandle*> families(
      handles_.begin(), handles_.begin() + kFamilyCount);
  return FromRocksDb(db_->Flush(rocksdb::FlushOptions(), families),
                     "flushing memtables");
}

absl::Status RocksDb::Compact() const {
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction =
      rocksdb::BottommostLevelCompaction::kForce;
  for (Family family : kFamilies) {
    WEIR_RETURN_IF_ERROR(
        FromRocksDb(db_->CompactRange(compact, cf(family), nullptr, nullptr),
                    absl::StrCat("compacting ", FamilyName(family))));
  }
  return absl::OkStatus();
}

uint64_t RocksDb::ApproximateSize() const {
  uint64_t sst = 0;
  uint64_t memtables = 0;
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize,
                                &sst);
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kSizeAllMemTables,
                                &memtables);
  return sst + memtables;
}

uint64_t RocksDb::MemtableBytes() const {
  uint64_t memtables = 0;
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kSizeAllMemTables,
                                &memtables);
  return memtables;
}

uint64_t RocksDb::BlockCacheBytes() const {
  uint64_t block_cache = 0;
  // One cache for every family: any family's figure is the whole cache's.
  db_->GetIntProperty(cf(Family::kRaw),
                      rocksdb::DB::Properties::kBlockCacheUsage, &block_cache);
  return block_cache;
}

}  // namespace weir::store
