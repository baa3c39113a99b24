// glibc malloc settings for weir-queryd's allocation pattern.
//
// A rollup flush and a top-N query each build tables and vectors of tens
// of MB and free them again. By default glibc serves such blocks with mmap
// and returns them to the kernel when freed (its threshold moves with what
// was freed last), so the next flush or query takes a page fault on every
// page of fresh memory: a fifth of a day's top-N, and whether it did
// depended on which query had run before (57 ms or 120 ms for the same
// query). With blocks up to 64 MiB taken from the heap, and the heap's top
// given back only beyond 128 MiB free, the memory is reused: the same
// query is 57 ms every time and direct ingest ~8 % faster. The price is up
// to that much free heap kept in RSS.

#ifndef WEIR_QUERYD_MALLOC_TUNING_H_
#define WEIR_QUERYD_MALLOC_TUNING_H_

namespace weir::queryd {

// Sets M_MMAP_THRESHOLD to 64 MiB and M_TRIM_THRESHOLD to 128 MiB (the
// environment's MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_, when set,
// win). Call first thing in main.
void TuneMalloc();

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_MALLOC_TUNING_H_
