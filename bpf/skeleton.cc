#include "bpf/skeleton.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "bpf/weir.skel.h"
#include "common/status_macros.h"
#include "common/status_util.h"

namespace weir::bpf {

Skeleton::~Skeleton() {
  if (flow_map_1_fd_ >= 0) close(flow_map_1_fd_);
  weir_bpf__destroy(skel_);  // accepts nullptr
}

absl::StatusOr<std::unique_ptr<Skeleton>> Skeleton::OpenAndLoad(
    const ProgramOptions& options) {
  auto skeleton = std::make_unique<Skeleton>();
  WEIR_RETURN_IF_ERROR(skeleton->Open());
  WEIR_RETURN_IF_ERROR(skeleton->Configure(options));
  WEIR_RETURN_IF_ERROR(skeleton->Load());
  return skeleton;
}

absl::Status Skeleton::Open() {
  if (skel_ != nullptr)
    return absl::FailedPreconditionError("weir BPF object: already open");
  skel_ = weir_bpf__open();
  if (skel_ == nullptr)
    return LibbpfFailure(errno, "weir BPF object: open (parse embedded ELF)");
  return absl::OkStatus();
}

absl::Status Skeleton::Configure(const ProgramOptions& options) {
  if (skel_ == nullptr || loaded_) {
    return absl::FailedPreconditionError(
        "weir BPF object: Configure needs Open and no Load yet");
  }
  if (options.flow_map_entries == 0) {
    return absl::InvalidArgumentError("flow_map_entries: must be at least 1");
  }
  // Slot 0's map; slot 1's is created from its info after load. The outer
  // map's inner-map template keeps the compiled-in size: the kernel does not
  // compare max_entries of hash maps put into a map-in-map (and libbpf 1.1
  // crashes setting it on the template, which has no object).
  if (int err = bpf_map__set_max_entries(skel_->maps.weir_flows_0,
                                         options.flow_map_entries);
      err != 0) {
    return LibbpfFailure(err, absl::StrCat("weir_flows_0: set max_entries to ",
                                           options.flow_map_entries));
  }
  skel_->rodata->weir_gso_accounting = options.gso_accounting ? 1 : 0;
  options_ = options;
  return absl::OkStatus();
}

absl::Status Skeleton::Load() {
  if (skel_ == nullptr || loaded_) {
    return absl::FailedPreconditionError(
        "weir BPF object: Load needs Open and no Load yet");
  }
  if (!options_.pin_path.empty()) {
    WEIR_RETURN_IF_ERROR(ReusePinnedMaps());
  }
  if (int err = weir_bpf__load(skel_); err != 0) {
    if (adopted_) {
      return LibbpfFailure(
          err, absl::StrCat("weir BPF object: load with the maps pinned in ",
                            options_.pin_path,
                            " (left by a different Weir version or map size?"
                            " remove them to start afresh)"));
    }
    return LibbpfFailure(
        err,
        "weir BPF object: load (create maps, verify programs; "
        "needs CAP_BPF and CAP_PERFMON or root, details in libbpf's log)");
  }
  loaded_ = true;
  if (adopted_) {
    // The outer map already holds both flow maps; take slot 1's from its pin.
    flow_map_1_fd_ = bpf_obj_get(PinOf("weir_flows_1").c_str());
    if (flow_map_1_fd_ < 0) {
      return LibbpfFailure(flow_map_1_fd_, "weir_flows_1: open pin");
    }
  } else if (absl::Status s = InstallSecondFlowMap(); !s.ok()) {
    return s;
  }
  return options_.pin_path.empty() ? absl::OkStatus() : PinMaps();
}

std::string Skeleton::PinOf(const char* map_name) const {
  return absl::StrCat(options_.pin_path, "/", map_name);
}

namespace {

// The maps a pin folder holds, in the object's order; weir_flows_1 is ours.
constexpr const char* kPinnedMaps[] = {"weir_flow_slots", "weir_active_slot",
                                       "weir_counters", "weir_flows_0",
                                       "weir_flows_1"};

}  // namespace

absl::Status Skeleton::ReusePinnedMaps() {
  struct bpf_map* const maps[] = {
      skel_->maps.weir_flow_slots, skel_->maps.weir_active_slot,
      skel_->maps.weir_counters, skel_->maps.weir_flows_0};
  int present = 0;
  for (const char* name : kPinnedMaps) {
    if (access(PinOf(name).c_str(), F_OK) == 0) ++present;
  }
  if (present == 0) return absl::OkStatus();
  if (present != static_cast<int>(std::size(kPinnedMaps))) {
    // Leftovers of an interrupted start: they hold no counts worth keeping
    // (a set is only ever complete), so start afresh.
    return Unpin();
  }
  for (size_t i = 0; i < std::size(maps); ++i) {
    const int fd = bpf_obj_get(PinOf(kPinnedMaps[i]).c_str());
    if (fd >= 0 && maps[i] == skel_->maps.weir_flows_0) {
      // libbpf would silently take the pinned map's size: say so instead.
      struct bpf_map_info info = {};
      __u32 len = sizeof(info);
      if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
          info.max_entries != options_.flow_map_entries) {
        close(fd);
        return absl::FailedPreconditionError(absl::StrCat(
            "the maps pinned in ", options_.pin_path, " hold ",
            info.max_entries, " flows per interval, not the ",
            options_.flow_map_entries,
            " asked for: stop the running collector without "
            "--keep-attached, or remove them, to change the size"));
      }
    }
    if (fd < 0) {
      return LibbpfFailure(
          fd, absl::StrCat("open pinned map ", PinOf(kPinnedMaps[i])));
    }
    const int err = bpf_map__reuse_fd(maps[i], fd);
    close(fd);  // reuse_fd keeps its own duplicate
    if (err != 0) {
      return LibbpfFailure(
          err, absl::StrCat("reuse pinned map ", PinOf(kPinnedMaps[i])));
    }
  }
  adopted_ = true;
  return absl::OkStatus();
}

