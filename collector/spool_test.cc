#include "collector/spool.h"

#include <dirent.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/shipper.h"
#include "collector/spool_test_batches.h"
#include "gtest/gtest.h"

namespace weir::collector {
namespace {

using ::weir::collector::testing::Seqs;
using ::weir::collector::testing::TestBatch;

constexpr uint64_t kEpoch = 7;
constexpr size_t kHeaderBytes = 40;  // spool.cc's record header

std::string TestDir(absl::string_view name) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(root != nullptr ? root : "/tmp", "/spool_",
                                 name, "_", getpid());
  std::string command = absl::StrCat("rm -rf '", dir, "'");
  EXPECT_EQ(std::system(command.c_str()), 0);
  return dir;
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> files;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 7 && name.substr(name.size() - 7) == ".wspool") {
        files.push_back(absl::StrCat(dir, "/", name));
      }
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

void CopyDir(const std::string& from, const std::string& to) {
  std::string command = absl::StrCat("rm -rf '", to, "' && cp -a '", from,
                                     "' '", to, "' && rm -f '", to, "/LOCK'");
  ASSERT_EQ(std::system(command.c_str()), 0);
}

std::vector<weir::v1::FlowBatch> Replay(Spool& spool) {
  std::vector<weir::v1::FlowBatch> batches;
  absl::Status s = spool.ForEachPending([&](weir::v1::FlowBatch b) {
    batches.push_back(std::move(b));
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return batches;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> seqs;
  for (uint64_t s = first; s <= last; ++s) seqs.push_back(s);
  return seqs;
}

uint64_t Loss(const weir::v1::Counters& c, weir::v1::LossReason reason) {
  for (const auto& loss : c.losses()) {
    if (loss.reason() == reason) return loss.packets();
  }
  return 0;
}

uint64_t LossBytes(const weir::v1::Counters& c, weir::v1::LossReason reason) {
  for (const auto& loss : c.losses()) {
    if (loss.reason() == reason) return loss.bytes();
  }
  return 0;
}

// Sums of a set of batches' accounting.
struct Totals {
  uint64_t packets_seen = 0;
  uint64_t bytes_seen = 0;
  uint64_t packets_exported = 0;
  uint64_t bytes_exported = 0;
  uint64_t packets_lost = 0;
  uint64_t bytes_lost = 0;
  uint64_t spool_full_packets = 0;
  uint64_t spool_full_bytes = 0;
};

Totals Sum(const std::vector<weir::v1::FlowBatch>& batches) {
  Totals t;
  for (const auto& b : batches) {
    const weir::v1::Counters& c = b.counters();
    t.packets_seen += c.packets_seen();
    t.bytes_seen += c.bytes_seen();
    t.packets_exported += c.packets_exported();
    t.bytes_exported += c.bytes_exported();
    for (const auto& loss : c.losses()) {
      t.packets_lost += loss.packets();
      t.bytes_lost += loss.bytes();
    }
    t.spool_full_packets += Loss(c, weir::v1::LOSS_REASON_SPOOL_FULL);
    t.spool_full_bytes += LossBytes(c, weir::v1::LOSS_REASON_SPOOL_FULL);
  }
  return t;
}

// Every batch on its own reconciles: seen = exported + lost.
void ExpectEachReconciles(const std::vector<weir::v1::FlowBatch>& batches) {
  for (const auto& b : batches) {
    const Totals t = Sum({b});
    EXPECT_EQ(t.packets_seen, t.packets_exported + t.packets_lost)
        << "seq " << b.seq();
    EXPECT_EQ(t.bytes_seen, t.bytes_exported + t.bytes_lost)
        << "seq " << b.seq();
  }
}

// Each batch is byte for byte the TestBatch appended under its seq.
void ExpectUnchanged(const std::vector<weir::v1::FlowBatch>& batches) {
  for (const auto& b : batches) {
    EXPECT_EQ(b.SerializeAsString(),
              TestBatch(kEpoch, b.seq()).SerializeAsString())
        << "seq " << b.seq();
  }
}

// `spool` replays the batches numbered `want`, in order and unchanged.
void ExpectReplays(Spool& spool, const std::vector<uint64_t>& want) {
  const std::vector<weir::v1::FlowBatch> pending = Replay(spool);
  EXPECT_EQ(Seqs(pending), want);
  ExpectUnchanged(pending);
}

class SpoolTest : public ::testing::Test {
 protected:
  SpoolOptions Options(const std::string& dir) {
    SpoolOptions options;
    options.directory = dir;
    options.segment_bytes = 1024;
    options.max_bytes = 1 << 20;
    options.max_age = absl::InfiniteDuration();
    options.clock = [this] { return now_; };
    return options;
  }

  // The options of a spool in `dir` with records 1 to `last` appended and
  // closed again, all in one segment and never fsynced: for the tests that
  // then damage that segment file.
  SpoolOptions WrittenSpool(const std::string& dir, uint64_t last) {
    SpoolOptions options = Options(dir);
    options.segment_bytes = 1 << 16;
    options.fsync = FsyncPolicy::kNever;
    AppendRange(*OpenOrDie(options), 1, last);
    return options;
  }

  std::unique_ptr<Spool> OpenOrDie(const SpoolOptions& options) {
    absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(options);
    EXPECT_TRUE(spool.ok()) << spool.status();
    return spool.ok() ? *std::move(spool) : nullptr;
  }

  // Appends TestBatch(kEpoch, seq) for seq in [first, last]; returns the
  // batches as appended (with what they carry).
  std::vector<weir::v1::FlowBatch> AppendRange(Spool& spool, uint64_t first,
                                               uint64_t last) {
    std::vector<weir::v1::FlowBatch> appended;
    for (uint64_t seq = first; seq <= last; ++seq) {
      weir::v1::FlowBatch batch = TestBatch(kEpoch, seq);
      absl::Status s = spool.Append(&batch);
      EXPECT_TRUE(s.ok()) << "seq " << seq << ": " << s;
      appended.push_back(batch);
    }
    return appended;
  }

  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(SpoolTest, AppendReplayAckRoundTrip) {
  const std::string dir = TestDir("round_trip");
  {
    std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
    ASSERT_NE(spool, nullptr);
    AppendRange(*spool, 1, 5);
    std::vector<BatchId> ids = spool->PendingIds();
    ASSERT_EQ(ids.size(), 5u);
    EXPECT_EQ(ids[0].seq, 1u);
    EXPECT_EQ(ids[4].seq, 5u);
    absl::StatusOr<size_t> acked = spool->Ack(kEpoch, 2);
    ASSERT_TRUE(acked.ok()) << acked.status();
    EXPECT_EQ(*acked, 2u);
    ExpectReplays(*spool, Range(3, 5));
    const SpoolStats stats = spool->stats();
    EXPECT_EQ(stats.appended_batches, 5u);
    EXPECT_EQ(stats.acked_batches, 2u);
    EXPECT_EQ(stats.pending_batches, 3u);
    EXPECT_EQ(stats.replayed_batches, 0u);
    EXPECT_EQ(stats.fsyncs, 5u);  // fsync=always by default
  }
  {
    std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
    ASSERT_NE(spool, nullptr);
    ExpectReplays(*spool, Range(3, 5));
    const SpoolStats stats = spool->stats();
    EXPECT_EQ(stats.replayed_batches, 3u);
    EXPECT_EQ(stats.torn_tails, 0u);
    EXPECT_EQ(stats.corrupted_records, 0u);
    absl::StatusOr<size_t> acked = spool->Ack(kEpoch, 5);
    ASSERT_TRUE(acked.ok());
    EXPECT_EQ(*acked, 3u);
  }
  std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
  ASSERT_NE(spool, nullptr);
  EXPECT_TRUE(Replay(*spool).empty());
  EXPECT_TRUE(SegmentFiles(dir).empty());
  EXPECT_EQ(spool->stats().bytes, 0u);
}

TEST_F(SpoolTest, ReopenKeepsOrderAcrossProcessesAndEpochs) {
  const std::string dir = TestDir("reopen");
  {
    std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
    AppendRange(*spool, 1, 3);
  }
  {
    std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
    EXPECT_EQ(spool->stats().replayed_batches, 3u);
    // A new process appends under its own epoch after the replayed ones.
    for (uint64_t seq = 1; seq <= 2; ++seq) {
      weir::v1::FlowBatch batch = TestBatch(kEpoch + 1, seq);
      ASSERT_TRUE(spool->Append(&batch).ok());
    }
  }
  std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
  std::vector<weir::v1::FlowBatch> pending = Replay(*spool);
  ASSERT_EQ(pending.size(), 5u);
  const std::vector<std::pair<uint64_t, uint64_t>> want = {
      {kEpoch, 1}, {kEpoch, 2}, {kEpoch, 3}, {kEpoch + 1, 1}, {kEpoch + 1, 2}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(pending[i].epoch(), want[i].first) << i;
    EXPECT_EQ(pending[i].seq(), want[i].second) << i;
  }
  // Acking the new epoch's last batch releases everything before it.
  absl::StatusOr<size_t> acked = spool->Ack(kEpoch + 1, 2);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(*acked, 5u);
}

TEST_F(SpoolTest, NewestKernelGenerationOutlivesItsAckUntilTheNextOpen) {
  const std::string dir = TestDir("kernel_generation");
  {
    std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
    ASSERT_NE(spool, nullptr);
    EXPECT_EQ(spool->newest_kernel_generation(), std::nullopt);
    for (uint64_t seq = 1; seq <= 3; ++seq) {
      weir::v1::FlowBatch batch = TestBatch(kEpoch, seq);
      batch.set_kernel_generation(static_cast<uint32_t>(40 + seq));
      ASSERT_TRUE(spool->Append(&batch).ok());
    }
    EXPECT_EQ(spool->newest_kernel_generation(), 43u);
    // Acknowledged: released, but the active segment keeps the record.
    ASSERT_TRUE(spool->Ack(kEpoch, 3).ok());
  }  // the process dies here, before clearing its kernel slot
  {
    std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
    ASSERT_NE(spool, nullptr);
    EXPECT_EQ(spool->stats().replayed_batches, 0u);
    EXPECT_EQ(spool->newest_kernel_generation(), 43u);
    // A batch without one (an older collector's) says nothing.
    weir::v1::FlowBatch batch = TestBatch(kEpoch + 1, 1);
    ASSERT_TRUE(spool->Append(&batch).ok());
    EXPECT_EQ(spool->newest_kernel_generation(), std::nullopt);
  }
  std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->newest_kernel_generation(), std::nullopt);
}

TEST_F(SpoolTest, AckOfUnknownBatchReleasesNothing) {
  const std::string dir = TestDir("unknown_ack");
  std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
  AppendRange(*spool, 1, 3);
  for (auto [epoch, seq] : std::vector<std::pair<uint64_t, uint64_t>>{
           {kEpoch, 9}, {kEpoch + 1, 2}, {0, 0}}) {
    absl::StatusOr<size_t> acked = spool->Ack(epoch, seq);
    ASSERT_TRUE(acked.ok());
    EXPECT_EQ(*acked, 0u);
  }
  EXPECT_EQ(spool->PendingIds().size(), 3u);
  ASSERT_TRUE(spool->Ack(kEpoch, 2).ok());
  EXPECT_EQ(*spool->Ack(kEpoch, 2), 0u);  // already released
  EXPECT_EQ(spool->PendingIds().size(), 1u);
}

TEST_F(SpoolTest, OneSpoolPerDirectory) {
  const std::string dir = TestDir("lock");
  std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
  absl::StatusOr<std::unique_ptr<Spool>> second = Spool::Open(Options(dir));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  spool.reset();
  EXPECT_TRUE(Spool::Open(Options(dir)).ok());
}

TEST_F(SpoolTest, RefusesBadOptions) {
  SpoolOptions options = Options(TestDir("options"));
  options.max_bytes = options.segment_bytes;  // not two segments
  EXPECT_EQ(Spool::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Options(TestDir("options"));
  options.directory.clear();
  EXPECT_EQ(Spool::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Options(TestDir("options"));
  options.max_age = absl::ZeroDuration();
  EXPECT_EQ(Spool::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseFsyncPolicy("sometimes").status().code(),
            absl::StatusCode::kInvalidArgument);
  for (FsyncPolicy p :
       {FsyncPolicy::kAlways, FsyncPolicy::kInterval, FsyncPolicy::kNever}) {
    EXPECT_EQ(*ParseFsyncPolicy(FsyncPolicyName(p)), p);
  }
}

TEST_F(SpoolTest, FsyncPolicies) {
  for (FsyncPolicy policy :
       {FsyncPolicy::kAlways, FsyncPolicy::kInterval, FsyncPolicy::kNever}) {
    SCOPED_TRACE(FsyncPolicyName(policy));
    SpoolOptions options =
        Options(TestDir(absl::StrCat("fsync_", FsyncPolicyName(policy))));
    options.segment_bytes = 1 << 16;
    options.fsync = policy;
    options.fsync_interval = absl::Seconds(1);
    std::unique_ptr<Spool> spool = OpenOrDie(options);
    AppendRange(*spool, 1, 5);  // all at one instant
    now_ += absl::Milliseconds(999);
    AppendRange(*spool, 6, 6);
    now_ += absl::Milliseconds(1);
    AppendRange(*spool, 7, 10);
    const uint64_t want = policy == FsyncPolicy::kAlways     ? 10
                          : policy == FsyncPolicy::kInterval ? 2
                                                             : 0;
    EXPECT_EQ(spool->stats().fsyncs, want);
    ASSERT_TRUE(spool->Sync().ok());
    // An explicit Sync writes back whatever is unsynced, whatever the policy.
    EXPECT_EQ(spool->stats().fsyncs,
              want + (policy == FsyncPolicy::kAlways ? 0 : 1));
  }
}

// A crash while the last record was being written leaves a prefix of it:
// cut at every byte of the last record, the spool gives back the records
// before it, counts one torn tail, and goes on appending after them.
TEST_F(SpoolTest, TornTailAtEveryByteOfTheLastRecord) {
  const std::string dir = TestDir("torn_source");
  SpoolOptions options = WrittenSpool(dir, 4);
  std::vector<std::string> files = SegmentFiles(dir);
  ASSERT_EQ(files.size(), 1u);
  const std::string whole = ReadFile(files[0]);
  const size_t last_bytes = kHeaderBytes + TestBatch(kEpoch, 4).ByteSizeLong();
  ASSERT_GT(whole.size(), last_bytes);
  const size_t last_start = whole.size() - last_bytes;

  const std::string copy = TestDir("torn");
  for (size_t cut = 0; cut < last_bytes; ++cut) {
    SCOPED_TRACE(absl::StrCat("cut after ", cut, " bytes of the last record"));
    CopyDir(dir, copy);
    const std::string segment = absl::StrCat(copy, files[0].substr(dir.size()));
    WriteFile(segment, whole.substr(0, last_start + cut));
    options.directory = copy;
    {
      std::unique_ptr<Spool> spool = OpenOrDie(options);
      ASSERT_NE(spool, nullptr);
      EXPECT_EQ(Seqs(Replay(*spool)), Range(1, 3));
      const SpoolStats stats = spool->stats();
      EXPECT_EQ(stats.torn_tails, cut > 0 ? 1u : 0u);
      EXPECT_EQ(stats.torn_bytes, cut);
      EXPECT_EQ(stats.corrupted_records, 0u);
      EXPECT_EQ(stats.corrupted_bytes, 0u);
      EXPECT_EQ(ReadFile(segment).size(), last_start);  // cut off
      AppendRange(*spool, 4, 4);
    }
    std::unique_ptr<Spool> spool = OpenOrDie(options);
    EXPECT_EQ(Seqs(Replay(*spool)), Range(1, 4));
    EXPECT_EQ(spool->stats().torn_tails, 0u);
  }
}

// Bytes changed anywhere: every intact record comes back exactly once, and
// every damaged one is counted, as corrupted or -- at the very end of the
// last segment -- as the torn tail.
TEST_F(SpoolTest, FlippedBytesAtRandomOffsets) {
  const std::string dir = TestDir("flip_source");
  SpoolOptions options = Options(dir);
  options.segment_bytes = 1024;
  options.fsync = FsyncPolicy::kNever;
  constexpr uint64_t kRecords = 30;
  {
    std::unique_ptr<Spool> spool = OpenOrDie(options);
    AppendRange(*spool, 1, kRecords);
  }
  // Where each record lies, from the intact files' length fields.
  struct Place {
    size_t file;
    size_t begin;
    size_t end;
  };
  const std::vector<std::string> files = SegmentFiles(dir);
  ASSERT_GE(files.size(), 4u);
  std::vector<std::string> contents;
  std::vector<Place> places;  // places[seq - 1]
  for (size_t f = 0; f < files.size(); ++f) {
    contents.push_back(ReadFile(files[f]));
    const std::string& data = contents.back();
    for (size_t pos = 0; pos < data.size();) {
      uint32_t length;
      std::memcpy(&length, data.data() + pos + 4, 4);
      places.push_back(Place{f, pos, pos + kHeaderBytes + length});
      pos = places.back().end;
    }
  }
  ASSERT_EQ(places.size(), kRecords);

  std::mt19937_64 random(20261207);
  const std::string copy = TestDir("flip");
  for (int trial = 0; trial < 150; ++trial) {
    std::vector<std::string> damaged = contents;
    std::set<uint64_t> hit;  // seqs
    const int flips = 1 + static_cast<int>(random() % 3);
    for (int i = 0; i < flips; ++i) {
      const uint64_t seq = 1 + random() % kRecords;
      const Place& p = places[seq - 1];
      const size_t offset = p.begin + random() % (p.end - p.begin);
      damaged[p.file][offset] ^= static_cast<char>(1 + random() % 255);
      hit.insert(seq);
    }
    SCOPED_TRACE(absl::StrCat("trial ", trial, ", ", flips, " flips"));
    CopyDir(dir, copy);
    for (size_t f = 0; f < files.size(); ++f) {
      WriteFile(absl::StrCat(copy, files[f].substr(dir.size())), damaged[f]);
    }
    // Damaged records that end the last segment form the torn tail.
    uint64_t tail = 0;
    for (uint64_t seq = kRecords;
         seq >= 1 && hit.count(seq) && places[seq - 1].file == files.size() - 1;
         --seq) {
      ++tail;
    }
    std::vector<uint64_t> intact;
    for (uint64_t seq = 1; seq <= kRecords; ++seq) {
      if (!hit.count(seq)) intact.push_back(seq);
    }
    options.directory = copy;
    std::unique_ptr<Spool> spool = OpenOrDie(options);
    ASSERT_NE(spool, nullptr);
    EXPECT_EQ(Seqs(Replay(*spool)), intact);
    const SpoolStats stats = spool->stats();
    EXPECT_EQ(stats.replayed_batches, intact.size());
    EXPECT_EQ(stats.torn_tails, tail > 0 ? 1u : 0u);
    EXPECT_EQ(stats.corrupted_records, hit.size() - tail);
    // Damage never stops the spool from taking more.
    weir::v1::FlowBatch next = TestBatch(kEpoch, kRecords + 1);
    EXPECT_TRUE(spool->Append(&next).ok());
  }
}

// A block of zeros over several records in the middle: the records it
// touched are counted from the gap in indices, the others come back.
TEST_F(SpoolTest, ZeroedBlockCountsEveryRecordItTouched) {
  const std::string dir = TestDir("zeroed");
  const SpoolOptions options = WrittenSpool(dir, 10);
  const std::vector<std::string> files = SegmentFiles(dir);
  ASSERT_EQ(files.size(), 1u);
  std::string data = ReadFile(files[0]);
  // From the middle of record 3 to the middle of record 6.
  std::vector<size_t> starts;
  for (size_t pos = 0; pos < data.size();) {
    starts.push_back(pos);
    uint32_t length;
    std::memcpy(&length, data.data() + pos + 4, 4);
    pos += kHeaderBytes + length;
  }
  ASSERT_EQ(starts.size(), 10u);
  const size_t begin = starts[2] + 10;
  const size_t end = starts[5] + 10;
  std::fill(data.begin() + begin, data.begin() + end, '\0');
  WriteFile(files[0], data);
  std::unique_ptr<Spool> spool = OpenOrDie(options);
  EXPECT_EQ(Seqs(Replay(*spool)), (std::vector<uint64_t>{1, 2, 7, 8, 9, 10}));
  EXPECT_EQ(spool->stats().corrupted_records, 4u);
  EXPECT_EQ(spool->stats().corrupted_bytes, starts[6] - starts[2]);
  EXPECT_EQ(spool->stats().torn_tails, 0u);
}

// Segment files of hostile bytes -- random noise, and records whose headers
// are valid but lie about the payload -- are skipped and never crash.
TEST_F(SpoolTest, HostileSegmentFilesAreSkipped) {
  const std::string dir = TestDir("hostile");
  SpoolOptions options = Options(dir);
  {
    std::unique_ptr<Spool> spool = OpenOrDie(options);
    AppendRange(*spool, 1, 2);
  }
  std::mt19937_64 random(7);
  std::string noise(5000, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  // The magic with a huge length, many times over.
  for (size_t at = 100; at + 8 < noise.size(); at += 700) {
    std::memcpy(noise.data() + at, "WSR1\xff\xff\xff\x7f", 8);
  }
  WriteFile(absl::StrCat(dir, "/00000000000000000100.wspool"), noise);
  WriteFile(absl::StrCat(dir, "/00000000000000000200.wspool"), "WSR1");
  WriteFile(absl::StrCat(dir, "/not-a-segment.wspool"), noise);
  WriteFile(absl::StrCat(dir, "/ACKED"), noise.substr(0, 24));
  std::unique_ptr<Spool> spool = OpenOrDie(options);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(Seqs(Replay(*spool)), Range(1, 2));
  EXPECT_EQ(spool->stats().torn_tails, 1u);  // the 4 bytes ending it all
  EXPECT_GT(spool->stats().corrupted_bytes, 0u);
  AppendRange(*spool, 3, 3);
  spool.reset();
  spool = OpenOrDie(options);
  EXPECT_EQ(Seqs(Replay(*spool)), Range(1, 3));
}

// The drain appends while the shipper's ack reader acknowledges.
TEST_F(SpoolTest, AppendAndAckFromTwoThreads) {
  const std::string dir = TestDir("threads");
  SpoolOptions options = Options(dir);
  options.segment_bytes = 2048;
  options.fsync = FsyncPolicy::kNever;
  std::unique_ptr<Spool> spool = OpenOrDie(options);
  constexpr uint64_t kRecords = 300;
  std::atomic<bool> done{false};
  std::thread acker([&] {
    while (!done.load()) {
      const std::vector<BatchId> ids = spool->PendingIds();
      if (!ids.empty()) {
        absl::StatusOr<size_t> acked =
            spool->Ack(ids.back().epoch, ids.back().seq);
        EXPECT_TRUE(acked.ok()) << acked.status();
      }
    }
  });
  AppendRange(*spool, 1, kRecords);
  done = true;
  acker.join();
  const std::vector<BatchId> ids = spool->PendingIds();
  if (!ids.empty()) ASSERT_TRUE(spool->Ack(kEpoch, kRecords).ok());
  const SpoolStats stats = spool->stats();
  EXPECT_EQ(stats.acked_batches, kRecords);
  EXPECT_EQ(stats.pending_batches, 0u);
  EXPECT_EQ(stats.pending_bytes, 0u);
  EXPECT_LE(stats.segments, 1u);
}

// Past max_bytes the oldest segments go; their traffic rides on the batch
// appended, so what is left reconciles exactly with everything appended.
TEST_F(SpoolTest, BoundByBytesCarriesDroppedTrafficAsSpoolFull) {
  const std::string dir = TestDir("bytes");
  SpoolOptions options = Options(dir);
  options.segment_bytes = 1024;
  options.max_bytes = 3072;
  constexpr uint64_t kRecords = 60;
  std::vector<weir::v1::FlowBatch> originals;
  std::vector<BatchId> dropped;
  {
    std::unique_ptr<Spool> spool = OpenOrDie(options);
    for (uint64_t seq = 1; seq <= kRecords; ++seq) {
      originals.push_back(TestBatch(kEpoch, seq));
      weir::v1::FlowBatch batch = originals.back();
      std::vector<BatchId> now_dropped;
      ASSERT_TRUE(spool->Append(&batch, &now_dropped).ok()) << seq;
      // The appended batch carries exactly the exported traffic dropped now,
      // on top of whatever dropped batches themselves carried.
      uint64_t carried = 0;
      for (const BatchId& id : now_dropped) carried += id.seq * 3;
      EXPECT_GE(Loss(batch.counters(), weir::v1::LOSS_REASON_SPOOL_FULL),
                carried);
      dropped.insert(dropped.end(), now_dropped.begin(), now_dropped.end());
      EXPECT_LE(spool->stats().bytes, options.max_bytes) << seq;
      uint64_t on_disk = 0;
      for (const std::string& f : SegmentFiles(dir)) {
        on_disk += ReadFile(f).size();
      }
      EXPECT_LE(on_disk, options.max_bytes) << seq;
    }
    const SpoolStats stats = spool->stats();
    EXPECT_EQ(stats.spool_full_batches, dropped.size());
    EXPECT_GT(dropped.size(), 0u);
  }
  std::unique_ptr<Spool> spool = OpenOrDie(options);
  const std::vector<weir::v1::FlowBatch> pending = Replay(*spool);

  // Dropped and pending together are every batch, in order, once.
  std::vector<uint64_t> seqs;
  seqs.reserve(dropped.size() + pending.size());
  for (const BatchId& id : dropped) seqs.push_back(id.seq);
  for (uint64_t seq : Seqs(pending)) seqs.push_back(seq);
  EXPECT_EQ(seqs, Range(1, kRecords));

  const Totals all = Sum(originals);
  const Totals left = Sum(pending);
  uint64_t dropped_packets = 0;
  uint64_t dropped_bytes = 0;
  for (const BatchId& id : dropped) {
    dropped_packets += originals[id.seq - 1].counters().packets_exported();
    dropped_bytes += originals[id.seq - 1].counters().bytes_exported();
  }
  EXPECT_EQ(left.packets_seen, all.packets_seen);
  EXPECT_EQ(left.bytes_seen, all.bytes_seen);
  EXPECT_EQ(left.packets_exported + dropped_packets, all.packets_exported);
  EXPECT_EQ(left.spool_full_packets, dropped_packets);
  EXPECT_EQ(left.spool_full_bytes, dropped_bytes);
  ExpectEachReconciles(pending);
}

TEST_F(SpoolTest, BoundByAgeCarriesDroppedTrafficAsSpoolFull) {
  const std::string dir = TestDir("age");
  SpoolOptions options = Options(dir);
  options.segment_bytes = 1024;  // 5 test batches
  options.max_age = absl::Seconds(10);
  std::unique_ptr<Spool> spool = OpenOrDie(options);
  std::vector<weir::v1::FlowBatch> originals;
  std::vector<BatchId> dropped;
  const absl::Time start = now_;
  auto append = [&](uint64_t seq) {
    originals.push_back(TestBatch(kEpoch, seq));
    weir::v1::FlowBatch batch = originals.back();
    const size_t before = dropped.size();
    ASSERT_TRUE(spool->Append(&batch, &dropped).ok());
    // Nothing younger than max_age goes.
    for (size_t i = before; i < dropped.size(); ++i) {
      const absl::Time appended =
          start + absl::Seconds(static_cast<int64_t>(dropped[i].seq) - 1);
      EXPECT_GT(now_ - appended, options.max_age) << dropped[i].seq;
    }
  };
  for (uint64_t seq = 1; seq <= 40; ++seq) {
    append(seq);
    // Nothing outlives max_age by more than the span of one segment.
    EXPECT_LE(spool->stats().oldest_pending_age, absl::Seconds(10 + 5));
    now_ += absl::Seconds(1);
  }
  EXPECT_GT(dropped.size(), 0u);
  // After an hour of silence, everything before is past max_age.
  now_ += absl::Hours(1);
  append(41);
  EXPECT_EQ(spool->PendingIds().size(), 1u);
  EXPECT_EQ(dropped.size(), 40u);
  const std::vector<weir::v1::FlowBatch> pending = Replay(*spool);
  const Totals all = Sum(originals);
  const Totals left = Sum(pending);
  EXPECT_EQ(left.packets_seen, all.packets_seen);
  EXPECT_EQ(left.bytes_seen, all.bytes_seen);
  EXPECT_EQ(left.spool_full_packets,
            all.packets_exported - left.packets_exported);
  EXPECT_EQ(left.spool_full_bytes, all.bytes_exported - left.bytes_exported);
  EXPECT_EQ(spool->stats().spool_full_packets,
            all.packets_exported - left.packets_exported);
  ExpectEachReconciles(pending);
}

TEST_F(SpoolTest, BatchLargerThanTheBoundIsRefusedAndCarried) {
  const std::string dir = TestDir("too_big");
  SpoolOptions options = Options(dir);
  options.segment_bytes = 1024;
  options.max_bytes = 2048;
  std::unique_ptr<Spool> spool = OpenOrDie(options);
  AppendRange(*spool, 1, 2);
  const weir::v1::FlowBatch big = TestBatch(kEpoch, 3, /*flows=*/200);
  weir::v1::FlowBatch batch = big;
  absl::Status s = spool->Append(&batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(batch.SerializeAsString(), big.SerializeAsString());
  EXPECT_EQ(Seqs(Replay(*spool)), Range(1, 2));  // nothing dropped for it
  SpoolStats stats = spool->stats();
  EXPECT_EQ(stats.spool_full_batches, 1u);
  EXPECT_EQ(stats.spool_full_packets, big.counters().packets_exported());
  EXPECT_EQ(stats.carried_packets_seen, big.counters().packets_seen());

  weir::v1::FlowBatch next = TestBatch(kEpoch, 4);
  ASSERT_TRUE(spool->Append(&next).ok());
  const weir::v1::FlowBatch plain = TestBatch(kEpoch, 4);
  EXPECT_EQ(next.counters().packets_seen(),
            plain.counters().packets_seen() + big.counters().packets_seen());
  EXPECT_EQ(next.counters().packets_exported(),
            plain.counters().packets_exported());
  EXPECT_EQ(Loss(next.counters(), weir::v1::LOSS_REASON_SPOOL_FULL),
            big.counters().packets_exported());
  EXPECT_EQ(LossBytes(next.counters(), weir::v1::LOSS_REASON_SPOOL_FULL),
            big.counters().bytes_exported());
  EXPECT_EQ(Loss(next.counters(), weir::v1::LOSS_REASON_NON_IP),
            Loss(plain.counters(), weir::v1::LOSS_REASON_NON_IP) +
                Loss(big.counters(), weir::v1::LOSS_REASON_NON_IP));
  EXPECT_EQ(spool->stats().carried_packets_seen, 0u);
  ExpectEachReconciles({next});
}

TEST_F(SpoolTest, ManySegmentsTrimmedOnAck) {
  const std::string dir = TestDir("trim");
  SpoolOptions options = Options(dir);
  options.segment_bytes = 512;  // two test batches per segment
  constexpr uint64_t kRecords = 60;
  {
    std::unique_ptr<Spool> spool = OpenOrDie(options);
    AppendRange(*spool, 1, kRecords);
    const size_t all_files = SegmentFiles(dir).size();
    EXPECT_GE(all_files, kRecords / 3);
    EXPECT_EQ(spool->stats().segments, all_files);
    size_t files = all_files;
    for (uint64_t seq = 5; seq <= 41; seq += 4) {
      ASSERT_TRUE(spool->Ack(kEpoch, seq).ok());
      const size_t now_files = SegmentFiles(dir).size();
      EXPECT_LT(now_files, files) << seq;
      files = now_files;
      EXPECT_EQ(spool->stats().segments, files);
      // At most the segment holding the oldest pending batch also holds
      // acknowledged ones.
      EXPECT_LE(files, (kRecords - seq) / 2 + 2) << seq;
    }
  }
  // The ACKED file is only an optimisation: without it a restart resends
  // the acknowledged batches of one segment at most.
  ASSERT_EQ(unlink(absl::StrCat(dir, "/ACKED").c_str()), 0);
  {
    std::unique_ptr<Spool> spool = OpenOrDie(options);
    const std::vector<uint64_t> seqs = Seqs(Replay(*spool));
    ASSERT_FALSE(seqs.empty());
    EXPECT_LE(seqs.front(), 42u);
    EXPECT_GE(seqs.front(), 42u - 2);
    EXPECT_EQ(seqs, Range(seqs.front(), kRecords));
    ASSERT_TRUE(spool->Ack(kEpoch, kRecords).ok());
    EXPECT_EQ(SegmentFiles(dir).size(), 0u);  // nothing active yet
  }
  std::unique_ptr<Spool> spool = OpenOrDie(options);
  EXPECT_TRUE(Replay(*spool).empty());
}

TEST_F(SpoolTest, ProductionBuildIgnoresFaultEnvironment) {
  // This test links the production spool, which has no crash points.
  ASSERT_EQ(setenv("WEIR_FAULT", "spool.before_write", 1), 0);
  const std::string dir = TestDir("no_faults");
  std::unique_ptr<Spool> spool = OpenOrDie(Options(dir));
  AppendRange(*spool, 1, 3);
  EXPECT_EQ(spool->PendingIds().size(), 3u);
  unsetenv("WEIR_FAULT");
}

// The spool's own file system fills up: the batch is refused with
// RESOURCE_EXHAUSTED, leaves no partial record, and its traffic is carried
// into the next batch the spool can take.
TEST_F(SpoolTest, DiskFull) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  // A private mount namespace for this test process only.
  ASSERT_EQ(unshare(CLONE_NEWNS), 0) << std::strerror(errno);
  ASSERT_EQ(mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0)
      << std::strerror(errno);
  const std::string dir = TestDir("disk_full");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(mount("weir-spool-test", dir.c_str(), "tmpfs", 0, "size=32k"), 0)
      << std::strerror(errno);
  struct Unmount {
    std::string dir;
    ~Unmount() { umount2(dir.c_str(), MNT_DETACH); }
  } unmount{dir};

  SpoolOptions options = Options(dir);
  options.segment_bytes = 4096;
  options.max_bytes = 1 << 20;  // the disk fills first
  std::unique_ptr<Spool> spool = OpenOrDie(options);
  std::vector<weir::v1::FlowBatch> appended;
  std::vector<weir::v1::FlowBatch> refused;
  uint64_t seq = 1;
  for (; seq <= 1000 && refused.size() < 3; ++seq) {
    weir::v1::FlowBatch batch = TestBatch(kEpoch, seq);
    absl::Status s = spool->Append(&batch);
    if (s.ok()) {
      ASSERT_TRUE(refused.empty()) << "appended after a refusal, seq " << seq;
      appended.push_back(batch);
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
      refused.push_back(batch);
    }
  }
  ASSERT_EQ(refused.size(), 3u);
  ASSERT_GT(appended.size(), 10u);
  SpoolStats stats = spool->stats();
  EXPECT_EQ(stats.refused_batches, 3u);
  EXPECT_EQ(stats.spool_full_batches, 3u);
  EXPECT_EQ(stats.spool_full_packets, Sum(refused).packets_exported);
  EXPECT_EQ(Seqs(Replay(*spool)), Seqs(appended));

  // queryd acknowledges everything: whole segments go, room comes back.
  ASSERT_TRUE(spool->Ack(kEpoch, appended.back().seq()).ok());
  weir::v1::FlowBatch next = TestBatch(kEpoch, seq);
  const weir::v1::FlowBatch plain = next;
  ASSERT_TRUE(spool->Append(&next).ok());
  const Totals carried = Sum(refused);
  EXPECT_EQ(next.counters().packets_seen(),
            plain.counters().packets_seen() + carried.packets_seen);
  EXPECT_EQ(Loss(next.counters(), weir::v1::LOSS_REASON_SPOOL_FULL),
            carried.packets_exported);
  EXPECT_EQ(LossBytes(next.counters(), weir::v1::LOSS_REASON_SPOOL_FULL),
            carried.bytes_exported);
  ExpectEachReconciles({next});
  spool.reset();
  // No refused record left a trace: reopening finds no damage.
  spool = OpenOrDie(options);
  EXPECT_EQ(Seqs(Replay(*spool)), std::vector<uint64_t>{seq});
  EXPECT_EQ(spool->stats().torn_tails, 0u);
  EXPECT_EQ(spool->stats().corrupted_records, 0u);
  EXPECT_EQ(spool->stats().corrupted_bytes, 0u);
}

// A child process appends through the fault-injection build of the spool
// and aborts at a named step; the parent reopens the spool and checks
// exactly which batches come back.
class SpoolCrashTest : public SpoolTest {
 protected:
  // Runs spool_crash_child with WEIR_FAULT=fault; returns its wait status.
  int RunChild(const std::string& fault, const std::string& dir, uint64_t first,
               uint64_t count, uint64_t segment_bytes, uint64_t max_bytes,
               uint64_t ack_seq) {
    const std::string child = absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                                           std::getenv("TEST_WORKSPACE"),
                                           "/collector/spool_crash_child");
    std::vector<std::string> args = {child,
                                     dir,
                                     absl::StrCat(first),
                                     absl::StrCat(count),
                                     absl::StrCat(segment_bytes),
                                     absl::StrCat(max_bytes),
                                     absl::StrCat(ack_seq)};
    const std::string env = absl::StrCat("WEIR_FAULT=", fault);
    const pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> argv;
      argv.reserve(args.size() + 1);
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      char* envp[] = {const_cast<char*>(env.c_str()), nullptr};
      execve(child.c_str(), argv.data(), envp);
      _exit(127);
    }
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return status;
  }

  static bool Aborted(int status) {
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  }
};

TEST_F(SpoolCrashTest, CrashAtEachStepOfAnAppend) {
  struct Case {
    std::string fault;
    uint64_t segment_bytes;
    std::vector<uint64_t> want;
    uint64_t torn;
  };
  // The 4th append of 6 dies at each step; segments of 256 bytes hold one
  // test batch, so every append also starts a segment.
  const std::vector<Case> cases = {
      {"spool.before_write@4", 1 << 16, Range(1, 3), 0},
      {"spool.mid_record@4", 1 << 16, Range(1, 3), 1},
      {"spool.after_write_before_fsync@4", 1 << 16, Range(1, 4), 0},
      {"spool.after_fsync@4", 1 << 16, Range(1, 4), 0},
      {"spool.after_segment_create@4", 256, Range(1, 3), 0},
      {"spool.mid_record@4", 256, Range(1, 3), 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.fault, ", segments of ", c.segment_bytes));
    const std::string dir = TestDir("crash");
    const int status =
        RunChild(c.fault, dir, 1, 6, c.segment_bytes, 1 << 20, 0);
    ASSERT_TRUE(Aborted(status)) << "wait status " << status;
    SpoolOptions options = Options(dir);
    options.segment_bytes = c.segment_bytes;
    {
      std::unique_ptr<Spool> spool = OpenOrDie(options);
      ASSERT_NE(spool, nullptr);
      ExpectReplays(*spool, c.want);
      EXPECT_EQ(spool->stats().torn_tails, c.torn);
      EXPECT_EQ(spool->stats().corrupted_records, 0u);
      // The next process goes on where the crash left off.
      AppendRange(*spool, c.want.back() + 1, 6);
    }
    // ... and what a later child appends follows in order.
    ASSERT_EQ(RunChild("", dir, 7, 2, c.segment_bytes, 1 << 20, 0), 0);
    std::unique_ptr<Spool> spool = OpenOrDie(options);
    EXPECT_EQ(Seqs(Replay(*spool)), Range(1, 8));
    EXPECT_EQ(spool->stats().torn_tails, 0u);
  }
}

TEST_F(SpoolCrashTest, CrashBetweenAckFileAndSegmentDeletion) {
  const std::string dir = TestDir("crash_ack");
  const int status = RunChild("spool.ack_after_ack_file_before_unlink", dir, 1,
                              6, 256, 1 << 20, /*ack_seq=*/4);
  ASSERT_TRUE(Aborted(status)) << "wait status " << status;
  EXPECT_EQ(SegmentFiles(dir).size(), 6u);  // none deleted yet
  SpoolOptions options = Options(dir);
  options.segment_bytes = 256;
  std::unique_ptr<Spool> spool = OpenOrDie(options);
  EXPECT_EQ(Seqs(Replay(*spool)), Range(5, 6));
  EXPECT_EQ(SegmentFiles(dir).size(), 2u);  // the acknowledged ones went
}

// Dropping at the bound and carrying the dropped traffic are one step: a
// crash after the carrying record is written but before the dropped
// segments are deleted comes back exactly as if the deletion had happened.
TEST_F(SpoolCrashTest, CrashBetweenCarryingRecordAndDrop) {
  constexpr uint64_t kSegment = 256;       // one test batch each
  constexpr uint64_t kMax = 3 * kSegment;  // the 5th append drops the 1st
  // The same appends without a crash, for what must come back.
  const std::string reference = TestDir("drop_reference");
  ASSERT_EQ(RunChild("", reference, 1, 5, kSegment, kMax, 0), 0);
  SpoolOptions options = Options(reference);
  options.segment_bytes = kSegment;
  options.max_bytes = kMax;
  std::vector<weir::v1::FlowBatch> want;
  {
    std::unique_ptr<Spool> spool = OpenOrDie(options);
    want = Replay(*spool);
  }
  ASSERT_EQ(Seqs(want), Range(2, 5));  // the 5th append dropped the 1st

  const std::string dir = TestDir("crash_drop");
  const int status = RunChild("spool.drop_after_write_before_unlink", dir, 1, 5,
                              kSegment, kMax, 0);
  ASSERT_TRUE(Aborted(status)) << "wait status " << status;
  EXPECT_EQ(SegmentFiles(dir).size(), 5u);  // the dropped one is still there
  options.directory = dir;
  std::unique_ptr<Spool> spool = OpenOrDie(options);
  const std::vector<weir::v1::FlowBatch> got = Replay(*spool);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].SerializeAsString(), want[i].SerializeAsString()) << i;
  }
  std::vector<weir::v1::FlowBatch> originals;
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    originals.push_back(TestBatch(kEpoch, seq));
  }
  EXPECT_EQ(Sum(got).packets_seen, Sum(originals).packets_seen);
  EXPECT_EQ(SegmentFiles(dir).size(), want.size());
}

}  // namespace
}  // namespace weir::collector
