#include "queryd/store/batch_validator.h"

#include <cstdint>
#include <limits>
#include <string>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "queryd/store/store_types.h"
#include "queryd/store/value_codec.h"
#include "weir/v1/flow.pb.h"

namespace weir::store {
namespace {

constexpr uint64_t kMaxUnixNano = std::numeric_limits<int64_t>::max();

// A field's name as a user finds it in the proto ("seq", "flows[3].src_addr"),
// spelled out only when a check fails: a valid batch of 1000 flows would
// otherwise build thousands of strings it never shows.
class Field {
 public:
  Field(const char* name) : name_(name) {}  // NOLINT: a top-level field.
  Field(const char* list, int index, absl::string_view name)
      : list_(list), index_(index), name_(name) {}

  std::string str() const {
    if (list_ == nullptr) return std::string{name_};
    return absl::StrCat(list_, "[", index_, "].", name_);
  }

 private:
  const char* list_ = nullptr;
  int index_ = 0;
  absl::string_view name_;
};

absl::Status Invalid(const Field& field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field.str(), ": ", problem));
}

absl::Status CheckMax(const Field& field, uint64_t value, uint64_t max) {
  if (value <= max) return absl::OkStatus();
  return Invalid(field, absl::StrCat("must be at most ", max, ", got ", value));
}

absl::Status CheckTimestamp(const Field& field, uint64_t unix_nano) {
  if (unix_nano == 0) return Invalid(field, "must be set");
  if (unix_nano > kMaxUnixNano) {
    return Invalid(field, absl::StrCat("out of range (", unix_nano,
                                       " ns is after the year 2262)"));
  }
  return absl::OkStatus();
}

absl::Status CheckAddress(const Field& field, const std::string& bytes,
                          Address* out) {
  if (!AddressFromBytes(bytes, out)) {
    return Invalid(field,
                   absl::StrCat("must be 4 or 16 bytes, got ", bytes.size()));
  }
  return absl::OkStatus();
}

// What one flow record may claim: no more than a link of
// kMaxLinkBytesPerSecond / kMaxLinkPacketsPerSecond carries in the
// record's first-to-last-seen span plus kFlowSlack, the span counted up to
// kMaxFlowSpan (see batch_validator.h).
absl::Status CheckFlowBound(const Field& field, uint64_t value,
                            uint64_t per_second, const char* rate,
                            uint64_t span_ns) {
  const uint64_t allowance_ns = FlowAllowanceNanos(span_ns);
  const uint64_t max = FlowBound(per_second, span_ns);
  if (value <= max) return absl::OkStatus();
  return Invalid(
      field,
      absl::StrCat(value, " is more than a link of ", rate, " carries in ",
                   absl::FormatDuration(absl::Nanoseconds(allowance_ns)),
                   " (last_seen - first_seen + 1s, at most 1 day): at most ",
                   max));
}

// a + b, false on overflow.
bool AddChecked(uint64_t a, uint64_t b, uint64_t* sum) {
  *sum = a + b;
  return *sum >= a;
}

