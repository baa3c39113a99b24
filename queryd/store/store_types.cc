#include "queryd/store/store_types.h"

#include <algorithm>
#include <cstring>

namespace weir::store {

bool IsV4Mapped(const Address& address) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0,    0,
                                          0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(address.data(), kPrefix, sizeof(kPrefix)) == 0;
}

bool AddressFromBytes(absl::string_view bytes, Address* out) {
  if (bytes.size() == 16) {
    std::memcpy(out->data(), bytes.data(), 16);
    return true;
  }
  if (bytes.size() == 4) {
    out->fill(0);
    (*out)[10] = 0xff;
    (*out)[11] = 0xff;
    std::memcpy(out->data() + 12, bytes.data(), 4);
    return true;
  }
  return false;
}

Totals& Totals::operator+=(const Totals& other) {
  bytes += other.bytes;
  packets += other.packets;
  flows += other.flows;
  if (other.first_seen_unix_nano != 0 &&
      (first_seen_unix_nano == 0 ||
       other.first_seen_unix_nano < first_seen_unix_nano)) {
    first_seen_unix_nano = other.first_seen_unix_nano;
  }
  last_seen_unix_nano =
      std::max(last_seen_unix_nano, other.last_seen_unix_nano);
  damaged = damaged || other.damaged;
  return *this;
}

uint64_t NodeCounters::lost_packets() const {
  uint64_t sum = 0;
  for (const LossTotal& loss : losses) sum += loss.packets;
  return sum;
}

}  // namespace weir::store
