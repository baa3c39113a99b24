// The collectors the store knows: one entry per node, with its stored state
// (high-water, counters), its share of the rollup buffer and the lock that
// serializes its writers; and the node names by id that scans use.

#ifndef WEIR_QUERYD_STORE_NODE_REGISTRY_H_
#define WEIR_QUERYD_STORE_NODE_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "queryd/store/rocks_db.h"
#include "queryd/store/rollup_buffer.h"
#include "queryd/store/store_types.h"
#include "queryd/store/value_codec.h"

namespace weir::store {

// One collector. Entries are never removed, so pointers to them stay valid
// for the registry's life.
struct NodeEntry {
  NodeEntry(std::string name, uint32_t id) : name(std::move(name)), id(id) {}
  const std::string name;
  const uint32_t id;
  // Serializes the writers of this node: the admission check (Admit) and
  // the write of the new high-water are one step.
  absl::Mutex mu;
  // What is on disk for this node (after the last successful write).
  NodeState state ABSL_GUARDED_BY(mu);
  // False until the node's first batch is on disk.
  bool persisted ABSL_GUARDED_BY(mu) = false;
  // The node's share of the rollup buffer: one per node, so writers of
  // different nodes never wait for each other to add to it.
  RollupBuffer buffer ABSL_GUARDED_BY(mu);
};

// Node names by node id; [0] unused.
using NodeNames = std::vector<std::string>;

class NodeRegistry {
 public:
  NodeRegistry();

  // Loads the stored state of every node (the nodes family). DATA_LOSS for
  // a corrupt record or two nodes with one id.
  absl::Status Load(const RocksDb& db);

  // The node's entry, added with the next id when it is new. Ids are dense
  // from 1 and taken before the node's first write; if that write fails
  // the entry (not persisted) keeps it for the next attempt.
  NodeEntry* FindOrAdd(const std::string& name);

  // Names by id, replaced (copy on write) when a node is added: a node is
  // named here before anything of it is written.
  std::shared_ptr<const NodeNames> names() const;

  // Every entry, in no order. Callers lock each entry on its own.
  std::vector<NodeEntry*> Entries() const;

  // Every node that has a stored batch, by name.
  std::vector<NodeInfo> Nodes() const;

  // The latest last_seen (ns) of any node: when the last batch was stored.
  uint64_t LastReceivedNs() const;

 private:
  // Taken before an entry's mutex, never while holding one.
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<NodeEntry>> nodes_
      ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const NodeNames> names_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_NODE_REGISTRY_H_
