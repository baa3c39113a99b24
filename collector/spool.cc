#include "collector/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "collector/crc32c.h"
#include "collector/fault_point.h"
#include "collector/shipper.h"
#include "common/status_macros.h"

namespace weir::collector {
namespace {

// Record header, little-endian (the only byte order the collector runs on;
// the format is pinned, a new layout gets a new magic):
//   0  u32 magic "WSR1"
//   4  u32 payload length
//   8  u64 index
//  16  u64 dropped_through: records up to this index were dropped at the
//          bound and their traffic is carried by this record or an earlier one
//  24  i64 append time, Unix nanoseconds
//  32  u32 CRC-32C of the payload
//  36  u32 CRC-32C of bytes 0..35
//  40  payload: a serialized weir.v1.FlowBatch
constexpr char kRecordMagic[4] = {'W', 'S', 'R', '1'};
constexpr size_t kHeaderBytes = 40;
// Far above any batch (a 1 M-flow map is ~60 MiB serialized); a length
// beyond it is garbage even when its CRC happens to hold.
constexpr uint32_t kMaxPayloadBytes = 256u << 20;

// ACKED file: "WSA1", u32 zero, u64 released-through index, u32 CRC-32C of
// bytes 0..15, u32 zero.
constexpr char kAckMagic[4] = {'W', 'S', 'A', '1'};
constexpr size_t kAckBytes = 24;

constexpr absl::string_view kSegmentSuffix = ".wspool";

void Put32(char* at, uint32_t v) { std::memcpy(at, &v, 4); }
void Put64(char* at, uint64_t v) { std::memcpy(at, &v, 8); }
uint32_t Get32(const char* at) {
  uint32_t v;
  std::memcpy(&v, at, 4);
  return v;
}
uint64_t Get64(const char* at) {
  uint64_t v;
  std::memcpy(&v, at, 8);
  return v;
}

struct Header {
  uint32_t payload_bytes = 0;
  uint64_t index = 0;
  uint64_t dropped_through = 0;
  int64_t append_unix_nanos = 0;
  uint32_t payload_crc = 0;
};

void EncodeHeader(const Header& h, char* out) {
  std::memcpy(out, kRecordMagic, 4);
  Put32(out + 4, h.payload_bytes);
  Put64(out + 8, h.index);
  Put64(out + 16, h.dropped_through);
  Put64(out + 24, static_cast<uint64_t>(h.append_unix_nanos));
  Put32(out + 32, h.payload_crc);
  Put32(out + 36, Crc32cExtend(0, out, 36));
}

// The record at `data[pos]`, when every check holds.
bool ParseRecord(absl::string_view data, size_t pos, Header* header,
                 absl::string_view* payload) {
  if (data.size() - pos < kHeaderBytes) return false;
  const char* h = data.data() + pos;
  if (std::memcmp(h, kRecordMagic, 4) != 0) return false;
  if (Get32(h + 36) != Crc32cExtend(0, h, 36)) return false;
  header->payload_bytes = Get32(h + 4);
  header->index = Get64(h + 8);
  header->dropped_through = Get64(h + 16);
  header->append_unix_nanos = static_cast<int64_t>(Get64(h + 24));
  header->payload_crc = Get32(h + 32);
  if (header->payload_bytes > kMaxPayloadBytes) return false;
  if (header->index == 0) return false;
  if (data.size() - pos - kHeaderBytes < header->payload_bytes) return false;
  *payload = data.substr(pos + kHeaderBytes, header->payload_bytes);
  return Crc32c(*payload) == header->payload_crc;
}

std::string SegmentName(uint64_t name_index) {
  return absl::StrFormat("%020d%s", name_index, kSegmentSuffix);
}

absl::Status Errno(int err, absl::string_view what) {
  return absl::ErrnoToStatus(err, what);
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, absl::StrCat("opening ", path));
  std::string data;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return Errno(err, absl::StrCat("reading ", path));
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return data;
}

// Writes all of `data` at `offset`.
absl::Status WriteAll(int fd, const char* data, size_t size, uint64_t offset,
                      absl::string_view what) {
  while (size > 0) {
    const ssize_t n = pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(errno, what);
    }
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& directory) {
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, absl::StrCat("opening ", directory));
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  if (rc != 0) return Errno(err, absl::StrCat("fsync of ", directory));
  return absl::OkStatus();
}

