// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// iSCSI (RFC 3720), ext4 metadata and LevelDB/RocksDB logs. Debian's Abseil
// 20220623 has no absl/crc, so this is a small table-driven one of our own;
// the spool checks a few megabytes a second at most.
#ifndef WEIR_COLLECTOR_CRC32C_H_
#define WEIR_COLLECTOR_CRC32C_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace weir::collector {

// Continues a CRC-32C over `size` more bytes: Crc32cExtend(0, ...) starts one,
// and Crc32cExtend(Crc32cExtend(0, a), b) equals the CRC of a followed by b.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

inline uint32_t Crc32c(absl::string_view data) {
  return Crc32cExtend(0, data.data(), data.size());
}

}  // namespace weir::collector

#endif  // WEIR_COLLECTOR_CRC32C_H_
