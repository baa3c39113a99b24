#include "queryd/live_table.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/saturating.h"
#include "common/status_macros.h"
#include "queryd/query/flow_filter.h"
#include "queryd/query/page_token.h"
#include "queryd/query/proto_convert.h"
#include "queryd/query/request_validation.h"

namespace weir::queryd {

LiveTable::Key LiveTable::Key::Of(const store::FlowRecord& r, uint32_t node) {
  return Key{node,        r.ifindex,   r.direction, r.protocol,
             r.src_addr,  r.dst_addr,  r.src_port,  r.dst_port,
             r.icmp_type, r.icmp_code, r.fragment};
}

uint32_t LiveTable::NodeIndexLocked(const std::string& node) {
  const auto [it, added] = node_indexes_.try_emplace(
      node, static_cast<uint32_t>(node_names_.size()));
  if (added) node_names_.push_back(node);
  return it->second;
}

void LiveTable::Add(const std::vector<store::FlowRecord>& flows,
                    absl::Time now) {
  const int64_t cutoff = absl::ToUnixNanos(now - options_.connection_timeout);
  absl::MutexLock lock(&mu_);
  // A batch's flows share their node: look its index up once per run.
  const std::string* node = nullptr;
  uint32_t node_index = 0;
  for (const store::FlowRecord& flow : flows) {
    if (node == nullptr || flow.node != *node) {
      node = &flow.node;
      node_index = NodeIndexLocked(flow.node);
    }
    const Key key = Key::Of(flow, node_index);
    auto [it, added] = table_.try_emplace(key, Entry{});
    if (added) {
      // Past the timeout already (a late or resent batch): not an active
      // connection, and it must not take the place of one.
      if (static_cast<int64_t>(flow.last_seen_unix_nano) < cutoff) {
        table_.erase(it);
        continue;
      }
      if (table_.size() > options_.max_connections) {
        // Connections past the timeout make room first (a sweep at most
        // once a second): otherwise a table nobody read would fill with
        // them and turn active ones away.
        table_.erase(it);
        ExpireLocked(now);
        if (table_.size() >= options_.max_connections) {
          ++overflow_;
          continue;
        }
        it = table_.try_emplace(key, Entry{}).first;
      }
      it->second.first_seen_unix_nano = flow.first_seen_unix_nano;
    }
    Entry& entry = it->second;
    if (entry.ifname != flow.ifname) entry.ifname = flow.ifname;
    SaturatingAddTo(entry.packets, flow.packets);
    SaturatingAddTo(entry.bytes, flow.bytes);
    entry.first_seen_unix_nano =
        std::min(entry.first_seen_unix_nano, flow.first_seen_unix_nano);
    entry.last_seen_unix_nano =
        std::max(entry.last_seen_unix_nano, flow.last_seen_unix_nano);
    entry.tcp_flags |= flow.tcp_flags;
  }
}

void LiveTable::ExpireLocked(absl::Time now) {
  // Sweeping costs a pass over the table; once a second is plenty.
  if (now - last_expiry_ < absl::Seconds(1)) return;
  last_expiry_ = now;
  const int64_t cutoff = absl::ToUnixNanos(now - options_.connection_timeout);
  absl::erase_if(table_, [cutoff](const auto& item) {
    return static_cast<int64_t>(item.second.last_seen_unix_nano) < cutoff;
  });
}

store::FlowRecord LiveTable::ToRecordLocked(const Key& key,
                                            const Entry& entry) const {
  store::FlowRecord r;
  r.node = node_names_[key.node];
  r.ifindex = key.ifindex;
  r.ifname = entry.ifname;
  r.direction = key.direction;
  r.protocol = key.protocol;
  r.src_addr = key.src;
  r.dst_addr = key.dst;
  r.src_port = key.src_port;
  r.dst_port = key.dst_port;
  r.icmp_type = key.icmp_type;
  r.icmp_code = key.icmp_code;
  r.fragment = key.fragment;
  r.tcp_flags = entry.tcp_flags;
  r.packets = entry.packets;
  r.bytes = entry.bytes;
  r.first_seen_unix_nano = entry.first_seen_unix_nano;
  r.last_seen_unix_nano = entry.last_seen_unix_nano;
  return r;
}

std::string LiveTable::PagingKeyLocked(const Key& key) const {
  const std::string& node = node_names_[key.node];
  std::string bytes;
  bytes.reserve(2 + node.size() + 4 + 2 + 32 + 4 + 3);
  // Node names are at most 255 bytes (store::kMaxNodeNameSize); two bytes
  // of length leave room.
  bytes.push_back(static_cast<char>((node.size() >> 8) & 0xff));
  bytes.push_back(static_cast<char>(node.size() & 0xff));
  bytes.append(node);
  for (int shift = 24; shift >= 0; shift -= 8) {
    bytes.push_back(static_cast<char>((key.ifindex >> shift) & 0xff));
  }
  bytes.push_back(static_cast<char>(key.direction));
  bytes.push_back(static_cast<char>(key.protocol));
  bytes.append(reinterpret_cast<const char*>(key.src.data()), key.src.size());
  bytes.append(reinterpret_cast<const char*>(key.dst.data()), key.dst.size());
  for (uint16_t port : {key.src_port, key.dst_port}) {
    bytes.push_back(static_cast<char>(port >> 8));
    bytes.push_back(static_cast<char>(port & 0xff));
  }
  bytes.push_back(static_cast<char>(key.icmp_type));
  bytes.push_back(static_cast<char>(key.icmp_code));
  bytes.push_back(key.fragment ? 1 : 0);
  return bytes;
}

absl::StatusOr<weir::v1::ListConnectionsResponse> LiveTable::ListPage(
    const weir::v1::ListConnectionsRequest& request,
    const query::FlowFilter& filter, absl::Time now) {
  if (request.limit() != 0) {
    return absl::InvalidArgumentError(
        "limit: cannot be combined with page_size or page_token (limit ranks "
        "the top connections; pages list every connection in key order)");
  }
  if (request.order_by() != weir::v1::ORDER_BY_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "order_by: cannot be combined with page_size or page_token (pages "
        "list every connection in key order, which stays fixed while "
        "counters grow)");
  }
  if (request.page_size() < 0 ||
      static_cast<uint32_t>(request.page_size()) > options_.max_page_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size: ", request.page_size(), " is outside 0..",
        options_.max_page_size, " (0 means ", options_.default_page_size, ")"));
  }
  const size_t page_size = request.page_size() == 0
                               ? options_.default_page_size
                               : static_cast<size_t>(request.page_size());
  // The token belongs to the filter it was issued for.
  weir::v1::ListConnectionsRequest query = request;
  query.clear_page_size();
  query.clear_page_token();
  const uint64_t fingerprint = query::QueryFingerprint(query);
  std::string after;
  if (!request.page_token().empty()) {
    absl::StatusOr<query::KeyPageToken> token =
        query::DecodeKeyPageToken(request.page_token());
    if (!token.ok()) return token.status();
    if (token->fingerprint != fingerprint) {
      return absl::InvalidArgumentError(
          "page_token: does not belong to this query; a token is only valid "
          "with the filter of the request that returned it");
    }
    after = std::move(token->after);
  }

  const int64_t cutoff = absl::ToUnixNanos(now - options_.connection_timeout);
  uint64_t total = 0;
  // The matching connections after the token's key, by key.
  std::vector<std::pair<std::string, store::FlowRecord>> next;
  {
    absl::MutexLock lock(&mu_);
    ExpireLocked(now);
    for (const auto& [key, entry] : table_) {
      if (static_cast<int64_t>(entry.last_seen_unix_nano) < cutoff) continue;
      store::FlowRecord record = ToRecordLocked(key, entry);
      if (!filter.Matches(record)) continue;
      ++total;
      std::string bytes = PagingKeyLocked(key);
      if (!after.empty() && bytes <= after) continue;
      next.emplace_back(std::move(bytes), std::move(record));
    }
  }
  const auto by_key = [](const auto& a, const auto& b) {
    return a.first < b.first;
  };
  const size_t shown = std::min(page_size, next.size());
  std::partial_sort(next.begin(), next.begin() + shown, next.end(), by_key);

  weir::v1::ListConnectionsResponse response;
  response.set_total(total);
  for (size_t i = 0; i < shown; ++i) {
    query::FlowToProto(next[i].second, response.add_connections());
  }
  if (next.size() > shown) {
    response.set_next_page_token(query::EncodeKeyPageToken(
        {fingerprint, std::move(next[shown - 1].first)}));
  }
  return response;
}

