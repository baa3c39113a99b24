#include "queryd/http/compression.h"

#include <string>

#include "gtest/gtest.h"

namespace weir::queryd::http {
namespace {

TEST(AcceptsGzipTest, ReadsCodingsAndQValues) {
  struct Case {
    const char* header;
    bool want;
  };
  for (const Case& c : {
           Case{"gzip", true},
           Case{"deflate, gzip;q=1.0, *;q=0.5", true},
           Case{"GZIP", true},
           Case{"x-gzip", true},
           Case{"br;q=1.0, gzip;q=0.8", true},
           Case{" gzip ; q=0.001 ", true},
           Case{"*", true},
           Case{"", false},
           Case{"identity", false},
           Case{"deflate, br", false},
           Case{"gzip;q=0", false},
           Case{"gzip;q=0.000", false},
           Case{"*;q=1, gzip;q=0", false},  // named beats *
           Case{"gzip;q=bad", false},
           Case{"gzip;q=2", false},
           Case{"gzipx", false},
       }) {
    EXPECT_EQ(AcceptsGzip(c.header), c.want) << c.header;
  }
}

TEST(GzipTest, RoundTripsAndShrinksJson) {
  std::string json = "{\"flows\":[";
  for (int i = 0; i < 1000; ++i) {
    json +=
        "{\"key\":{\"srcAddr\":\"192.0.2.1\",\"dstPort\":443},"
        "\"packets\":\"15\"},";
  }
  json += "{}]}";
  absl::StatusOr<std::string> packed = Gzip(json);
  ASSERT_TRUE(packed.ok()) << packed.status();
  // The gzip magic, then far fewer bytes.
  ASSERT_GE(packed->size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>((*packed)[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>((*packed)[1]), 0x8b);
  EXPECT_LT(packed->size(), json.size() / 10);
  absl::StatusOr<std::string> unpacked = Gunzip(*packed);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_EQ(*unpacked, json);

  absl::StatusOr<std::string> empty = Gzip("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Gunzip(*empty).value_or("x"), "");
  EXPECT_FALSE(Gunzip("not gzip").ok());
  EXPECT_FALSE(Gunzip(packed->substr(0, packed->size() / 2)).ok());
}

}  // namespace
}  // namespace weir::queryd::http
