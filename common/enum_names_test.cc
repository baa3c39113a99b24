#include "common/enum_names.h"

#include <string>

#include "gtest/gtest.h"
#include "weir/v1/flow.pb.h"
#include "weir/v1/query.pb.h"

namespace weir {
namespace {

// ShortEnumName of a generated enum's value.
template <typename Enum>
std::string ShortNameOf(Enum value) {
  return ShortEnumName(
      *google::protobuf::GetEnumDescriptor<Enum>()->FindValueByNumber(value));
}

TEST(EnumNamesTest, PrefixIsTheTypeNameInUpperSnakeCase) {
  EXPECT_EQ(EnumValuePrefix(*weir::v1::GroupBy_descriptor()), "GROUP_BY_");
  EXPECT_EQ(EnumValuePrefix(*weir::v1::OrderBy_descriptor()), "ORDER_BY_");
  EXPECT_EQ(EnumValuePrefix(*weir::v1::Direction_descriptor()), "DIRECTION_");
  EXPECT_EQ(EnumValuePrefix(*weir::v1::IpVersion_descriptor()), "IP_VERSION_");
  EXPECT_EQ(EnumValuePrefix(*weir::v1::AddressClass_descriptor()),
            "ADDRESS_CLASS_");
}

TEST(EnumNamesTest, ShortNamesDropThePrefix) {
  EXPECT_EQ(ShortNameOf(weir::v1::GROUP_BY_SRC_PORT), "src_port");
  EXPECT_EQ(ShortNameOf(weir::v1::DIRECTION_INGRESS), "ingress");
  EXPECT_EQ(ShortNameOf(weir::v1::ORDER_BY_UNSPECIFIED), "unspecified");
  // "4" would read as a number: IP_VERSION_4 has no short form.
  EXPECT_EQ(ShortNameOf(weir::v1::IP_VERSION_4), "");
}

TEST(EnumNamesTest, FindsEveryForm) {
  const google::protobuf::EnumDescriptor& group_by =
      *weir::v1::GroupBy_descriptor();
  struct Case {
    std::string text;
    int want;  // -1: none
  };
  for (const Case& c : {
           Case{"GROUP_BY_SRC", weir::v1::GROUP_BY_SRC},
           Case{"1", weir::v1::GROUP_BY_SRC},
           Case{"src", weir::v1::GROUP_BY_SRC},
           Case{"SRC", weir::v1::GROUP_BY_SRC},
           Case{"dst_port", weir::v1::GROUP_BY_DST_PORT},
           Case{"0", weir::v1::GROUP_BY_UNSPECIFIED},
           Case{"unspecified", weir::v1::GROUP_BY_UNSPECIFIED},
           Case{"", -1},
           Case{"99", -1},  // no such value
           Case{"-1", -1},
           Case{"1x", -1},
           Case{"group_by_src", -1},  // full names are exact
           Case{"GROUP_BY_", -1},
           Case{"sideways", -1},
           Case{"99999999999999999999", -1},
       }) {
    const google::protobuf::EnumValueDescriptor* value =
        FindEnumValue(group_by, c.text);
    EXPECT_EQ(value == nullptr ? -1 : value->number(), c.want) << c.text;
  }
  EXPECT_EQ(FindEnumValue(*weir::v1::IpVersion_descriptor(), "4")->name(),
            "IP_VERSION_4");
}

TEST(EnumNamesTest, FormsListEveryValue) {
  EXPECT_EQ(EnumValueForms(*weir::v1::OrderBy_descriptor()),
            "one of ORDER_BY_UNSPECIFIED, ORDER_BY_BYTES, ORDER_BY_PACKETS, "
            "ORDER_BY_FLOWS; in short unspecified, bytes, packets, flows; or "
            "its number");
  EXPECT_EQ(EnumValueForms(*weir::v1::IpVersion_descriptor()),
            "one of IP_VERSION_UNSPECIFIED, IP_VERSION_4, IP_VERSION_6; in "
            "short unspecified; or its number");
}

}  // namespace
}  // namespace weir
