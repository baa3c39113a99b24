// The store's values as weir.v1 messages: text addresses, address classes,
// Timestamps. Shared by the query answers and, later, the live streams.

#ifndef WEIR_QUERYD_QUERY_PROTO_CONVERT_H_
#define WEIR_QUERYD_QUERY_PROTO_CONVERT_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "queryd/store/store_types.h"
#include "weir/v1/flow.pb.h"
#include "weir/v1/query.pb.h"

namespace weir::query {

// `t` must lie at or after the Unix epoch.
void TimeToProto(absl::Time t, google::protobuf::Timestamp* out);
void UnixNanosToProto(uint64_t unix_nano, google::protobuf::Timestamp* out);
void DurationToProto(absl::Duration d, google::protobuf::Duration* out);

// A stored flow as the API shows it: addresses as text ("192.0.2.7",
// "2001:db8::7"), ip_version from whether the source is IPv4-mapped, both
// sides classified (common/ip_address.h Classify).
void FlowToProto(const store::FlowRecord& flow, weir::v1::Flow* out);

void CountersToProto(const store::NodeCounters& counters,
                     weir::v1::Counters* out);

// A node as ListNodes shows it; `connected` comes from the ingest layer.
void NodeToProto(const store::NodeInfo& node, bool connected,
                 weir::v1::Node* out);

}  // namespace weir::query

#endif  // WEIR_QUERYD_QUERY_PROTO_CONVERT_H_
