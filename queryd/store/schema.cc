#include "queryd/store/schema.h"

namespace weir::store {

absl::string_view FamilyName(Family family) {
  switch (family) {
    case Family::kRaw:
      return "raw";
    case Family::kMinute:
      return "m1";
    case Family::kHour:
      return "h1";
    case Family::kNodes:
      return "nodes";
    case Family::kMeta:
      return "meta";
    case Family::kPending:
      return "pending";
  }
  return "unknown";
}

absl::string_view TierName(Tier tier) {
  switch (tier) {
    case Tier::kRaw:
      return "raw";
    case Tier::kMinute:
      return "1m";
    case Tier::kHour:
      return "1h";
  }
  return "unknown";
}

Family TierFamily(Tier tier) {
  switch (tier) {
    case Tier::kRaw:
      return Family::kRaw;
    case Tier::kMinute:
      return Family::kMinute;
    case Tier::kHour:
      return Family::kHour;
  }
  return Family::kRaw;
}

absl::Duration TierResolution(Tier tier) {
  switch (tier) {
    case Tier::kRaw:
      return absl::Seconds(1);
    case Tier::kMinute:
      return absl::Minutes(1);
    case Tier::kHour:
      return absl::Hours(1);
  }
  return absl::Seconds(1);
}

uint16_t ShardCount(View view) {
  switch (view) {
    case View::kSrc:
    case View::kDst:
      return 64;
    case View::kPair:
      return 256;
    case View::kSrcPort:
    case View::kDstPort:
      return 16;
    case View::kProtocol:
    case View::kNode:
    case View::kNodeCounters:
      return 1;
  }
  return 1;
}

absl::string_view ViewName(View view) {
  switch (view) {
    case View::kSrc:
      return "src";
    case View::kDst:
      return "dst";
    case View::kPair:
      return "pair";
    case View::kSrcPort:
      return "src_port";
    case View::kDstPort:
      return "dst_port";
    case View::kProtocol:
      return "protocol";
    case View::kNode:
      return "node";
    case View::kNodeCounters:
      return "node_counters";
  }
  return "unknown";
}

bool IsKnownView(uint8_t id) {
  return id >= static_cast<uint8_t>(View::kSrc) &&
         id <= static_cast<uint8_t>(View::kNodeCounters);
}

}  // namespace weir::store
