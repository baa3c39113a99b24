// Conversions between the forms a flow takes in queryd: the compact ingest
// form (weir.v1.IngestFlow), the store's FlowRecord, and the API's Flow.
#ifndef WEIR_QUERYD_FLOW_RECORDS_H_
#define WEIR_QUERYD_FLOW_RECORDS_H_

#include <vector>

#include "queryd/store/store_types.h"
#include "weir/v1/flow.pb.h"
#include "weir/v1/ingest.pb.h"

namespace weir::queryd {

// The flows of a batch that passed store::ValidateBatch, with node and
// interface names resolved.
std::vector<store::FlowRecord> RecordsOf(const weir::v1::FlowBatch& batch);

// A flow as the API shows it: text addresses, address classes, timestamps.
weir::v1::Flow FlowToProto(const store::FlowRecord& record);

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_FLOW_RECORDS_H_
