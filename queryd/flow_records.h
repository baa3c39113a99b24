// The API's form of a flow record (ingested batches become records through
// store::FlowRecordsOf).
#ifndef WEIR_QUERYD_FLOW_RECORDS_H_
#define WEIR_QUERYD_FLOW_RECORDS_H_

#include <vector>

#include "queryd/store/store_types.h"
#include "weir/v1/flow.pb.h"

namespace weir::queryd {

// A flow as the API shows it: text addresses, address classes, timestamps.
weir::v1::Flow FlowToProto(const store::FlowRecord& record);

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_FLOW_RECORDS_H_