// Adds the accounting of a batch that will not be delivered to `into`: what
// it saw, its own losses, and its exported traffic as `reason`.
void CarryBatch(const weir::v1::Counters& batch, weir::v1::LossReason reason,
                weir::v1::Counters* into) {
  into->set_packets_seen(into->packets_seen() + batch.packets_seen());
  into->set_bytes_seen(into->bytes_seen() + batch.bytes_seen());
  for (const weir::v1::LossCount& loss : batch.losses()) {
    AddLoss(loss.reason(), loss.packets(), loss.bytes(), into);
  }
  AddLoss(reason, batch.packets_exported(), batch.bytes_exported(), into);
}

// Adds carried accounting (seen and losses, nothing exported) to a batch.
void FoldCarried(const weir::v1::Counters& carried, weir::v1::Counters* into) {
  into->set_packets_seen(into->packets_seen() + carried.packets_seen());
  into->set_bytes_seen(into->bytes_seen() + carried.bytes_seen());
  for (const weir::v1::LossCount& loss : carried.losses()) {
    AddLoss(loss.reason(), loss.packets(), loss.bytes(), into);
  }
}

}  // namespace

absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(absl::string_view text) {
  if (text == "always") return FsyncPolicy::kAlways;
  if (text == "interval") return FsyncPolicy::kInterval;
  if (text == "never") return FsyncPolicy::kNever;
  return absl::InvalidArgumentError(absl::StrCat(
      "spool fsync policy '", text, "': want always, interval or never"));
}

absl::string_view FsyncPolicyName(FsyncPolicy policy) {
  switch (policy) {
    case FsyncPolicy::kAlways:
      return "always";
    case FsyncPolicy::kInterval:
      return "interval";
    case FsyncPolicy::kNever:
      return "never";
  }
  return "unknown";
}

Spool::Spool(SpoolOptions options) : options_(std::move(options)) {}

Spool::~Spool() {
  absl::MutexLock lock(&mu_);
  if (options_.fsync != FsyncPolicy::kNever) SyncLocked().IgnoreError();
  CloseActiveLocked();
  if (ack_fd_ >= 0) close(ack_fd_);
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
}

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(SpoolOptions options) {
  if (options.directory.empty()) {
    return absl::InvalidArgumentError("spool directory: must be set");
  }
  if (options.segment_bytes < kHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("spool segment_bytes ",
                                                   options.segment_bytes,
                                                   ": below ", kHeaderBytes));
  }
  if (options.max_bytes / 2 < options.segment_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("spool max_bytes ", options.max_bytes,
                     ": must hold at least two segments of ",
                     options.segment_bytes, " bytes"));
  }
  if (options.max_age <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("spool max_age: must be positive");
  }
  if (!options.clock) options.clock = [] { return absl::Now(); };
  std::unique_ptr<Spool> spool(new Spool(std::move(options)));
  absl::MutexLock lock(&spool->mu_);
  WEIR_RETURN_IF_ERROR(spool->Recover());
  return spool;
}