absl::Status ValidateFlow(
    const weir::v1::IngestFlow& flow, int index,
    const absl::flat_hash_map<uint32_t, int>& interfaces) {
  auto field = [index](const char* name) {
    return Field("flows", index, name);
  };
  if (!interfaces.contains(flow.ifindex())) {
    return Invalid(field("ifindex"),
                   absl::StrCat(flow.ifindex(), " is not in interfaces"));
  }
  if (flow.direction() == weir::v1::DIRECTION_UNSPECIFIED) {
    return Invalid(field("direction"), "must be set");
  }
  if (!weir::v1::Direction_IsValid(flow.direction())) {
    return Invalid(field("direction"),
                   absl::StrCat("unknown value ", flow.direction()));
  }
  WEIR_RETURN_IF_ERROR(CheckMax(field("protocol"), flow.protocol(), 255));
  Address src, dst;
  WEIR_RETURN_IF_ERROR(CheckAddress(field("src_addr"), flow.src_addr(), &src));
  WEIR_RETURN_IF_ERROR(CheckAddress(field("dst_addr"), flow.dst_addr(), &dst));
  if (IsV4Mapped(src) != IsV4Mapped(dst)) {
    return Invalid(
        field("dst_addr"),
        absl::StrCat(IsV4Mapped(dst) ? "IPv4" : "IPv6", " but src_addr is ",
                     IsV4Mapped(src) ? "IPv4" : "IPv6"));
  }
  for (const auto& [name, value, max] :
       {std::make_tuple("src_port", flow.src_port(), 65535u),
        std::make_tuple("dst_port", flow.dst_port(), 65535u),
        std::make_tuple("icmp_type", flow.icmp_type(), 255u),
        std::make_tuple("icmp_code", flow.icmp_code(), 255u),
        std::make_tuple("tcp_flags", flow.tcp_flags(), 255u)}) {
    WEIR_RETURN_IF_ERROR(CheckMax(field(name), value, max));
  }
  if (flow.packets() == 0)
    return Invalid(field("packets"), "must be at least 1");
  WEIR_RETURN_IF_ERROR(CheckTimestamp(field("first_seen_unix_nano"),
                                      flow.first_seen_unix_nano()));
  WEIR_RETURN_IF_ERROR(
      CheckTimestamp(field("last_seen_unix_nano"), flow.last_seen_unix_nano()));
  if (flow.last_seen_unix_nano() < flow.first_seen_unix_nano()) {
    return Invalid(field("last_seen_unix_nano"),
                   absl::StrCat(flow.last_seen_unix_nano(),
                                " is before first_seen_unix_nano ",
                                flow.first_seen_unix_nano()));
  }
  return absl::OkStatus();
}

absl::Status ValidateCounters(const weir::v1::Counters& counters,
                              uint64_t flow_packets, uint64_t flow_bytes) {
  if (counters.packets_exported() != flow_packets) {
    return Invalid("counters.packets_exported",
                   absl::StrCat(counters.packets_exported(),
                                " but flows[].packets sum to ", flow_packets));
  }
  if (counters.bytes_exported() != flow_bytes) {
    return Invalid("counters.bytes_exported",
                   absl::StrCat(counters.bytes_exported(),
                                " but flows[].bytes sum to ", flow_bytes));
  }
  absl::flat_hash_map<int, int> seen;
  for (int i = 0; i < counters.losses_size(); ++i) {
    const Field field("counters.losses", i, "reason");
    const int reason = counters.losses(i).reason();
    if (reason == weir::v1::LOSS_REASON_UNSPECIFIED) {
      return Invalid(field, "must be set");
    }
    if (!weir::v1::LossReason_IsValid(reason) ||
        LossBytesSlot(reason) >= kMaxCounterSlots) {
      return Invalid(field, absl::StrCat("unknown value ", reason));
    }
    const weir::v1::LossCount& loss = counters.losses(i);
    WEIR_RETURN_IF_ERROR(
        CheckMax(Field("counters.losses", i, "packets"), loss.packets(),
                 FlowBound(kMaxLinkPacketsPerSecond, kMaxFlowSpanNanos)));
    WEIR_RETURN_IF_ERROR(
        CheckMax(Field("counters.losses", i, "bytes"), loss.bytes(),
                 FlowBound(kMaxLinkBytesPerSecond, kMaxFlowSpanNanos)));
    auto [it, inserted] = seen.emplace(reason, i);
    if (!inserted) {
      return Invalid(
          field, absl::StrCat(weir::v1::LossReason_Name(reason),
                              " is also in counters.losses[", it->second, "]"));
    }
  }
  return absl::OkStatus();
}

// After ValidateFlow (first_seen <= last_seen): packets and bytes within
// what a link carries in the record's span.
absl::Status CheckFlowBounds(const weir::v1::IngestFlow& flow, int index) {
  const uint64_t span_ns =
      flow.last_seen_unix_nano() - flow.first_seen_unix_nano();
  WEIR_RETURN_IF_ERROR(CheckFlowBound(Field("flows", index, "packets"),
                                      flow.packets(), kMaxLinkPacketsPerSecond,
                                      "2^33 packets/s", span_ns));
  return CheckFlowBound(Field("flows", index, "bytes"), flow.bytes(),
                        kMaxLinkBytesPerSecond, "2^38 bytes/s (2.2 Tb/s)",
                        span_ns);
}

}  // namespace

