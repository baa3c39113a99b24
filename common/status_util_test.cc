#include "common/status_util.h"

#include <cerrno>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "gtest/gtest.h"

namespace weir {
namespace {

TEST(LibbpfErrorToStatusTest, NonNegativeIsOk) {
  EXPECT_TRUE(LibbpfErrorToStatus(0, "loading BPF object").ok());
  // libbpf returns file descriptors and counts on success.
  EXPECT_TRUE(LibbpfErrorToStatus(7, "creating map").ok());
}

TEST(LibbpfFailureTest, IsNeverOkAndTakesErrnoOfEitherSign) {
  const absl::Status from_return =
      LibbpfFailure(-ENOENT, "weir_flows_1: open pin");
  EXPECT_EQ(from_return.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(from_return.message(),
            "weir_flows_1: open pin: No such file or directory");
  // errno itself, as after a call that returns NULL.
  EXPECT_EQ(LibbpfFailure(EPERM, "open").code(),
            absl::StatusCode::kPermissionDenied);
  // A failure path never turns into success.
  const absl::Status zero = LibbpfFailure(0, "count possible CPUs");
  EXPECT_EQ(zero.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(zero.message(),
            "count possible CPUs: unexpected libbpf return value 0");
  EXPECT_EQ(LibbpfFailure(-5000, "x").code(), absl::StatusCode::kUnknown);
}

TEST(LibbpfErrorToStatusTest, MapsErrnoToCanonicalCode) {
  const struct {
    int err;
    absl::StatusCode code;
  } kCases[] = {
      {-EPERM, absl::StatusCode::kPermissionDenied},
      {-EACCES, absl::StatusCode::kPermissionDenied},
      {-ENOENT, absl::StatusCode::kNotFound},
      {-EINVAL, absl::StatusCode::kInvalidArgument},
      {-EEXIST, absl::StatusCode::kAlreadyExists},
      {-E2BIG, absl::StatusCode::kInvalidArgument},
      {-ENOMEM, absl::StatusCode::kResourceExhausted},
      {-ENOSPC, absl::StatusCode::kResourceExhausted},
      {-EBUSY, absl::StatusCode::kFailedPrecondition},
      {-EAGAIN, absl::StatusCode::kUnavailable},
      {-EOPNOTSUPP, absl::StatusCode::kUnimplemented},
      {-ENOSYS, absl::StatusCode::kUnimplemented},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(LibbpfErrorToStatus(c.err, "x").code(), c.code) << c.err;
  }
}

TEST(LibbpfErrorToStatusTest, MessageNamesWhatAndStrerror) {
  const absl::Status status = LibbpfErrorToStatus(-EPERM, "loading BPF object");
  EXPECT_EQ(status.message(), "loading BPF object: Operation not permitted");
}

TEST(LibbpfErrorToStatusTest, LibbpfOwnCodeIsUnknown) {
  // -LIBBPF_ERRNO__VERIFY.
  const absl::Status status = LibbpfErrorToStatus(-4007, "loading");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(status.message(), "loading: Unknown error 4007");
}

TEST(LibbpfErrorToStatusTest, ValueBeyondErrnoRangeIsUnknown) {
  const absl::Status status = LibbpfErrorToStatus(-2147483647 - 1, "loading");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(status.message(),
            "loading: unexpected libbpf return value -2147483648");
}

TEST(ErrnoStatusTest, UsesCurrentErrno) {
  errno = ENOENT;
  const absl::Status status = ErrnoStatus("opening /sys/fs/bpf/weir");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(),
            "opening /sys/fs/bpf/weir: No such file or directory");
}

TEST(ErrnoStatusTest, ZeroErrnoIsStillAnError) {
  errno = 0;
  const absl::Status status = ErrnoStatus("reading");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(status.message(), "reading: failed without errno");
}

TEST(AnnotateTest, PrefixesContextAndKeepsCode) {
  const absl::Status status =
      Annotate(absl::NotFoundError("no such map"), "attaching to eth0");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "attaching to eth0: no such map");
}

TEST(AnnotateTest, NestsOutermostFirst) {
  const absl::Status status =
      Annotate(Annotate(absl::InvalidArgumentError("bad"), "inner"), "outer");
  EXPECT_EQ(status.message(), "outer: inner: bad");
}

TEST(AnnotateTest, OkStaysOk) {
  EXPECT_TRUE(Annotate(absl::OkStatus(), "context").ok());
}

TEST(AnnotateTest, EmptyMessageBecomesContext) {
  const absl::Status status =
      Annotate(absl::Status(absl::StatusCode::kAborted, ""), "context");
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(status.message(), "context");
}

TEST(AnnotateTest, KeepsPayloads) {
  absl::Status original = absl::UnavailableError("down");
  original.SetPayload("type.example/retry", absl::Cord("5s"));
  const absl::Status status = Annotate(original, "shipping");
  const auto payload = status.GetPayload("type.example/retry");
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(*payload, "5s");
}

TEST(QuoteForErrorTest, QuotesAndEscapes) {
  EXPECT_EQ(QuoteForError("1.2.3.4"), "\"1.2.3.4\"");
  EXPECT_EQ(QuoteForError(""), "\"\"");
  EXPECT_EQ(QuoteForError("a\"b\n"), "\"a\\\"b\\n\"");
}

TEST(QuoteForErrorTest, CutsLongText) {
  const std::string quoted = QuoteForError(std::string(10000, 'x'));
  EXPECT_EQ(quoted, "\"" + std::string(64, 'x') + "\"... (10000 bytes)");
}

}  // namespace
}  // namespace weir
