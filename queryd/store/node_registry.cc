#include "queryd/store/node_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "queryd/store/rocksdb_status.h"

namespace weir::store {
namespace {

NodeInfo ToNodeInfo(const std::string& name, const NodeState& state) {
  NodeInfo info;
  info.name = name;
  info.version = state.version;
  info.first_seen =
      absl::FromUnixNanos(static_cast<int64_t>(state.first_seen_unix_nano));
  info.last_seen =
      absl::FromUnixNanos(static_cast<int64_t>(state.last_seen_unix_nano));
  info.epoch = state.epoch;
  info.last_seq = state.seq;
  info.gaps = state.gaps;
  info.stale_batches = state.stale_batches;
  info.batches = state.batches;
  info.flows = state.flows;
  info.counters = CountersFromVector(state.counters);
  return info;
}

}  // namespace

NodeRegistry::NodeRegistry() : names_(std::make_shared<NodeNames>(1)) {}

absl::Status NodeRegistry::Load(const RocksDb& db) {
  absl::MutexLock lock(&mu_);
  auto names = std::make_shared<NodeNames>(1);
  std::unique_ptr<rocksdb::Iterator> it(
      db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(Family::kNodes)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string name = it->key().ToString();
    NodeState state;
    if (!DecodeNodeState(
            absl::string_view(it->value().data(), it->value().size()),
            &state) ||
        state.id == 0) {
      return absl::DataLossError(
          absl::StrCat("the stored state of node \"", name, "\" is corrupt"));
    }
    if (state.id < names->size() && !(*names)[state.id].empty()) {
      return absl::DataLossError(
          absl::StrCat("nodes \"", (*names)[state.id], "\" and \"", name,
                       "\" have the same id ", state.id));
    }
    if (state.id >= names->size()) names->resize(state.id + 1);
    (*names)[state.id] = name;
    auto entry = std::make_unique<NodeEntry>(name, state.id);
    {
      absl::MutexLock entry_lock(&entry->mu);
      entry->state = std::move(state);
      entry->persisted = true;
    }
    nodes_.emplace(name, std::move(entry));
  }
  WEIR_RETURN_IF_ERROR(FromRocksDb(it->status(), "loading node states"));
  names_ = std::move(names);
  return absl::OkStatus();
}

NodeEntry* NodeRegistry::FindOrAdd(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(name);
  if (it != nodes_.end()) return it->second.get();
  const uint32_t id = static_cast<uint32_t>(names_->size());
  auto names = std::make_shared<NodeNames>(*names_);
  names->push_back(name);
  names_ = std::move(names);
  auto entry = std::make_unique<NodeEntry>(name, id);
  NodeEntry* result = entry.get();
  nodes_.emplace(name, std::move(entry));
  return result;
}

std::shared_ptr<const NodeNames> NodeRegistry::names() const {
  absl::MutexLock lock(&mu_);
  return names_;
}

std::vector<NodeEntry*> NodeRegistry::Entries() const {
  absl::MutexLock lock(&mu_);
  std::vector<NodeEntry*> entries;
  entries.reserve(nodes_.size());
  for (const auto& [name, entry] : nodes_) entries.push_back(entry.get());
  return entries;
}

std::vector<NodeInfo> NodeRegistry::Nodes() const {
  // Entries are collected under mu_ but read under their own lock only, so
  // a slow (synced) write of one node holds up nobody else.
  std::vector<NodeInfo> nodes;
  for (NodeEntry* entry : Entries()) {
    absl::MutexLock lock(&entry->mu);
    if (entry->persisted) {
      nodes.push_back(ToNodeInfo(entry->name, entry->state));
    }
  }
  std::sort(
      nodes.begin(), nodes.end(),
      [](const NodeInfo& a, const NodeInfo& b) { return a.name < b.name; });
  return nodes;
}

uint64_t NodeRegistry::LastReceivedNs() const {
  uint64_t last_received_ns = 0;
  for (NodeEntry* entry : Entries()) {
    absl::MutexLock lock(&entry->mu);
    last_received_ns =
        std::max(last_received_ns, entry->state.last_seen_unix_nano);
  }
  return last_received_ns;
}

}  // namespace weir::store
