#include "queryd/query_service.h"

#include <string>

#include "gmock/gmock.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "gtest/gtest.h"
#include "weir/v1/query.pb.h"

namespace weir::queryd {
namespace {

grpc::ByteBuffer BytesOf(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

TEST(ParseRequestTest, ParsesWhatSerializeMessageWrote) {
  weir::v1::ListFlowsRequest sent;
  sent.set_page_size(7);
  sent.mutable_filter()->add_node("node-a");
  absl::StatusOr<grpc::ByteBuffer> bytes = SerializeMessage(sent);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  weir::v1::ListFlowsRequest got;
  ASSERT_TRUE(ParseRequest(*bytes, &got).ok());
  EXPECT_EQ(got.page_size(), 7);
  EXPECT_EQ(got.filter().node(0), "node-a");
}

TEST(ParseRequestTest, EmptyBytesAreTheEmptyMessage) {
  weir::v1::HealthRequest request;
  EXPECT_TRUE(ParseRequest(BytesOf(""), &request).ok());
}

TEST(ParseRequestTest, BytesThatDoNotParseAreInvalidArgumentNamingTheMessage) {
  // Field 1, length 5, but only 2 bytes follow; then a varint that never
  // ends; then a wire type (7) that does not exist.
  for (const std::string& bytes :
       {std::string("\x0a\x05"
                    "ab"),
        std::string("\x08\xff\xff"), std::string("\x0f")}) {
    weir::v1::TopTalkersRequest request;
    const absl::Status status = ParseRequest(BytesOf(bytes), &request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(),
              "request: the bytes sent do not parse as "
              "weir.v1.TopTalkersRequest");
  }
}

TEST(ParseRequestTest, NoBufferAtAllIsInvalidArgument) {
  weir::v1::GetStatsRequest request;
  EXPECT_EQ(ParseRequest(grpc::ByteBuffer(), &request).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weir::queryd