absl::Status Skeleton::PinMaps() {
  bool made_folder = false;
  if (mkdir(options_.pin_path.c_str(), 0700) == 0) {
    made_folder = true;
  } else if (errno != EEXIST) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("create ", options_.pin_path,
                                            " (is /sys/fs/bpf a bpffs?)"));
  }
  // A pin that fails leaves the folder as it was: the pins made here go
  // (each is a whole map that a later start would find half a set of).
  std::vector<std::string> made;
  absl::Cleanup undo = [&] {
    for (const std::string& path : made) unlink(path.c_str());
    if (made_folder) rmdir(options_.pin_path.c_str());
  };
  const int fds[] = {flow_slots_fd(), active_slot_fd(), counters_fd(),
                     flow_map_fd(0), flow_map_fd(1)};
  for (size_t i = 0; i < std::size(kPinnedMaps); ++i) {
    const std::string path = PinOf(kPinnedMaps[i]);
    if (access(path.c_str(), F_OK) == 0) continue;  // adopted
    if (int err = bpf_obj_pin(fds[i], path.c_str()); err != 0) {
      return LibbpfFailure(err, absl::StrCat("pin map at ", path));
    }
    made.push_back(path);
  }
  std::move(undo).Cancel();
  return absl::OkStatus();
}

absl::Status Skeleton::Unpin() {
  if (options_.pin_path.empty()) return absl::OkStatus();
  for (const char* name : kPinnedMaps) {
    const std::string path = PinOf(name);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return absl::ErrnoToStatus(errno, absl::StrCat("unpin ", path));
    }
  }
  return absl::OkStatus();
}

absl::Status Skeleton::InstallSecondFlowMap() {
  const int first_fd = bpf_map__fd(skel_->maps.weir_flows_0);
  struct bpf_map_info info = {};
  __u32 info_len = sizeof(info);
  if (int err = bpf_obj_get_info_by_fd(first_fd, &info, &info_len); err != 0) {
    return LibbpfFailure(err, "weir_flows_0: get map info");
  }
  // The object's own BTF, so tools can show keys and values; it comes from
  // the object rather than by id, which would need CAP_SYS_ADMIN.
  struct bpf_map_create_opts create_opts = {};
  create_opts.sz = sizeof(create_opts);
  create_opts.map_flags = info.map_flags;
  if (const struct btf* btf = bpf_object__btf(skel_->obj);
      btf != nullptr && info.btf_key_type_id != 0) {
    create_opts.btf_fd = btf__fd(btf);
    create_opts.btf_key_type_id = info.btf_key_type_id;
    create_opts.btf_value_type_id = info.btf_value_type_id;
  }
  int fd = bpf_map_create(static_cast<enum bpf_map_type>(info.type),
                          "weir_flows_1", info.key_size, info.value_size,
                          info.max_entries, &create_opts);
  if (fd < 0) {
    return LibbpfFailure(fd, absl::StrCat("weir_flows_1: create (",
                                          info.max_entries, " entries)"));
  }
  flow_map_1_fd_ = fd;
  const __u32 slot = 1;
  if (int err =
          bpf_map_update_elem(flow_slots_fd(), &slot, &flow_map_1_fd_, BPF_ANY);
      err != 0) {
    return LibbpfFailure(err,
                         "weir_flow_slots: install weir_flows_1 in slot 1");
  }
  return absl::OkStatus();
}

int Skeleton::ingress_program_fd() const {
  return loaded_ ? bpf_program__fd(skel_->progs.weir_ingress) : -1;
}

int Skeleton::egress_program_fd() const {
  return loaded_ ? bpf_program__fd(skel_->progs.weir_egress) : -1;
}

int Skeleton::flow_slots_fd() const {
  return loaded_ ? bpf_map__fd(skel_->maps.weir_flow_slots) : -1;
}

int Skeleton::flow_map_fd(uint32_t slot) const {
  if (!loaded_) return -1;
  switch (slot) {
    case 0:
      return bpf_map__fd(skel_->maps.weir_flows_0);
    case 1:
      return flow_map_1_fd_;
    default:
      return -1;
  }
}

int Skeleton::active_slot_fd() const {
  return loaded_ ? bpf_map__fd(skel_->maps.weir_active_slot) : -1;
}

int Skeleton::counters_fd() const {
  return loaded_ ? bpf_map__fd(skel_->maps.weir_counters) : -1;
}

}  // namespace weir::bpf
