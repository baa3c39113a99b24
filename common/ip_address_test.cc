#include "common/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/hash/hash_testing.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ip_address_test_util.h"
#include "gtest/gtest.h"

namespace weir {
namespace {

std::string ParseError(absl::string_view text) {
  return ParseErrorOf<IpAddress>(text);
}

TEST(IpAddressTest, DefaultIsIpv6Unspecified) {
  EXPECT_EQ(IpAddress().ToString(), "::");
  EXPECT_FALSE(IpAddress().is_ipv4());
}

TEST(IpAddressTest, ParsesIpv4AsMapped) {
  const IpAddress address = ParsedAddress("192.0.2.1");
  EXPECT_TRUE(address.is_ipv4());
  const IpAddress::Bytes expected = {0, 0, 0,    0,    0,   0, 0, 0,
                                     0, 0, 0xff, 0xff, 192, 0, 2, 1};
  EXPECT_EQ(address.bytes(), expected);
  EXPECT_EQ(address.ToString(), "192.0.2.1");
}

TEST(IpAddressTest, ParsesIpv6) {
  const IpAddress address = ParsedAddress("2001:DB8::7");
  EXPECT_FALSE(address.is_ipv4());
  const IpAddress::Bytes expected = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                     0,    0,    0,    0,    0, 0, 0, 7};
  EXPECT_EQ(address.bytes(), expected);
  EXPECT_EQ(address.ToString(), "2001:db8::7");
}

TEST(IpAddressTest, MappedIpv6TextIsIpv4) {
  const IpAddress address = ParsedAddress("::ffff:192.0.2.1");
  EXPECT_TRUE(address.is_ipv4());
  EXPECT_EQ(address, ParsedAddress("192.0.2.1"));
  EXPECT_EQ(address, ParsedAddress("::FFFF:c000:201"));
  EXPECT_EQ(address.ToString(), "192.0.2.1");
}

TEST(IpAddressTest, RoundTripsCanonicalText) {
  const char* const kCanonical[] = {
      "0.0.0.0",
      "255.255.255.255",
      "1.2.3.4",
      "10.0.0.1",
      "192.0.2.255",
      "100.64.0.0",
      "::",
      "::1",
      "::2",
      "1::",
      "2001:db8::1",
      "2001:db8:0:1:1:1:1:1",  // A single zero group is not compressed.
      "2001:db8::1:0:0:1",     // Of two equal runs, the first is compressed.
      "2001:0:0:1::1",         // The longer run wins.
      "1:2:3:4:5:6:7:8",
      "fe80::1",
      "ff02::1:ff00:1",
      "fc00::",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
      "::102:304",  // IPv4-compatible (deprecated): plain hex, not ::1.2.3.4.
      "::1:0",
      "::fffe:c000:201",
      "::ffff:0:c000:201",  // SIIT, not IPv4-mapped.
      "64:ff9b::c000:201",
      "1:0:0:1::",
      "0:1::",
      "1:0:0:2::",  // The longer run wins even when it is last.
  };
  for (const char* text : kCanonical) {
    EXPECT_EQ(ParsedAddress(text).ToString(), text);
  }
}

TEST(IpAddressTest, FormatsPerRfc5952) {
  const struct {
    const char* input;
    const char* canonical;
  } kCases[] = {
      {"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
      {"2001:db8::0:1", "2001:db8::1"},
      {"2001:db8:0:0:0::1", "2001:db8::1"},
      {"2001:db8::1:0", "2001:db8::1:0"},
      {"0:0:0:0:0:0:0:0", "::"},
      {"0:0:0:0:0:0:0:1", "::1"},
      {"1:0:0:0:0:0:0:0", "1::"},
      {"1:0:2:0:0:3:0:0", "1:0:2::3:0:0"},
      {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
      {"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
      {"0:0:0:0:0:ffff:1.2.3.4", "1.2.3.4"},
      {"::1.2.3.4", "::102:304"},
      {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
      {"::ffff:0.0.0.0", "0.0.0.0"},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(ParsedAddress(c.input).ToString(), c.canonical) << c.input;
  }
}

TEST(IpAddressTest, RejectsMalformedInput) {
  const Refusal kCases[] = {
      {"", R"(invalid IP address "": empty)"},
      {"1.2.3", R"(invalid IP address "1.2.3": expected 4 octets, got 3)"},
      {"1.2.3.4.5",
       R"(invalid IP address "1.2.3.4.5": expected 4 octets, got 5)"},
      {"1..2.3", R"(invalid IP address "1..2.3": octet 2 is empty)"},
      {"1.2.3.", R"(invalid IP address "1.2.3.": octet 4 is empty)"},
      {".1.2.3", R"(invalid IP address ".1.2.3": octet 1 is empty)"},
      {"300.1.1.1",
       R"(invalid IP address "300.1.1.1": octet 300 out of range)"},
      {"1.2.3.256",
       R"(invalid IP address "1.2.3.256": octet 256 out of range)"},
      {"1.2.3.99999999999999999999",
       R"(invalid IP address "1.2.3.99999999999999999999": octet 99999999999999999999 out of range)"},
      {"01.2.3.4",
       R"(invalid IP address "01.2.3.4": octet 01 has a leading zero (octal is not accepted))"},
      {"1.2.3.00",
       R"(invalid IP address "1.2.3.00": octet 00 has a leading zero (octal is not accepted))"},
      {"+1.2.3.4",
       R"(invalid IP address "+1.2.3.4": unexpected character '+')"},
      {"1.2.3.-4",
       R"(invalid IP address "1.2.3.-4": unexpected character '-')"},
      {"1.2.3.0x4",
       R"(invalid IP address "1.2.3.0x4": unexpected character 'x')"},
      {"1.2.3.4/32",
       R"(invalid IP address "1.2.3.4/32": unexpected character '/')"},
      {" 1.2.3.4",
       R"(invalid IP address " 1.2.3.4": leading or trailing whitespace)"},
      {"1.2.3.4 ",
       R"(invalid IP address "1.2.3.4 ": leading or trailing whitespace)"},
      {"1.2.3.4\n",
       R"(invalid IP address "1.2.3.4\n": leading or trailing whitespace)"},
      {std::string("1.2.3.4\0", 8),
       R"(invalid IP address "1.2.3.4\x00": unexpected character '\x00')"},
      {"::g", R"(invalid IP address "::g": unexpected character 'g')"},
      {":::", R"(invalid IP address ":::": ":::" is not valid)"},
      {"1:::2", R"(invalid IP address "1:::2": ":::" is not valid)"},
      {"1::2::3", R"(invalid IP address "1::2::3": more than one "::")"},
      {"::1::", R"(invalid IP address "::1::": more than one "::")"},
      {":", R"(invalid IP address ":": starts with a single ':')"},
      {":1::2", R"(invalid IP address ":1::2": starts with a single ':')"},
      {"1::2:", R"(invalid IP address "1::2:": ends with a single ':')"},
      {":1:2:3:4:5:6:7",
       R"(invalid IP address ":1:2:3:4:5:6:7": starts with a single ':')"},
      {"1:2:3:4:5:6:7:",
       R"(invalid IP address "1:2:3:4:5:6:7:": ends with a single ':')"},
      {"1:2:3:4:5:6:7",
       R"(invalid IP address "1:2:3:4:5:6:7": expected 8 groups, got 7)"},
      {"1:2:3:4:5:6:7:8:9",
       R"(invalid IP address "1:2:3:4:5:6:7:8:9": expected 8 groups, got 9)"},
      {"1:2:3:4:5:1.2.3.4",
       R"(invalid IP address "1:2:3:4:5:1.2.3.4": expected 6 groups before the IPv4 part, got 5)"},
      {"1:2:3:4:5:6:7:8::",
       R"(invalid IP address "1:2:3:4:5:6:7:8::": too many groups to leave room for "::")"},
      {"1:2:3:4::5:6:7:8",
       R"(invalid IP address "1:2:3:4::5:6:7:8": too many groups to leave room for "::")"},
      {"::1:2:3:4:5:6:1.2.3.4",
       R"(invalid IP address "::1:2:3:4:5:6:1.2.3.4": too many groups to leave room for "::")"},
      {"12345::",
       R"(invalid IP address "12345::": group 12345 has more than 4 hex digits)"},
      {"::00000",
       R"(invalid IP address "::00000": group 00000 has more than 4 hex digits)"},
      {"1.2.3.4::",
       R"(invalid IP address "1.2.3.4::": an embedded IPv4 address must come last)"},
      {"::1.2.3.4:1",
       R"(invalid IP address "::1.2.3.4:1": an embedded IPv4 address must come last)"},
      {"::ffff:300.1.1.1",
       R"(invalid IP address "::ffff:300.1.1.1": octet 300 out of range)"},
      {"::ffff:1.2.3",
       R"(invalid IP address "::ffff:1.2.3": expected 4 octets, got 3)"},
      {"::ffff:01.2.3.4",
       R"(invalid IP address "::ffff:01.2.3.4": octet 01 has a leading zero (octal is not accepted))"},
      {"::ffff:1.2.3.a",
       R"(invalid IP address "::ffff:1.2.3.a": unexpected character 'a')"},
      {"fe80::1%eth0",
       R"(invalid IP address "fe80::1%eth0": zone id "%eth0" is not supported)"},
      {"fe80::1%",
       R"(invalid IP address "fe80::1%": zone id "%" is not supported)"},
      {"[::1]", R"(invalid IP address "[::1]": unexpected character '[')"},
      {" ::1", R"(invalid IP address " ::1": leading or trailing whitespace)"},
      {"::1\t",
       R"(invalid IP address "::1\t": leading or trailing whitespace)"},
      {"0000:0000:0000:0000:0000:ffff:255.255.255.2550",
       R"(invalid IP address "0000:0000:0000:0000:0000:ffff:255.255.255.2550": longer than any IP address)"},
  };
  ExpectRefusals<IpAddress>(kCases);
}

TEST(IpAddressTest, AcceptsLongestValidText) {
  const IpAddress address =
      ParsedAddress("0000:0000:0000:0000:0000:ffff:255.255.255.255");
  EXPECT_EQ(address.ToString(), "255.255.255.255");
  EXPECT_EQ(
      ParsedAddress("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255").ToString(),
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST(IpAddressTest, RejectsHugeInputQuicklyWithShortMessage) {
  const std::string huge(10000, '1');
  const std::string error = ParseError(huge);
  EXPECT_EQ(error, absl::StrCat("invalid IP address \"", std::string(64, '1'),
                                "\"... (10000 bytes): longer than any IP "
                                "address"));
}

TEST(IpAddressTest, FromBytesTakesFourOrSixteen) {
  const uint8_t v4[] = {198, 51, 100, 7};
  absl::StatusOr<IpAddress> address = IpAddress::FromBytes(v4);
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(*address, ParsedAddress("198.51.100.7"));

  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                          0,    0,    0,    0,    0, 0, 0, 7};
  address = IpAddress::FromBytes(v6);
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(*address, ParsedAddress("2001:db8::7"));

  const uint8_t five[5] = {};
  address = IpAddress::FromBytes(five);
  EXPECT_EQ(address.status(),
            absl::InvalidArgumentError(
                "invalid IP address: 5 bytes, expected 4 (IPv4) or 16 (IPv6)"));
  EXPECT_FALSE(IpAddress::FromBytes({}).ok());
}

TEST(IpAddressTest, FromIpv4TakesHostOrder) {
  EXPECT_EQ(IpAddress::FromIpv4(0xc0000201), ParsedAddress("192.0.2.1"));
  EXPECT_EQ(IpAddress::FromIpv4(0), ParsedAddress("0.0.0.0"));
  EXPECT_EQ(IpAddress::FromIpv4(0xffffffff), ParsedAddress("255.255.255.255"));
}

TEST(IpAddressTest, OrdersByBytes) {
  EXPECT_LT(ParsedAddress("::1"), ParsedAddress("0.0.0.0"));
  EXPECT_LT(ParsedAddress("9.255.255.255"), ParsedAddress("10.0.0.0"));
  EXPECT_LT(ParsedAddress("255.255.255.255"), ParsedAddress("2001:db8::"));
  EXPECT_LE(ParsedAddress("1.2.3.4"), ParsedAddress("1.2.3.4"));
  EXPECT_GT(ParsedAddress("fe80::"), ParsedAddress("fc00::"));
  EXPECT_GE(ParsedAddress("fe80::"), ParsedAddress("fe80::"));
  EXPECT_NE(ParsedAddress("::"), ParsedAddress("0.0.0.0"));
}

TEST(IpAddressTest, HashesConsistentlyWithEquality) {
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({
      IpAddress(),
      ParsedAddress("0.0.0.0"),
      ParsedAddress("192.0.2.1"),
      ParsedAddress("::ffff:192.0.2.1"),
      ParsedAddress("2001:db8::1"),
      ParsedAddress("2001:db8::1:0"),
  }));
}

TEST(IpAddressTest, StreamsAsText) {
  std::ostringstream out;
  out << ParsedAddress("2001:db8::1") << " " << ParsedAddress("192.0.2.1");
  EXPECT_EQ(out.str(), "2001:db8::1 192.0.2.1");
}

// Differential checks against glibc's inet_pton and inet_ntop, which agree
// with our grammar for every input that is not whitespace, a zone id or too
// long, all of which never reach them here.
bool GlibcParse(const std::string& text, IpAddress::Bytes& bytes) {
  if (text.find(':') != std::string::npos) {
    return inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1;
  }
  uint8_t v4[4];
  if (inet_pton(AF_INET, text.c_str(), v4) != 1) return false;
  bytes = IpAddress::Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  std::memcpy(bytes.data() + 12, v4, 4);
  return true;
}

TEST(IpAddressTest, AgreesWithInetPtonOnMutatedText) {
  const char* const kSeeds[] = {"192.0.2.1",
                                "0.0.0.0",
                                "255.255.255.255",
                                "::",
                                "::1",
                                "2001:db8::1",
                                "fe80::1:2:3:4",
                                "1:2:3:4:5:6:7:8",
                                "::ffff:1.2.3.4",
                                "1:2:3:4:5:6:1.2.3.4",
                                "a:b::c:d",
                                "10.20.30.40"};
  const std::string kAlphabet = "0123456789abcdefABCDEF:.xg";
  std::mt19937 rng(20240601);
  int accepted = 0;
  int checked = 0;
  for (int round = 0; round < 200000; ++round) {
    std::string text = kSeeds[rng() % std::size(kSeeds)];
    const int edits = 1 + rng() % 3;
    for (int e = 0; e < edits; ++e) {
      const size_t pos = text.empty() ? 0 : rng() % (text.size() + 1);
      const char c = kAlphabet[rng() % kAlphabet.size()];
      switch (rng() % 3) {
        case 0:
          text.insert(pos, 1, c);
          break;
        case 1:
          if (pos < text.size()) text.erase(pos, 1);
          break;
        default:
          if (pos < text.size()) text[pos] = c;
          break;
      }
    }
    IpAddress::Bytes expected{};
    const bool glibc_ok = GlibcParse(text, expected);
    const absl::StatusOr<IpAddress> ours = IpAddress::Parse(text);
    ++checked;
    ASSERT_EQ(ours.ok(), glibc_ok) << '"' << text << "\" " << ours.status();
    if (glibc_ok) {
      ++accepted;
      ASSERT_EQ(ours->bytes(), expected) << text;
      // What parses also prints back to the same address.
      ASSERT_EQ(ParsedAddress(ours->ToString()), *ours) << text;
    }
  }
  // The mutations must exercise both sides.
  EXPECT_GT(accepted, checked / 20);
  EXPECT_LT(accepted, checked / 2);
}

TEST(IpAddressTest, FormatsLikeInetNtopOutsideItsSpecialCases) {
  std::mt19937 rng(7);
  int compared = 0;
  for (int round = 0; round < 100000; ++round) {
    IpAddress::Bytes bytes{};
    // Mostly zero groups, so runs of every length and position occur.
    for (size_t g = 0; g < 8; ++g) {
      const uint32_t r = rng();
      const uint16_t group = r % 4 != 0 ? 0 : static_cast<uint16_t>(r >> 8);
      bytes[2 * g] = static_cast<uint8_t>(group >> 8);
      bytes[2 * g + 1] = static_cast<uint8_t>(group);
    }
    if (round % 50 == 0) {  // Also the mapped form glibc prints specially.
      bytes[10] = bytes[11] = 0xff;
      for (size_t i = 0; i < 10; ++i) bytes[i] = 0;
    }
    const IpAddress address = *IpAddress::FromBytes(bytes);
    char glibc[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, bytes.data(), glibc, sizeof(glibc)), nullptr);
    const std::string ours = address.ToString();
    if (address.is_ipv4()) {
      // glibc: "::ffff:1.2.3.4"; Weir shows IPv4 as a dotted quad.
      ASSERT_EQ(absl::StrCat("::ffff:", ours), glibc);
    } else if (std::strchr(glibc, '.') != nullptr) {
      // glibc prints ::/96 as "::1.2.3.4"; RFC 5952 wants hex there.
      ASSERT_FALSE(absl::StrContains(ours, '.')) << ours;
    } else {
      ASSERT_EQ(ours, glibc);
      ++compared;
    }
    ASSERT_EQ(ParsedAddress(ours), address) << ours;
  }
  EXPECT_GT(compared, 50000);
}

TEST(ClassifyTest, Ipv4Boundaries) {
  const struct {
    const char* address;
    AddressClass address_class;
  } kCases[] = {
      {"0.0.0.0", AddressClass::kUnspecifiedAddress},
      {"0.0.0.1", AddressClass::kPublic},
      {"1.1.1.1", AddressClass::kPublic},
      {"9.255.255.255", AddressClass::kPublic},
      {"10.0.0.0", AddressClass::kPrivate},
      {"10.255.255.255", AddressClass::kPrivate},
      {"11.0.0.0", AddressClass::kPublic},
      {"100.63.255.255", AddressClass::kPublic},
      {"100.64.0.0", AddressClass::kPrivate},
      {"100.127.255.255", AddressClass::kPrivate},
      {"100.128.0.0", AddressClass::kPublic},
      {"126.255.255.255", AddressClass::kPublic},
      {"127.0.0.0", AddressClass::kLoopback},
      {"127.0.0.1", AddressClass::kLoopback},
      {"127.255.255.255", AddressClass::kLoopback},
      {"128.0.0.0", AddressClass::kPublic},
      {"169.253.255.255", AddressClass::kPublic},
      {"169.254.0.0", AddressClass::kLinkLocal},
      {"169.254.255.255", AddressClass::kLinkLocal},
      {"169.255.0.0", AddressClass::kPublic},
      {"172.15.255.255", AddressClass::kPublic},
      {"172.16.0.0", AddressClass::kPrivate},
      {"172.31.255.255", AddressClass::kPrivate},
      {"172.32.0.0", AddressClass::kPublic},
      {"192.0.1.255", AddressClass::kPublic},
      {"192.0.2.0", AddressClass::kDocumentation},
      {"192.0.2.255", AddressClass::kDocumentation},
      {"192.0.3.0", AddressClass::kPublic},
      {"192.167.255.255", AddressClass::kPublic},
      {"192.168.0.0", AddressClass::kPrivate},
      {"192.168.255.255", AddressClass::kPrivate},
      {"192.169.0.0", AddressClass::kPublic},
      {"198.51.99.255", AddressClass::kPublic},
      {"198.51.100.0", AddressClass::kDocumentation},
      {"198.51.100.255", AddressClass::kDocumentation},
      {"198.51.101.0", AddressClass::kPublic},
      {"203.0.112.255", AddressClass::kPublic},
      {"203.0.113.0", AddressClass::kDocumentation},
      {"203.0.113.255", AddressClass::kDocumentation},
      {"203.0.114.0", AddressClass::kPublic},
      {"223.255.255.255", AddressClass::kPublic},
      {"224.0.0.0", AddressClass::kMulticast},
      {"239.255.255.255", AddressClass::kMulticast},
      {"240.0.0.0", AddressClass::kPublic},
      {"255.255.255.254", AddressClass::kPublic},
      {"255.255.255.255", AddressClass::kMulticast},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(AddressClassName(Classify(ParsedAddress(c.address))),
              AddressClassName(c.address_class))
        << c.address;
  }
}

TEST(ClassifyTest, Ipv6Boundaries) {
  const struct {
    const char* address;
    AddressClass address_class;
  } kCases[] = {
      {"::", AddressClass::kUnspecifiedAddress},
      {"::1", AddressClass::kLoopback},
      {"::2", AddressClass::kPublic},
      {"1::", AddressClass::kPublic},
      {"::ffff:0.0.0.0", AddressClass::kUnspecifiedAddress},
      {"::ffff:127.0.0.1", AddressClass::kLoopback},
      {"::ffff:10.1.2.3", AddressClass::kPrivate},
      {"::ffff:192.0.2.1", AddressClass::kDocumentation},
      {"::ffff:8.8.8.8", AddressClass::kPublic},
      {"::127.0.0.1", AddressClass::kPublic},  // IPv4-compatible, not mapped.
      {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::kPublic},
      {"2001:db8::", AddressClass::kDocumentation},
      {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::kDocumentation},
      {"2001:db9::", AddressClass::kPublic},
      {"2606:4700::1111", AddressClass::kPublic},
      {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::kPublic},
      {"fc00::", AddressClass::kPrivate},
      {"fd12:3456::1", AddressClass::kPrivate},
      {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::kPrivate},
      {"fe00::", AddressClass::kPublic},
      {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::kPublic},
      {"fe80::", AddressClass::kLinkLocal},
      {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::kLinkLocal},
      {"fec0::", AddressClass::kPublic},
      {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::kPublic},
      {"ff00::", AddressClass::kMulticast},
      {"ff02::1", AddressClass::kMulticast},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass::kMulticast},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(AddressClassName(Classify(ParsedAddress(c.address))),
              AddressClassName(c.address_class))
        << c.address;
  }
}

TEST(AddressClassTest, NumbersMatchTheProto) {
  // weir.v1.AddressClass; these numbers are a wire and disk contract.
  EXPECT_EQ(static_cast<int>(AddressClass::kUnspecified), 0);
  EXPECT_EQ(static_cast<int>(AddressClass::kPrivate), 1);
  EXPECT_EQ(static_cast<int>(AddressClass::kPublic), 2);
  EXPECT_EQ(static_cast<int>(AddressClass::kLoopback), 3);
  EXPECT_EQ(static_cast<int>(AddressClass::kLinkLocal), 4);
  EXPECT_EQ(static_cast<int>(AddressClass::kMulticast), 5);
  EXPECT_EQ(static_cast<int>(AddressClass::kUnspecifiedAddress), 6);
  EXPECT_EQ(static_cast<int>(AddressClass::kDocumentation), 7);
}

TEST(AddressClassTest, Names) {
  EXPECT_EQ(AddressClassName(AddressClass::kPrivate), "private");
  EXPECT_EQ(AddressClassName(AddressClass::kPublic), "public");
  EXPECT_EQ(AddressClassName(AddressClass::kLoopback), "loopback");
  EXPECT_EQ(AddressClassName(AddressClass::kLinkLocal), "link-local");
  EXPECT_EQ(AddressClassName(AddressClass::kMulticast), "multicast");
  EXPECT_EQ(AddressClassName(AddressClass::kUnspecifiedAddress), "unspecified");
  EXPECT_EQ(AddressClassName(AddressClass::kDocumentation), "documentation");
  EXPECT_EQ(AddressClassName(AddressClass::kUnspecified), "unclassified");
  EXPECT_EQ(AddressClassName(static_cast<AddressClass>(200)), "unclassified");
}

}  // namespace
}  // namespace weir
