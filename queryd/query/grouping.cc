#include "queryd/query/grouping.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "queryd/store/tier_chooser.h"

namespace weir::query {
namespace {

std::string AddressText(const store::Address& address) {
  absl::StatusOr<IpAddress> ip = IpAddress::FromBytes(address);
  return ip.ok() ? ip->ToString() : std::string();
}

uint64_t Metric(const GroupTotals& totals, weir::v1::OrderBy order_by) {
  switch (order_by) {
    case weir::v1::ORDER_BY_PACKETS:
      return totals.packets;
    case weir::v1::ORDER_BY_FLOWS:
      return totals.flows;
    default:
      return totals.bytes;
  }
}

}  // namespace

uint32_t GroupDimensions(weir::v1::GroupBy group_by) {
  switch (group_by) {
    case weir::v1::GROUP_BY_SRC:
      return store::kDimSrcAddr;
    case weir::v1::GROUP_BY_DST:
      return store::kDimDstAddr;
    case weir::v1::GROUP_BY_PAIR:
      return store::kDimSrcAddr | store::kDimDstAddr;
    case weir::v1::GROUP_BY_SRC_PORT:
      return store::kDimProtocol | store::kDimSrcPort;
    case weir::v1::GROUP_BY_DST_PORT:
      return store::kDimProtocol | store::kDimDstPort;
    case weir::v1::GROUP_BY_PROTOCOL:
      return store::kDimProtocol;
    case weir::v1::GROUP_BY_NODE:
      return store::kDimNode;
    case weir::v1::GROUP_BY_INTERFACE:
      return store::kDimNode | store::kDimInterface;
    case weir::v1::GROUP_BY_DIRECTION:
      return store::kDimDirection;
    default:
      return 0;
  }
}

GroupKey GroupKeyOf(weir::v1::GroupBy group_by, const store::FlowRecord& flow) {
  GroupKey key;
  switch (group_by) {
    case weir::v1::GROUP_BY_SRC:
      key.src_addr = flow.src_addr;
      break;
    case weir::v1::GROUP_BY_DST:
      key.dst_addr = flow.dst_addr;
      break;
    case weir::v1::GROUP_BY_PAIR:
      key.src_addr = flow.src_addr;
      key.dst_addr = flow.dst_addr;
      break;
    case weir::v1::GROUP_BY_SRC_PORT:
      key.protocol = flow.protocol;
      key.port = flow.src_port;
      break;
    case weir::v1::GROUP_BY_DST_PORT:
      key.protocol = flow.protocol;
      key.port = flow.dst_port;
      break;
    case weir::v1::GROUP_BY_PROTOCOL:
      key.protocol = flow.protocol;
      break;
    case weir::v1::GROUP_BY_NODE:
      key.node = flow.node;
      break;
    case weir::v1::GROUP_BY_INTERFACE:
      key.node = flow.node;
      key.ifname = flow.ifname;
      break;
    case weir::v1::GROUP_BY_DIRECTION:
      key.direction = flow.direction;
      break;
    default:
      break;
  }
  return key;
}

GroupKey GroupKeyOf(weir::v1::GroupBy group_by,
                    const store::RollupEntry& entry) {
  GroupKey key;
  switch (group_by) {
    case weir::v1::GROUP_BY_SRC:
      key.src_addr = entry.src_addr;
      break;
    case weir::v1::GROUP_BY_DST:
      key.dst_addr = entry.dst_addr;
      break;
    case weir::v1::GROUP_BY_PAIR:
      key.src_addr = entry.src_addr;
      key.dst_addr = entry.dst_addr;
      break;
    case weir::v1::GROUP_BY_SRC_PORT:
    case weir::v1::GROUP_BY_DST_PORT:
      // Only kSrcPort keeps source ports and only kDstPort destination
      // ports, so the entry's one port is the grouping's.
      key.protocol = entry.protocol;
      key.port = entry.port;
      break;
    case weir::v1::GROUP_BY_PROTOCOL:
      key.protocol = entry.protocol;
      break;
    case weir::v1::GROUP_BY_NODE:
      key.node = entry.node;
      break;
    case weir::v1::GROUP_BY_INTERFACE:
      key.node = entry.node;
      key.ifname = entry.ifname;
      break;
    case weir::v1::GROUP_BY_DIRECTION:
      key.direction = entry.direction;
      break;
    default:
      break;
  }
  return key;
}

void SetGroupFields(weir::v1::GroupBy group_by, const GroupKey& key,
                    weir::v1::Talker* talker) {
  switch (group_by) {
    case weir::v1::GROUP_BY_SRC:
      talker->set_src_addr(AddressText(key.src_addr));
      break;
    case weir::v1::GROUP_BY_DST:
      talker->set_dst_addr(AddressText(key.dst_addr));
      break;
    case weir::v1::GROUP_BY_PAIR:
      talker->set_src_addr(AddressText(key.src_addr));
      talker->set_dst_addr(AddressText(key.dst_addr));
      break;
    case weir::v1::GROUP_BY_SRC_PORT:
    case weir::v1::GROUP_BY_DST_PORT:
      talker->set_protocol(key.protocol);
      talker->set_port(key.port);
      break;
    case weir::v1::GROUP_BY_PROTOCOL:
      talker->set_protocol(key.protocol);
      break;
    case weir::v1::GROUP_BY_NODE:
      talker->set_node(key.node);
      break;
    case weir::v1::GROUP_BY_INTERFACE:
      talker->set_node(key.node);
      talker->set_ifname(key.ifname);
      break;
    case weir::v1::GROUP_BY_DIRECTION:
      talker->set_direction(key.direction);
      break;
    default:
      break;
  }
}

GroupRanker::GroupRanker(weir::v1::OrderBy order_by, size_t limit)
    : order_by_(order_by), limit_(limit) {}

bool GroupRanker::Better(const RankedGroup& a, const RankedGroup& b) const {
  const uint64_t ma = Metric(a.second, order_by_);
  const uint64_t mb = Metric(b.second, order_by_);
  if (ma != mb) return ma > mb;
  return a.first < b.first;
}

void GroupRanker::Add(const GroupKey& key, const GroupTotals& totals) {
  if (limit_ == 0) return;
  const auto better = [this](const RankedGroup& a, const RankedGroup& b) {
    return Better(a, b);
  };
  if (best_.size() < limit_) {
    best_.emplace_back(key, totals);
    std::push_heap(best_.begin(), best_.end(), better);
    return;
  }
  // Most groups lose to the worst kept one: compare before copying the key.
  const uint64_t metric = Metric(totals, order_by_);
  const uint64_t worst = Metric(best_.front().second, order_by_);
  if (metric < worst || (metric == worst && !(key < best_.front().first))) {
    return;
  }
  std::pop_heap(best_.begin(), best_.end(), better);
  best_.back() = RankedGroup(key, totals);
  std::push_heap(best_.begin(), best_.end(), better);
}

std::vector<RankedGroup> GroupRanker::Take() {
  std::sort_heap(best_.begin(), best_.end(),
                 [this](const RankedGroup& a, const RankedGroup& b) {
                   return Better(a, b);
                 });
  std::vector<RankedGroup> ranked = std::move(best_);
  best_.clear();
  return ranked;
}

std::vector<RankedGroup> RankGroups(const GroupMap& groups,
                                    weir::v1::OrderBy order_by, size_t limit) {
  GroupRanker ranker(order_by, limit);
  for (const auto& [key, totals] : groups) ranker.Add(key, totals);
  return ranker.Take();
}

}  // namespace weir::query