absl::StatusOr<weir::v1::ListConnectionsResponse> LiveTable::List(
    const weir::v1::ListConnectionsRequest& request, absl::Time now) {
  WEIR_ASSIGN_OR_RETURN(query::FlowFilter filter,
                        query::FlowFilter::Compile(request.filter(), "filter"));
  if (request.page_size() != 0 || !request.page_token().empty()) {
    return ListPage(request, filter, now);
  }
  if (request.limit() < 0 ||
      static_cast<uint32_t>(request.limit()) > options_.max_limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limit: ", request.limit(), " is outside 0..", options_.max_limit,
        " (0 means ", options_.default_limit, ")"));
  }
  if (!weir::v1::OrderBy_IsValid(request.order_by())) {
    return absl::InvalidArgumentError(
        absl::StrCat("order_by: unknown value ", request.order_by(), "; use ",
                     query::KnownValues(*weir::v1::OrderBy_descriptor()),
                     " (ORDER_BY_UNSPECIFIED: packets)"));
  }
  const size_t limit =
      request.limit() == 0 ? options_.default_limit : request.limit();
  const int64_t cutoff = absl::ToUnixNanos(now - options_.connection_timeout);

  std::vector<store::FlowRecord> matches;
  {
    absl::MutexLock lock(&mu_);
    ExpireLocked(now);
    for (const auto& [key, entry] : table_) {
      if (static_cast<int64_t>(entry.last_seen_unix_nano) < cutoff) continue;
      store::FlowRecord record = ToRecordLocked(key, entry);
      if (filter.Matches(record)) matches.push_back(std::move(record));
    }
  }

  // Packets by default, as the seeds' /api/live. A connection is one flow,
  // so ORDER_BY_FLOWS ranks like packets. Ties: newest, then key text.
  const bool by_bytes = request.order_by() == weir::v1::ORDER_BY_BYTES;
  auto better = [by_bytes](const store::FlowRecord& a,
                           const store::FlowRecord& b) {
    const uint64_t va = by_bytes ? a.bytes : a.packets;
    const uint64_t vb = by_bytes ? b.bytes : b.packets;
    if (va != vb) return va > vb;
    if (a.last_seen_unix_nano != b.last_seen_unix_nano) {
      return a.last_seen_unix_nano > b.last_seen_unix_nano;
    }
    return std::tie(a.node, a.ifindex, a.direction, a.protocol, a.src_addr,
                    a.dst_addr, a.src_port, a.dst_port) <
           std::tie(b.node, b.ifindex, b.direction, b.protocol, b.src_addr,
                    b.dst_addr, b.src_port, b.dst_port);
  };
  const size_t shown = std::min(limit, matches.size());
  std::partial_sort(matches.begin(), matches.begin() + shown, matches.end(),
                    better);

  weir::v1::ListConnectionsResponse response;
  response.set_total(matches.size());
  for (size_t i = 0; i < shown; ++i) {
    query::FlowToProto(matches[i], response.add_connections());
  }
  return response;
}

size_t LiveTable::Count(absl::Time now) {
  const int64_t cutoff = absl::ToUnixNanos(now - options_.connection_timeout);
  absl::MutexLock lock(&mu_);
  ExpireLocked(now);
  return std::count_if(
      table_.begin(), table_.end(), [cutoff](const auto& item) {
        return static_cast<int64_t>(item.second.last_seen_unix_nano) >= cutoff;
      });
}

uint64_t LiveTable::overflow() const {
  absl::MutexLock lock(&mu_);
  return overflow_;
}

}  // namespace weir::queryd
