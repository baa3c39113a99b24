// Groups of TopTalkers and TimeSeries: what a GroupBy keeps of a flow or a
// rollup entry, how groups are ranked, and how a group is shown.

#ifndef WEIR_QUERYD_QUERY_GROUPING_H_
#define WEIR_QUERYD_QUERY_GROUPING_H_

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "queryd/store/store_types.h"
#include "weir/v1/query.pb.h"

namespace weir::query {

// The store::Dimension bits a grouping needs; 0 for GROUP_BY_UNSPECIFIED.
uint32_t GroupDimensions(weir::v1::GroupBy group_by);

// One group's identity: the grouping's fields are set, the others keep
// their defaults. Ordered field by field (addresses by their bytes), which
// breaks ties between groups of equal totals deterministically.
struct GroupKey {
  store::Address src_addr{};
  store::Address dst_addr{};
  uint8_t protocol = 0;
  uint16_t port = 0;
  std::string node;
  std::string ifname;
  weir::v1::Direction direction = weir::v1::DIRECTION_UNSPECIFIED;

  auto Tie() const {
    return std::tie(src_addr, dst_addr, protocol, port, node, ifname,
                    direction);
  }
  friend bool operator==(const GroupKey& a, const GroupKey& b) {
    return a.Tie() == b.Tie();
  }
  friend bool operator<(const GroupKey& a, const GroupKey& b) {
    return a.Tie() < b.Tie();
  }
  template <typename H>
  friend H AbslHashValue(H h, const GroupKey& key) {
    return H::combine(std::move(h), key.src_addr, key.dst_addr, key.protocol,
                      key.port, key.node, key.ifname, key.direction);
  }
};

// The group of a raw flow record.
GroupKey GroupKeyOf(weir::v1::GroupBy group_by, const store::FlowRecord& flow);

// The group of a rollup entry. The entry's view must keep the grouping's
// dimensions (the tier chooser picks such a view).
GroupKey GroupKeyOf(weir::v1::GroupBy group_by,
                    const store::RollupEntry& entry);

// Sets the grouping's fields of `talker` (addresses as text); leaves the
// others and the totals alone.
void SetGroupFields(weir::v1::GroupBy group_by, const GroupKey& key,
                    weir::v1::Talker* talker);

// Totals of one group.
struct GroupTotals {
  uint64_t bytes = 0;
  uint64_t packets = 0;
  uint64_t flows = 0;
};

using GroupMap = absl::flat_hash_map<GroupKey, GroupTotals>;
using RankedGroup = std::pair<GroupKey, GroupTotals>;

// Keeps the `limit` best of the groups it is given, each group given once:
// by `order_by` (bytes, packets or flows) descending, equal totals by key
// ascending. `order_by` must be resolved (not ORDER_BY_UNSPECIFIED). Memory
// stays O(limit) however many groups pass, so a stream of groups that are
// already whole (each once) is ranked without a map of them all.
class GroupRanker {
 public:
  GroupRanker(weir::v1::OrderBy order_by, size_t limit);

  void Add(const GroupKey& key, const GroupTotals& totals);

  // The best groups, best first. Leaves the ranker empty.
  std::vector<RankedGroup> Take();

 private:
  bool Better(const RankedGroup& a, const RankedGroup& b) const;

  weir::v1::OrderBy order_by_;
  size_t limit_;
  // A heap of the best so far, the worst of them on top.
  std::vector<RankedGroup> best_;
};

// The `limit` best groups of `groups`, in GroupRanker's order.
std::vector<RankedGroup> RankGroups(const GroupMap& groups,
                                    weir::v1::OrderBy order_by, size_t limit);

}  // namespace weir::query

#endif  // WEIR_QUERYD_QUERY_GROUPING_H_
