// Crash child of spool_test: opens the spool in DIRECTORY, appends batches
// (epoch 7, seq FIRST .. FIRST+COUNT-1), then acknowledges through ACK_SEQ
// when it is not 0, and exits 0 -- unless the crash point named by WEIR_FAULT
// aborts it first, which is the point.
//
//   spool_crash_child DIRECTORY FIRST COUNT SEGMENT_BYTES MAX_BYTES ACK_SEQ
#include <cstdint>
#include <cstdio>
#include <memory>

#include "absl/strings/numbers.h"
#include "collector/spool.h"
#include "collector/spool_test_batches.h"

int main(int argc, char** argv) {
  uint64_t first, count, segment_bytes, max_bytes, ack_seq;
  if (argc != 7 || !absl::SimpleAtoi(argv[2], &first) ||
      !absl::SimpleAtoi(argv[3], &count) ||
      !absl::SimpleAtoi(argv[4], &segment_bytes) ||
      !absl::SimpleAtoi(argv[5], &max_bytes) ||
      !absl::SimpleAtoi(argv[6], &ack_seq)) {
    std::fprintf(stderr,
                 "usage: %s DIRECTORY FIRST COUNT SEGMENT_BYTES MAX_BYTES "
                 "ACK_SEQ\n",
                 argv[0]);
    return 2;
  }
  weir::collector::SpoolOptions options;
  options.directory = argv[1];
  options.segment_bytes = segment_bytes;
  options.max_bytes = max_bytes;
  absl::StatusOr<std::unique_ptr<weir::collector::Spool>> spool =
      weir::collector::Spool::Open(options);
  if (!spool.ok()) {
    std::fprintf(stderr, "%s\n", spool.status().ToString().c_str());
    return 3;
  }
  for (uint64_t seq = first; seq < first + count; ++seq) {
    weir::v1::FlowBatch batch = weir::collector::testing::TestBatch(7, seq);
    if (absl::Status s = (*spool)->Append(&batch); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 3;
    }
  }
  if (ack_seq != 0) {
    if (absl::StatusOr<size_t> acked = (*spool)->Ack(7, ack_seq);
        !acked.ok() || *acked == 0) {
      std::fprintf(stderr, "ack of %llu failed\n",
                   static_cast<unsigned long long>(ack_seq));
      return 3;
    }
  }
  return 0;
}
