#include "queryd/store/rocksdb_status.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "rocksdb/status.h"

namespace weir::store {
namespace {

TEST(RocksDbStatusTest, KeepsOk) {
  EXPECT_TRUE(FromRocksDb(rocksdb::Status::OK(), "anything").ok());
}

TEST(RocksDbStatusTest, MapsCodesAndAddsContext) {
  const absl::Status corrupt =
      FromRocksDb(rocksdb::Status::Corruption("bad block"), "reading x");
  EXPECT_EQ(corrupt.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(corrupt.message(), "reading x: Corruption: bad block");
  EXPECT_EQ(FromRocksDb(rocksdb::Status::NoSpace("disk"), "w").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::IOError("eio"), "w").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::NotFound(), "w").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::InvalidArgument(), "w").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::TimedOut(), "w").code(),
            absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace weir::store
