#include "common/cidr.h"

#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/ip_address.h"
#include "common/ip_address_test_util.h"
#include "gtest/gtest.h"

namespace weir {
namespace {

Cidr MustParse(absl::string_view text) {
  absl::StatusOr<Cidr> cidr = Cidr::Parse(text);
  EXPECT_TRUE(cidr.ok()) << cidr.status();
  return cidr.ok() ? *cidr : *Cidr::Parse("::/0");
}

std::string ParseError(absl::string_view text) {
  return ParseErrorOf<Cidr>(text);
}

TEST(CidrTest, ParsesIpv4) {
  const Cidr cidr = MustParse("192.0.2.0/24");
  EXPECT_EQ(cidr.network(), ParsedAddress("192.0.2.0"));
  EXPECT_EQ(cidr.prefix_len(), 120);
  EXPECT_EQ(cidr.ToString(), "192.0.2.0/24");
}

TEST(CidrTest, ParsesIpv6) {
  const Cidr cidr = MustParse("2001:DB8::/32");
  EXPECT_EQ(cidr.network(), ParsedAddress("2001:db8::"));
  EXPECT_EQ(cidr.prefix_len(), 32);
  EXPECT_EQ(cidr.ToString(), "2001:db8::/32");
}

TEST(CidrTest, BareAddressIsSingleHost) {
  EXPECT_EQ(MustParse("192.0.2.7"), MustParse("192.0.2.7/32"));
  EXPECT_EQ(MustParse("192.0.2.7").prefix_len(), 128);
  EXPECT_EQ(MustParse("2001:db8::7"), MustParse("2001:db8::7/128"));
  EXPECT_EQ(MustParse("2001:db8::7").ToString(), "2001:db8::7/128");
}

TEST(CidrTest, MappedIpv6TextIsTheSameBlockAsIpv4) {
  EXPECT_EQ(MustParse("::ffff:192.0.2.0/120"), MustParse("192.0.2.0/24"));
  EXPECT_EQ(MustParse("::ffff:192.0.2.0/120").ToString(), "192.0.2.0/24");
  EXPECT_EQ(MustParse("::ffff:0:0/96"), MustParse("0.0.0.0/0"));
}

TEST(CidrTest, RoundTrips) {
  const char* const kCanonical[] = {
      "0.0.0.0/0",     "10.0.0.0/8",
      "172.16.0.0/12", "192.168.0.0/16",
      "192.0.2.0/24",  "192.0.2.128/25",
      "192.0.2.7/32",  "128.0.0.0/1",
      "::/0",          "::/128",
      "::1/128",       "2001:db8::/32",
      "fe80::/10",     "fc00::/7",
      "ff00::/8",      "2001:db8:0:1::/64",
      "8000::/1",      "2001:db8:0:0:1::/96",
  };
  for (const char* text : kCanonical) {
    EXPECT_EQ(MustParse(text).ToString(), text);
    EXPECT_EQ(MustParse(MustParse(text).ToString()), MustParse(text));
  }
}

TEST(CidrTest, RejectsMalformedInput) {
  const Refusal kCases[] = {
      {"", R"(invalid CIDR "": empty)"},
      {"10.0.0.0/33",
       R"(invalid CIDR "10.0.0.0/33": prefix length 33 out of range for IPv4 (0-32))"},
      {"2001:db8::/129",
       R"(invalid CIDR "2001:db8::/129": prefix length 129 out of range for IPv6 (0-128))"},
      {"10.0.0.0/4294967304",
       R"(invalid CIDR "10.0.0.0/4294967304": prefix length 4294967304 out of range for IPv4 (0-32))"},
      {"1.2.3.4/",
       R"(invalid CIDR "1.2.3.4/": missing prefix length after '/')"},
      {"/24", R"(invalid CIDR "/24": missing address before '/')"},
      {"/", R"(invalid CIDR "/": missing address before '/')"},
      {"10.0.0.0/+8",
       R"(invalid CIDR "10.0.0.0/+8": prefix length "+8" is not a decimal number)"},
      {"10.0.0.0/-8",
       R"(invalid CIDR "10.0.0.0/-8": prefix length "-8" is not a decimal number)"},
      {"10.0.0.0/8a",
       R"(invalid CIDR "10.0.0.0/8a": prefix length "8a" is not a decimal number)"},
      {"10.0.0.0/8/8",
       R"(invalid CIDR "10.0.0.0/8/8": prefix length "8/8" is not a decimal number)"},
      {"10.0.0.0/255.0.0.0",
       R"(invalid CIDR "10.0.0.0/255.0.0.0": prefix length "255.0.0.0" is not a decimal number)"},
      {"10.0.0.0/08",
       R"(invalid CIDR "10.0.0.0/08": prefix length 08 has a leading zero)"},
      {" 10.0.0.0/8",
       R"(invalid CIDR " 10.0.0.0/8": leading or trailing whitespace)"},
      {"10.0.0.0/8 ",
       R"(invalid CIDR "10.0.0.0/8 ": leading or trailing whitespace)"},
      {"10.0.0.0 /8",
       R"(invalid CIDR "10.0.0.0 /8": invalid IP address "10.0.0.0 ": leading or trailing whitespace)"},
      {"300.1.1.0/24",
       R"(invalid CIDR "300.1.1.0/24": invalid IP address "300.1.1.0": octet 300 out of range)"},
      {"1.2.3/24",
       R"(invalid CIDR "1.2.3/24": invalid IP address "1.2.3": expected 4 octets, got 3)"},
      {"fe80::%eth0/64",
       R"(invalid CIDR "fe80::%eth0/64": invalid IP address "fe80::%eth0": zone id "%eth0" is not supported)"},
      {"192.0.2.1/24",
       R"(invalid CIDR "192.0.2.1/24": host bits set; did you mean 192.0.2.0/24?)"},
      {"10.1.0.0/8",
       R"(invalid CIDR "10.1.0.0/8": host bits set; did you mean 10.0.0.0/8?)"},
      {"1.2.3.4/0",
       R"(invalid CIDR "1.2.3.4/0": host bits set; did you mean 0.0.0.0/0?)"},
      {"2001:db8::1/32",
       R"(invalid CIDR "2001:db8::1/32": host bits set; did you mean 2001:db8::/32?)"},
      {"::ffff:192.0.2.1/120",
       R"(invalid CIDR "::ffff:192.0.2.1/120": host bits set; did you mean 192.0.2.0/24?)"},
      {"::ffff:192.0.2.0/24",
       R"(invalid CIDR "::ffff:192.0.2.0/24": host bits set; did you mean ::/24?)"},
      {"::ffff:0:0/95",
       R"(invalid CIDR "::ffff:0:0/95": host bits set; did you mean ::fffe:0:0/95?)"},
  };
  ExpectRefusals<Cidr>(kCases);
}

TEST(CidrTest, RejectsHugeInputWithShortMessage) {
  const std::string error = ParseError(std::string(10000, '1'));
  EXPECT_EQ(error, absl::StrCat("invalid CIDR \"", std::string(64, '1'),
                                "\"... (10000 bytes): longer than any CIDR"));
}

TEST(CidrTest, AcceptsLongestValidText) {
  EXPECT_EQ(
      MustParse("0000:0000:0000:0000:0000:ffff:255.255.255.255/128").ToString(),
      "255.255.255.255/32");
}

TEST(CidrTest, ContainsIpv4) {
  const Cidr cidr = MustParse("172.16.0.0/12");
  EXPECT_FALSE(cidr.Contains(ParsedAddress("172.15.255.255")));
  EXPECT_TRUE(cidr.Contains(ParsedAddress("172.16.0.0")));
  EXPECT_TRUE(cidr.Contains(ParsedAddress("172.20.1.2")));
  EXPECT_TRUE(cidr.Contains(ParsedAddress("172.31.255.255")));
  EXPECT_FALSE(cidr.Contains(ParsedAddress("172.32.0.0")));
  EXPECT_TRUE(cidr.Contains(ParsedAddress("::ffff:172.20.1.2")));
}

TEST(CidrTest, Ipv4BlockNeverContainsIpv6) {
  const Cidr all_ipv4 = MustParse("0.0.0.0/0");
  EXPECT_TRUE(all_ipv4.Contains(ParsedAddress("0.0.0.0")));
  EXPECT_TRUE(all_ipv4.Contains(ParsedAddress("255.255.255.255")));
  EXPECT_FALSE(all_ipv4.Contains(ParsedAddress("::")));
  EXPECT_FALSE(all_ipv4.Contains(ParsedAddress("::1")));
  EXPECT_FALSE(all_ipv4.Contains(ParsedAddress("::1.2.3.4")));
  EXPECT_FALSE(all_ipv4.Contains(ParsedAddress("2001:db8::1")));
  EXPECT_FALSE(MustParse("10.0.0.0/8").Contains(ParsedAddress("::a00:1")));
}

TEST(CidrTest, Ipv6BlockContainsByPrefix) {
  const Cidr cidr = MustParse("fe80::/10");
  EXPECT_FALSE(
      cidr.Contains(ParsedAddress("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_TRUE(cidr.Contains(ParsedAddress("fe80::")));
  EXPECT_TRUE(
      cidr.Contains(ParsedAddress("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(cidr.Contains(ParsedAddress("fec0::")));
  EXPECT_FALSE(cidr.Contains(ParsedAddress("192.0.2.1")));

  const Cidr everything = MustParse("::/0");
  EXPECT_TRUE(everything.Contains(ParsedAddress("::")));
  EXPECT_TRUE(everything.Contains(ParsedAddress("192.0.2.1")));
  EXPECT_TRUE(everything.Contains(ParsedAddress("ffff::1")));
}

TEST(CidrTest, HostBlockContainsOnlyItsAddress) {
  const Cidr v4 = MustParse("192.0.2.7");
  EXPECT_TRUE(v4.Contains(ParsedAddress("192.0.2.7")));
  EXPECT_FALSE(v4.Contains(ParsedAddress("192.0.2.6")));
  EXPECT_FALSE(v4.Contains(ParsedAddress("192.0.2.8")));
  const Cidr v6 = MustParse("2001:db8::7/128");
  EXPECT_TRUE(v6.Contains(ParsedAddress("2001:db8::7")));
  EXPECT_FALSE(v6.Contains(ParsedAddress("2001:db8::6")));
}

TEST(CidrTest, ContainsAtEveryPrefixLength) {
  const IpAddress inside =
      ParsedAddress("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
  for (int len = 0; len <= 128; ++len) {
    // The first address of 2001:db8:ffff:.../len, and the address with the
    // last prefix bit flipped, which is just outside.
    IpAddress::Bytes network = inside.bytes();
    for (int bit = len; bit < 128; ++bit) {
      network[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    }
    const IpAddress network_address = *IpAddress::FromBytes(network);
    const Cidr cidr =
        MustParse(absl::StrCat(network_address.ToString(), "/", len));
    EXPECT_EQ(cidr.prefix_len(), len);
    EXPECT_TRUE(cidr.Contains(inside)) << cidr;
    EXPECT_TRUE(cidr.Contains(network_address)) << cidr;
    if (len > 0) {
      IpAddress::Bytes outside = network;
      outside[(len - 1) / 8] ^= static_cast<uint8_t>(0x80 >> ((len - 1) % 8));
      EXPECT_FALSE(cidr.Contains(*IpAddress::FromBytes(outside))) << cidr;
    }
  }
}

TEST(CidrTest, EqualityComparesNetworkAndLength) {
  EXPECT_EQ(MustParse("10.0.0.0/8"), MustParse("10.0.0.0/8"));
  EXPECT_NE(MustParse("10.0.0.0/8"), MustParse("10.0.0.0/9"));
  EXPECT_NE(MustParse("10.0.0.0/8"), MustParse("11.0.0.0/8"));
  EXPECT_NE(MustParse("0.0.0.0/0"), MustParse("::/0"));
}

TEST(CidrTest, StreamsAsText) {
  std::ostringstream out;
  out << MustParse("192.0.2.0/24") << " " << MustParse("2001:db8::/32");
  EXPECT_EQ(out.str(), "192.0.2.0/24 2001:db8::/32");
}

}  // namespace
}  // namespace weir
