// Named crash points for crash tests.
//
// WEIR_FAULT_POINT("spool.after_write_before_fsync") aborts the process when
// the environment variable WEIR_FAULT names that point; "name@N" aborts at
// the point's Nth hit (counted from 1). The variable is read once.
//
// Only code compiled with WEIR_FAULT_POINTS defined has fault points. Bazel
// defines it for the testonly `*_fault_injection` libraries (local_defines),
// which production binaries cannot depend on; everywhere else
// WEIR_FAULT_ARMED is the constant false and the environment is never read,
// so no environment can make a production binary abort.
#ifndef WEIR_COLLECTOR_FAULT_POINT_H_
#define WEIR_COLLECTOR_FAULT_POINT_H_

#include <cstdlib>

#ifdef WEIR_FAULT_POINTS

#include "absl/strings/string_view.h"

namespace weir::collector::fault {
// True when WEIR_FAULT names `point` and this is the hit it asks for.
bool Armed(absl::string_view point);
}  // namespace weir::collector::fault

#define WEIR_FAULT_ARMED(point) (::weir::collector::fault::Armed(point))

#else

#define WEIR_FAULT_ARMED(point) false

#endif

#define WEIR_FAULT_POINT(point)           \
  do {                                    \
    if (WEIR_FAULT_ARMED(point)) abort(); \
  } while (false)

#endif  // WEIR_COLLECTOR_FAULT_POINT_H_
