// Weir's version, shared by both binaries and sent by collectors in every
// batch (FlowBatch.collector_version).
#ifndef WEIR_COMMON_VERSION_H_
#define WEIR_COMMON_VERSION_H_

namespace weir {

inline constexpr char kWeirVersion[] = "0.1.0-dev";

}  // namespace weir

#endif  // WEIR_COMMON_VERSION_H_