uint64_t FlowAllowanceNanos(uint64_t span_ns) {
  return span_ns >= kMaxFlowSpanNanos - kFlowSlackNanos
             ? kMaxFlowSpanNanos
             : span_ns + kFlowSlackNanos;
}

uint64_t FlowBound(uint64_t per_second, uint64_t span_ns) {
  // At most 2^38 * 86400e9 / 1e9 < 2^55: the product needs 128 bits, the
  // result fits in 64.
  const unsigned __int128 product =
      static_cast<unsigned __int128>(per_second) * FlowAllowanceNanos(span_ns);
  return static_cast<uint64_t>(product / 1000000000u);
}

absl::Status ValidateBatch(const weir::v1::FlowBatch& batch) {
  if (batch.node().empty()) return Invalid("node", "must not be empty");
  if (batch.node().size() > kMaxNodeNameSize) {
    return Invalid("node", absl::StrCat("must be at most ", kMaxNodeNameSize,
                                        " bytes, got ", batch.node().size()));
  }
  if (batch.seq() == 0) return Invalid("seq", "must be at least 1, got 0");
  WEIR_RETURN_IF_ERROR(CheckTimestamp("interval_start_unix_nano",
                                      batch.interval_start_unix_nano()));
  WEIR_RETURN_IF_ERROR(
      CheckTimestamp("interval_end_unix_nano", batch.interval_end_unix_nano()));
  if (batch.interval_end_unix_nano() < batch.interval_start_unix_nano()) {
    return Invalid("interval_end_unix_nano",
                   absl::StrCat(batch.interval_end_unix_nano(),
                                " is before interval_start_unix_nano ",
                                batch.interval_start_unix_nano()));
  }
  if (batch.collector_version().size() > kMaxCollectorVersionSize) {
    return Invalid(
        "collector_version",
        absl::StrCat("must be at most ", kMaxCollectorVersionSize,
                     " bytes, got ", batch.collector_version().size()));
  }

  absl::flat_hash_map<uint32_t, int> interfaces;
  for (int i = 0; i < batch.interfaces_size(); ++i) {
    const weir::v1::Interface& interface = batch.interfaces(i);
    if (interface.name().empty()) {
      return Invalid(Field("interfaces", i, "name"), "must not be empty");
    }
    if (interface.name().size() > kMaxIfnameSize) {
      return Invalid(Field("interfaces", i, "name"),
                     absl::StrCat("must be at most ", kMaxIfnameSize,
                                  " bytes, got ", interface.name().size()));
    }
    auto [it, inserted] = interfaces.emplace(interface.ifindex(), i);
    if (!inserted) {
      return Invalid(Field("interfaces", i, "ifindex"),
                     absl::StrCat(interface.ifindex(),
                                  " is also in interfaces[", it->second, "]"));
    }
  }

  uint64_t packets = 0;
  uint64_t bytes = 0;
  for (int i = 0; i < batch.flows_size(); ++i) {
    const weir::v1::IngestFlow& flow = batch.flows(i);
    WEIR_RETURN_IF_ERROR(ValidateFlow(flow, i, interfaces));
    if (!AddChecked(packets, flow.packets(), &packets)) {
      return Invalid(Field("flows", i, "packets"),
                     "the sum over flows overflows 64 bits");
    }
    if (!AddChecked(bytes, flow.bytes(), &bytes)) {
      return Invalid(Field("flows", i, "bytes"),
                     "the sum over flows overflows 64 bits");
    }
    // After the sums: a sum that overflows is named as such.
    WEIR_RETURN_IF_ERROR(CheckFlowBounds(flow, i));
  }
  return ValidateCounters(batch.counters(), packets, bytes);
}

}  // namespace weir::store
