// The one owner of Weir's BPF object: opens it, configures it, loads it into
// the kernel and completes the flow table the program needs, then hands out
// the file descriptors of its programs and maps. Attaching to interfaces is
// not done here (tcx or clsact attach lives with the collector).
//
//   Skeleton skeleton;
//   absl::Status status = skeleton.Open();
//   if (status.ok()) status = skeleton.Configure(options);  // optional
//   if (status.ok()) status = skeleton.Load();
//   ... skeleton.ingress_program_fd() ...
//
// or Skeleton::OpenAndLoad(options).
//
// Open, Configure and Load must be called in that order, once each; every
// step returns a status saying what failed and why. After a failed step the
// object is of no further use: destroy it. Destroying the skeleton
// unloads what it loaded (programs stay only as long as something, e.g. a
// tcx link, holds them).
#ifndef WEIR_BPF_SKELETON_H_
#define WEIR_BPF_SKELETON_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bpf/weir_flow.h"

struct weir_bpf;

namespace weir::bpf {

// What is decided before load: sizes and the program's rodata.
struct ProgramOptions {
  // Capacity of each of the two flow maps (flows per flush interval). The
  // maps are preallocated: memory is about entries * (48 + 40 * CPUs + ~50)
  // bytes per map.
  uint32_t flow_map_entries = WEIR_DEFAULT_FLOW_ENTRIES;
  // Count GSO/TSO/GRO packets as their wire segments (see bpf/README.md).
  bool gso_accounting = true;
  // A bpffs folder (e.g. /sys/fs/bpf/weir) where the maps are pinned. When
  // it already holds Weir's maps from an earlier load (a collector that
  // stopped with --keep-attached, or crashed), they are reused: counts made
  // meanwhile are kept and the new programs add to the same maps. Empty:
  // nothing is pinned.
  std::string pin_path;
};

class Skeleton {
 public:
  Skeleton() = default;
  ~Skeleton();

  Skeleton(const Skeleton&) = delete;
  Skeleton& operator=(const Skeleton&) = delete;

  // Open, Configure(options) and Load in one go.
  static absl::StatusOr<std::unique_ptr<Skeleton>> OpenAndLoad(
      const ProgramOptions& options);

  // Parses the embedded object. No kernel objects exist yet.
  absl::Status Open();
  // Sets map sizes and rodata. Only between Open and Load; without it the
  // defaults of ProgramOptions apply.
  absl::Status Configure(const ProgramOptions& options);
  // Creates the maps, loads and verifies the programs, then creates the
  // second flow map and installs it in slot 1 of the flow map-in-map.
  absl::Status Load();

  bool loaded() const { return loaded_; }
  // True when Load reused maps pinned by an earlier load.
  bool adopted() const { return adopted_; }

  // Removes the pins (the maps live on while something holds them).
  absl::Status Unpin();

  // Valid after Load; -1 before. The skeleton keeps ownership.
  int ingress_program_fd() const;
  int egress_program_fd() const;
  // weir_flow_slots: ARRAY_OF_MAPS, WEIR_FLOW_SLOTS entries.
  int flow_slots_fd() const;
  // The flow map (PERCPU_HASH) in `slot` (0 or 1); -1 for other slots.
  int flow_map_fd(uint32_t slot) const;
  // weir_active_slot: ARRAY, 1 entry, the slot packets go to.
  int active_slot_fd() const;
  // weir_counters: PERCPU_ARRAY indexed by enum weir_counter_index.
  int counters_fd() const;

  const ProgramOptions& options() const { return options_; }

  // The libbpf skeleton, for what this class does not wrap (e.g. attach).
  struct weir_bpf* raw() const {
    return skel_;
  }

 private:
  // Creates the second flow map like the first and puts it in slot 1.
  absl::Status InstallSecondFlowMap();
  // Before load: reuse the pinned maps if all are there (else clear
  // partial leftovers). After load: pin what is not pinned yet.
  absl::Status ReusePinnedMaps();
  absl::Status PinMaps();
  std::string PinOf(const char* map_name) const;

  struct weir_bpf* skel_ = nullptr;
  int flow_map_1_fd_ = -1;  // owned
  ProgramOptions options_;
  bool loaded_ = false;
  bool adopted_ = false;
};

}  // namespace weir::bpf

#endif  // WEIR_BPF_SKELETON_H_