absl::Status Spool::Recover() {
  const std::string& dir = options_.directory;
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno(errno, absl::StrCat("creating spool directory ", dir));
  }
  const std::string lock_path = absl::StrCat(dir, "/LOCK");
  lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return Errno(errno, absl::StrCat("opening ", lock_path));
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("spool ", dir, " is in use (its LOCK is held)"));
    }
    return Errno(errno, absl::StrCat("locking ", lock_path));
  }

  // The acknowledged position, when its file is intact.
  const std::string ack_path = absl::StrCat(dir, "/ACKED");
  ack_fd_ = open(ack_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (ack_fd_ < 0) return Errno(errno, absl::StrCat("opening ", ack_path));
  uint64_t acked_through = 0;
  {
    char ack[kAckBytes];
    if (pread(ack_fd_, ack, kAckBytes, 0) == static_cast<ssize_t>(kAckBytes) &&
        std::memcmp(ack, kAckMagic, 4) == 0 &&
        Get32(ack + 16) == Crc32cExtend(0, ack, 16)) {
      acked_through = Get64(ack + 8);
    }
  }

  // Segment files, in index order.
  std::vector<uint64_t> names;
  {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return Errno(errno, absl::StrCat("listing ", dir));
    while (dirent* entry = readdir(d)) {
      absl::string_view name = entry->d_name;
      if (!absl::ConsumeSuffix(&name, kSegmentSuffix)) continue;
      uint64_t index;
      if (name.size() == 20 && absl::SimpleAtoi(name, &index)) {
        names.push_back(index);
      }
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());

  struct Found {
    Header header;
    uint64_t segment;
    uint64_t offset;
    BatchId id;
    weir::v1::Counters counters;
    std::optional<uint32_t> kernel_generation;
  };
  struct Region {    // invalid bytes
    size_t segment;  // position in names
    uint64_t begin;
    uint64_t end;
    size_t found_before;  // valid records before it
  };
  std::vector<Found> found;
  std::vector<Region> regions;
  std::vector<uint64_t> sizes(names.size());
  for (size_t s = 0; s < names.size(); ++s) {
    const std::string path = absl::StrCat(dir, "/", SegmentName(names[s]));
    WEIR_ASSIGN_OR_RETURN(const std::string data, ReadWholeFile(path));
    sizes[s] = data.size();
    size_t pos = 0;
    while (pos < data.size()) {
      Header header;
      absl::string_view payload;
      weir::v1::FlowBatch batch;
      const bool valid =
          ParseRecord(data, pos, &header, &payload) &&
          batch.ParseFromArray(payload.data(),
                               static_cast<int>(payload.size())) &&
          (found.empty() || header.index > found.back().header.index);
      if (valid) {
        found.push_back(
            Found{header, names[s], pos, BatchId{batch.epoch(), batch.seq()},
                  batch.counters(),
                  batch.has_kernel_generation()
                      ? std::optional<uint32_t>(batch.kernel_generation())
                      : std::nullopt});
        pos += kHeaderBytes + header.payload_bytes;
        continue;
      }
      // Resynchronise on the next valid record, or run to the end.
      size_t next = data.size();
      for (size_t at = data.find(kRecordMagic, pos + 1, 4);
           at != std::string::npos; at = data.find(kRecordMagic, at + 1, 4)) {
        if (ParseRecord(data, at, &header, &payload) &&
            (found.empty() || header.index > found.back().header.index)) {
          next = at;
          break;
        }
      }
      regions.push_back(Region{s, pos, next, found.size()});
      pos = next;
    }
  }

  // A torn tail: invalid bytes that end the last segment.
  if (!regions.empty() && regions.back().segment + 1 == names.size() &&
      regions.back().end == sizes.back()) {
    const Region tail = regions.back();
    regions.pop_back();
    const std::string path = absl::StrCat(dir, "/", SegmentName(names.back()));
    if (truncate(path.c_str(), static_cast<off_t>(tail.begin)) != 0) {
      return Errno(errno, absl::StrCat("cutting the torn tail off ", path));
    }
    sizes.back() = tail.begin;
    stats_.torn_tails = 1;
    stats_.torn_bytes = tail.end - tail.begin;
  }

  for (const Found& f : found) {
    dropped_through_ = std::max(dropped_through_, f.header.dropped_through);
  }
  if (!found.empty())
    newest_kernel_generation_ = found.back().kernel_generation;
  released_through_ = std::max(acked_through, dropped_through_);

  // Corruption: every index missing between valid records (the first
  // segment's name is the first index expected), and any invalid region that
  // no later record accounts for, counted as one.
  {
    uint64_t expected = names.empty() ? 1 : names.front();
    for (const Found& f : found) {
      const uint64_t from = std::max(expected, released_through_ + 1);
      if (f.header.index > from)
        stats_.corrupted_records += f.header.index - from;
      expected = f.header.index + 1;
    }
    for (const Region& r : regions) {
      stats_.corrupted_bytes += r.end - r.begin;
      if (r.found_before == found.size()) ++stats_.corrupted_records;
    }
  }

  // Segments, pending records and the next index.
  next_index_ = std::max<uint64_t>(released_through_ + 1, 1);
  size_t f = 0;
  for (size_t s = 0; s < names.size(); ++s) {
    Segment segment;
    segment.name_index = names[s];
    segment.path = absl::StrCat(dir, "/", SegmentName(names[s]));
    segment.bytes = sizes[s];
    for (; f < found.size() && found[f].segment == names[s]; ++f) {
      const Found& r = found[f];
      const absl::Time appended =
          absl::FromUnixNanos(r.header.append_unix_nanos);
      segment.last_index = r.header.index;
      segment.newest = std::max(segment.newest, appended);
      next_index_ = std::max(next_index_, r.header.index + 1);
      if (r.header.index <= released_through_) continue;
      pending_.push_back(Pending{r.header.index, r.id, names[s], r.offset,
                                 r.header.payload_bytes, appended, r.counters});
      stats_.pending_bytes += kHeaderBytes + r.header.payload_bytes;
    }
    stats_.bytes += segment.bytes;
    segments_.push_back(std::move(segment));
  }
  stats_.segments = segments_.size();
  stats_.replayed_batches = pending_.size();
  // Segments holding nothing pending (empty ones included) go now; new
  // records go to a new segment.
  TrimLocked();
  // Written now so that its block exists: later acks rewrite it in place
  // and need no new space on a full disk. Failing costs only resends.
  WriteAckFileLocked().IgnoreError();
  return absl::OkStatus();
}

void Spool::TrimLocked() {
  const bool active_open = active_fd_ >= 0;
  while (!segments_.empty()) {
    const Segment& front = segments_.front();
    if (active_open && segments_.size() == 1) break;
    const bool holds_pending =
        !pending_.empty() && pending_.front().segment == front.name_index;
    if (holds_pending) break;
    // A segment after the released position with no valid record may still
    // be followed by pending ones; it holds nothing, so it can go.
    if (unlink(front.path.c_str()) != 0 && errno != ENOENT) break;
    stats_.bytes -= front.bytes;
    segments_.pop_front();
  }
  stats_.segments = segments_.size();
}

absl::Status Spool::WriteAckFileLocked() {
  char ack[kAckBytes] = {};
  std::memcpy(ack, kAckMagic, 4);
  Put64(ack + 8, released_through_);
  Put32(ack + 16, Crc32cExtend(0, ack, 16));
  return WriteAll(ack_fd_, ack, kAckBytes, 0, "writing the spool's ACKED");
}

void Spool::CloseActiveLocked() {
  if (active_fd_ < 0) return;
  // A closed segment is never synced again: what the interval policy still
  // owes it is paid now.
  if (options_.fsync != FsyncPolicy::kNever) SyncLocked().IgnoreError();
  close(active_fd_);
  active_fd_ = -1;
}

absl::Status Spool::StartSegmentLocked(uint64_t name_index) {
  CloseActiveLocked();
  Segment segment;
  segment.name_index = name_index;
  segment.path = absl::StrCat(options_.directory, "/", SegmentName(name_index));
  // An empty last segment is the leftover of a failed append or of a crash
  // right after creating it; the new one replaces it.
  if (!segments_.empty() && segments_.back().bytes == 0) {
    if (segments_.back().name_index != name_index) {
      unlink(segments_.back().path.c_str());
    }
    segments_.pop_back();
  }
  const int fd = open(segment.path.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(errno, absl::StrCat("creating ", segment.path));
  WEIR_FAULT_POINT("spool.after_segment_create");
  if (options_.fsync != FsyncPolicy::kNever) {
    // The new name must be durable before a record in it is.
    if (absl::Status s = SyncDirectory(options_.directory); !s.ok()) {
      close(fd);
      unlink(segment.path.c_str());
      return s;
    }
  }
  active_fd_ = fd;
  segments_.push_back(std::move(segment));
  stats_.segments = segments_.size();
  return absl::OkStatus();
}

size_t Spool::SegmentsToDropLocked(uint64_t record_bytes,
                                   absl::Time now) const {
  const bool aging = options_.max_age != absl::InfiniteDuration();
  uint64_t total = stats_.bytes;
  size_t n = 0;
  while (n < segments_.size()) {
    const Segment& s = segments_[n];
    if (s.bytes == 0) break;  // only the last can be empty; nothing to gain
    const bool too_old =
        aging && s.last_index != 0 && s.newest < now - options_.max_age;
    const bool too_big = total + record_bytes > options_.max_bytes;
    if (!too_old && !too_big) break;
    total -= s.bytes;
    ++n;
  }
  return n;
}

absl::Status Spool::Append(weir::v1::FlowBatch* batch,
                           std::vector<BatchId>* dropped) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = options_.clock();

  weir::v1::FlowBatch record = *batch;
  FoldCarried(carried_, record.mutable_counters());
  // Make room: each segment dropped folds its pending batches into the
  // record, which may grow it, which may need more room.
  std::string payload;
  size_t drop = 0;
  size_t pending_dropped = 0;
  uint64_t dropped_through = dropped_through_;
  while (true) {
    payload.clear();
    record.SerializeToString(&payload);
    const size_t want =
        SegmentsToDropLocked(kHeaderBytes + payload.size(), now);
    if (want <= drop) break;
    for (; drop < want; ++drop) {
      const Segment& s = segments_[drop];
      for (; pending_dropped < pending_.size() &&
             pending_[pending_dropped].segment == s.name_index;
           ++pending_dropped) {
        CarryBatch(pending_[pending_dropped].counters,
                   weir::v1::LOSS_REASON_SPOOL_FULL, record.mutable_counters());
      }
      dropped_through = std::max(dropped_through, s.last_index);
    }
  }
  const uint64_t record_bytes = kHeaderBytes + payload.size();

  auto refuse = [&](absl::Status status) {
    // Nothing was dropped or written: the batch's own accounting waits for
    // the next append.
    ++stats_.refused_batches;
    ++stats_.spool_full_batches;
    stats_.spool_full_packets += batch->counters().packets_exported();
    stats_.spool_full_bytes += batch->counters().bytes_exported();
    CarryBatch(batch->counters(), weir::v1::LOSS_REASON_SPOOL_FULL, &carried_);
    stats_.carried_packets_seen = carried_.packets_seen();
    return status;
  };
  if (record_bytes > options_.max_bytes || payload.size() > kMaxPayloadBytes) {
    return refuse(absl::ResourceExhaustedError(
        absl::StrCat("batch of ", record_bytes, " bytes exceeds the spool's ",
                     options_.max_bytes, "-byte bound")));
  }

  const uint64_t index = next_index_;
  const bool active_dropped = drop == segments_.size() && active_fd_ >= 0;
  if (active_fd_ < 0 || active_dropped ||
      (segments_.back().bytes > 0 &&
       segments_.back().bytes + record_bytes > options_.segment_bytes)) {
    if (active_dropped) CloseActiveLocked();
    if (absl::Status s = StartSegmentLocked(index); !s.ok()) {
      return refuse(std::move(s));
    }
  }
  Segment& segment = segments_.back();

  Header header;
  header.payload_bytes = static_cast<uint32_t>(payload.size());
  header.index = index;
  header.dropped_through = dropped_through;
  header.append_unix_nanos = absl::ToUnixNanos(now);
  header.payload_crc = Crc32c(payload);
  std::string bytes(kHeaderBytes, '\0');
  EncodeHeader(header, bytes.data());
  bytes += payload;

  WEIR_FAULT_POINT("spool.before_write");
  if (WEIR_FAULT_ARMED("spool.mid_record")) {
    WriteAll(active_fd_, bytes.data(), bytes.size() / 2, segment.bytes, "")
        .IgnoreError();
    abort();
  }
  absl::Status written = WriteAll(active_fd_, bytes.data(), bytes.size(),
                                  segment.bytes, "appending to the spool");
  if (written.ok()) {
    unsynced_ = true;
    WEIR_FAULT_POINT("spool.after_write_before_fsync");
    if (options_.fsync == FsyncPolicy::kAlways ||
        (options_.fsync == FsyncPolicy::kInterval &&
         now - last_sync_ >= options_.fsync_interval)) {
      written = SyncLocked();
      last_sync_ = now;
    }
  }
  if (!written.ok()) {
    // Cut off whatever reached the file so no half record stays behind; a
    // record whose fsync failed is not known to be on disk, so it goes too.
    if (ftruncate(active_fd_, static_cast<off_t>(segment.bytes)) != 0) {
      // The next record could not follow a part-written one; start anew.
      CloseActiveLocked();
    }
    return refuse(std::move(written));
  }
  WEIR_FAULT_POINT("spool.after_fsync");
  segment.bytes += record_bytes;
  segment.last_index = index;
  segment.newest = now;
  stats_.bytes += record_bytes;
  ++next_index_;

  // The record carries the dropped batches now; their segments may go.
  if (drop > 0) {
    WEIR_FAULT_POINT("spool.drop_after_write_before_unlink");
    for (size_t i = 0; i < pending_dropped; ++i) {
      const Pending& p = pending_.front();
      ++stats_.spool_full_batches;
      stats_.spool_full_packets += p.counters.packets_exported();
      stats_.spool_full_bytes += p.counters.bytes_exported();
      stats_.pending_bytes -= kHeaderBytes + p.payload_bytes;
      if (dropped != nullptr) dropped->push_back(p.id);
      pending_.pop_front();
    }
    for (size_t i = 0; i < drop; ++i) {
      const Segment& s = segments_.front();
      if (unlink(s.path.c_str()) != 0 && errno != ENOENT) {
        // Still on disk, but replaced: recovery skips it (dropped_through).
        break;
      }
      stats_.bytes -= s.bytes;
      segments_.pop_front();
    }
    stats_.segments = segments_.size();
    dropped_through_ = dropped_through;
    released_through_ = std::max(released_through_, dropped_through);
  }

  pending_.push_back(Pending{index, BatchId{record.epoch(), record.seq()},
                             segment.name_index, segment.bytes - record_bytes,
                             header.payload_bytes, now, record.counters()});
  stats_.pending_bytes += record_bytes;
  ++stats_.appended_batches;
  carried_.Clear();
  stats_.carried_packets_seen = 0;
  newest_kernel_generation_ =
      record.has_kernel_generation()
          ? std::optional<uint32_t>(record.kernel_generation())
          : std::nullopt;
  *batch = std::move(record);
  return absl::OkStatus();
}

std::optional<uint32_t> Spool::newest_kernel_generation() const {
  absl::MutexLock lock(&mu_);
  return newest_kernel_generation_;
}

absl::StatusOr<size_t> Spool::Ack(uint64_t epoch, uint64_t seq) {
  absl::MutexLock lock(&mu_);
  const BatchId id{epoch, seq};
  size_t through = 0;
  while (through < pending_.size() && !(pending_[through].id == id)) ++through;
  if (through == pending_.size()) return 0;
  released_through_ = pending_[through].index;
  for (size_t i = 0; i <= through; ++i) {
    stats_.pending_bytes -= kHeaderBytes + pending_.front().payload_bytes;
    pending_.pop_front();
  }
  stats_.acked_batches += through + 1;
  const absl::Status written = WriteAckFileLocked();
  WEIR_FAULT_POINT("spool.ack_after_ack_file_before_unlink");
  TrimLocked();
  if (!written.ok()) return written;
  return through + 1;
}

absl::Status Spool::ForEachPending(
    const std::function<absl::Status(weir::v1::FlowBatch)>& fn) {
  std::vector<Pending> pending;
  {
    absl::MutexLock lock(&mu_);
    pending.assign(pending_.begin(), pending_.end());
  }
  int fd = -1;
  uint64_t fd_segment = 0;
  auto close_fd = [&] {
    if (fd >= 0) close(fd);
    fd = -1;
  };
  for (const Pending& p : pending) {
    if (fd < 0 || fd_segment != p.segment) {
      close_fd();
      const std::string path =
          absl::StrCat(options_.directory, "/", SegmentName(p.segment));
      fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      fd_segment = p.segment;
    }
    std::string data(kHeaderBytes + p.payload_bytes, '\0');
    const bool read_all = fd >= 0 && pread(fd, data.data(), data.size(),
                                           static_cast<off_t>(p.offset)) ==
                                         static_cast<ssize_t>(data.size());
    Header header;
    absl::string_view payload;
    weir::v1::FlowBatch batch;
    if (!read_all || !ParseRecord(data, 0, &header, &payload) ||
        header.index != p.index ||
        !batch.ParseFromArray(payload.data(),
                              static_cast<int>(payload.size()))) {
      absl::MutexLock lock(&mu_);
      // Released (acked or dropped) meanwhile, or damaged since Open.
      if (p.index > released_through_) ++stats_.corrupted_records;
      continue;
    }
    if (absl::Status s = fn(std::move(batch)); !s.ok()) {
      close_fd();
      return s;
    }
  }
  close_fd();
  return absl::OkStatus();
}

std::vector<BatchId> Spool::PendingIds() const {
  absl::MutexLock lock(&mu_);
  std::vector<BatchId> ids;
  ids.reserve(pending_.size());
  for (const Pending& p : pending_) ids.push_back(p.id);
  return ids;
}

absl::Status Spool::Sync() {
  absl::MutexLock lock(&mu_);
  last_sync_ = options_.clock();
  return SyncLocked();
}

absl::Status Spool::SyncLocked() {
  if (active_fd_ < 0 || !unsynced_) return absl::OkStatus();
  if (fdatasync(active_fd_) != 0) {
    return Errno(errno, "fdatasync of the spool");
  }
  unsynced_ = false;
  ++stats_.fsyncs;
  return absl::OkStatus();
}

SpoolStats Spool::stats() const {
  absl::MutexLock lock(&mu_);
  SpoolStats stats = stats_;
  stats.pending_batches = pending_.size();
  stats.oldest_pending_age =
      pending_.empty() ? absl::ZeroDuration()
                       : std::max(absl::ZeroDuration(),
                                  options_.clock() - pending_.front().appended);
  return stats;
}

}  // namespace weir::collector
