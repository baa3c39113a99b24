#include "queryd/malloc_tuning.h"

#include <malloc.h>

#include <cstdlib>

namespace weir::queryd {

void TuneMalloc() {
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) {
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
  }
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr) {
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
  }
}

}  // namespace weir::queryd
