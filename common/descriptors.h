// The process's file descriptors: its limit and how many are open, for
// servers that keep a share of them for files (docs/design.md §3,
// "Resource faults").
#ifndef WEIR_COMMON_DESCRIPTORS_H_
#define WEIR_COMMON_DESCRIPTORS_H_

namespace weir {

// RLIMIT_NOFILE's soft limit (at most 2^30), or 1024 when it cannot be read.
int DescriptorLimit();

// Descriptors open now (the entries of /proc/self/fd, less the one reading
// them), or -1 when that cannot be read (no descriptor left to read it
// with).
int OpenDescriptors();

}  // namespace weir

#endif  // WEIR_COMMON_DESCRIPTORS_H_
