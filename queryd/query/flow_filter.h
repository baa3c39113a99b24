// A FlowFilter from a request, checked once and compiled for matching.
//
// Every field of weir.v1.FlowFilter is optional; set fields are ANDed and the
// values inside one repeated field are ORed. Compile() validates each value
// and names the offending field ("filter.src_addr[1]: ..."), so bad input is
// INVALID_ARGUMENT and never a silent default.
#ifndef WEIR_QUERYD_QUERY_FLOW_FILTER_H_
#define WEIR_QUERYD_QUERY_FLOW_FILTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cidr.h"
#include "queryd/store/store_types.h"
#include "queryd/store/tier_chooser.h"
#include "weir/v1/query.pb.h"

namespace weir::query {

class FlowFilter {
 public:
  // Validates and compiles `filter`. `field` is the request field's name,
  // used as the prefix of error messages (usually "filter").
  static absl::StatusOr<FlowFilter> Compile(const weir::v1::FlowFilter& filter,
                                            absl::string_view field = "filter");

  // A filter that matches everything.
  FlowFilter() = default;

  bool Matches(const store::FlowRecord& flow) const;

  // Matches a rollup entry on the dimensions its view carries. False when
  // the filter constrains a dimension the view does not keep
  // (store::ViewDimensions); the tier chooser never picks such a view.
  bool Matches(const store::RollupEntry& entry) const;

  // Bitwise OR of the store::Dimension values this filter constrains.
  uint32_t Dimensions() const { return dimensions_; }

  bool empty() const { return dimensions_ == 0; }

 private:
  static bool AnyCidrContains(const std::vector<Cidr>& cidrs,
                              const store::Address& address);

  uint32_t dimensions_ = 0;
  std::vector<std::string> nodes_;
  std::vector<std::string> interfaces_;
  weir::v1::Direction direction_ = weir::v1::DIRECTION_UNSPECIFIED;
  std::vector<uint8_t> protocols_;
  std::vector<Cidr> either_addr_;
  std::vector<Cidr> src_addr_;
  std::vector<Cidr> dst_addr_;
  std::vector<uint16_t> either_port_;
  std::vector<uint16_t> src_port_;
  std::vector<uint16_t> dst_port_;
};

// Parses a protocol given by name ("tcp", "udp", "icmp", "icmpv6", any case)
// or IANA number ("0".."255").
absl::StatusOr<uint8_t> ParseProtocol(absl::string_view text);

// "tcp", "udp", "icmp", "icmpv6", or the number as text.
std::string ProtocolName(uint8_t protocol);

}  // namespace weir::query

#endif  // WEIR_QUERYD_QUERY_FLOW_FILTER_H_
