#include "collector/attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"

namespace weir::collector {
namespace {

// tcx attach types (Linux 6.6). Debian 12's linux-libc-dev (6.1) predates
// them; the numbers are UAPI and never change.
constexpr int kBpfTcxIngress = 46;
constexpr int kBpfTcxEgress = 47;

// Our clsact filters: a fixed handle and priority, so a later collector
// finds (and replaces) exactly ours and nobody else's.
constexpr unsigned kClsactHandle = 0x57e1;  // "WEIR", near enough
constexpr unsigned kClsactPriority = 0xc000;

const char* DirectionName(weir::v1::Direction direction) {
  return direction == weir::v1::DIRECTION_INGRESS ? "ingress" : "egress";
}

absl::Status MakeDirs(const std::string& path) {
  std::string prefix;
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    prefix = path.substr(0, pos);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(absl::StrCat("creating ", prefix));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Attachment> Attacher::Attach(int prog_fd,
                                            const std::string& ifname,
                                            weir::v1::Direction direction,
                                            bool force_clsact) {
  Attachment attachment;
  attachment.ifname = ifname;
  attachment.direction = direction;
  attachment.ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (attachment.ifindex == 0) {
    return absl::NotFoundError(
        absl::StrCat("interface ", ifname, ": no such interface"));
  }
  if (!force_clsact) {
    absl::StatusOr<Attachment> tcx = AttachTcx(prog_fd, attachment);
    // EINVAL: the kernel does not know the tcx attach type.
    if (tcx.ok() || tcx.status().code() != absl::StatusCode::kInvalidArgument) {
      return tcx;
    }
  }
  return AttachClsact(prog_fd, attachment);
}

absl::StatusOr<Attachment> Attacher::AttachTcx(int prog_fd,
                                               Attachment attachment) {
  const std::string dir = absl::StrCat(pin_path_, "/links");
  attachment.mode = AttachMode::kTcx;
  attachment.link_pin = absl::StrCat(dir, "/", attachment.ifname, "_",
                                     DirectionName(attachment.direction));
  const std::string what =
      absl::StrCat("attaching to ", attachment.ifname, " ",
                   DirectionName(attachment.direction), " (tcx)");

  // A pinned link from an earlier collector: take it over.
  const int pinned = bpf_obj_get(attachment.link_pin.c_str());
  if (pinned >= 0) {
    const int err = bpf_link_update(pinned, prog_fd, nullptr);
    if (err == 0) {
      attachment.link_fd = pinned;
      attachment.adopted = true;
      return attachment;
    }
    // The pinned link is dead (its interface went away and came back):
    // replace it.
    close(pinned);
    unlink(attachment.link_pin.c_str());
  }

  const int type = attachment.direction == weir::v1::DIRECTION_INGRESS
                       ? kBpfTcxIngress
                       : kBpfTcxEgress;
  const int link = bpf_link_create(prog_fd, attachment.ifindex,
                                   static_cast<bpf_attach_type>(type), nullptr);
  if (link < 0) return LibbpfErrorToStatus(link, what);
  attachment.link_fd = link;
  if (absl::Status status = MakeDirs(dir); !status.ok()) {
    close(link);
    return Annotate(status, what);
  }
  if (const int err = bpf_obj_pin(link, attachment.link_pin.c_str());
      err != 0) {
    close(link);
    return LibbpfErrorToStatus(
        err, absl::StrCat(what, ": pinning the link at ", attachment.link_pin));
  }
  return attachment;
}

absl::StatusOr<Attachment> Attacher::AttachClsact(int prog_fd,
                                                  Attachment attachment) {
  attachment.mode = AttachMode::kClsact;
  attachment.handle = kClsactHandle;
  attachment.priority = kClsactPriority;
  const std::string what =
      absl::StrCat("attaching to ", attachment.ifname, " ",
                   DirectionName(attachment.direction), " (clsact)");

  LIBBPF_OPTS(
      bpf_tc_hook, hook, .ifindex = attachment.ifindex,
      .attach_point = attachment.direction == weir::v1::DIRECTION_INGRESS
                          ? BPF_TC_INGRESS
                          : BPF_TC_EGRESS);
  // Creating the clsact qdisc creates both hooks; EEXIST means someone (we,
  // for the other direction, or another tool) already has one.
  const int created = bpf_tc_hook_create(&hook);
  if (created != 0 && created != -EEXIST) {
    return LibbpfErrorToStatus(created,
                               absl::StrCat(what, ": creating clsact qdisc"));
  }
  attachment.created_qdisc = created == 0;

  LIBBPF_OPTS(bpf_tc_opts, query, .handle = kClsactHandle,
              .priority = kClsactPriority);
  attachment.adopted = bpf_tc_query(&hook, &query) == 0;

  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE,
              .handle = kClsactHandle, .priority = kClsactPriority);
  if (const int err = bpf_tc_attach(&hook, &opts); err != 0) {
    return LibbpfErrorToStatus(err, what);
  }
  return attachment;
}

absl::Status Attacher::Detach(Attachment& attachment) {
  const std::string what =
      absl::StrCat("detaching from ", attachment.ifname, " ",
                   DirectionName(attachment.direction));
  if (attachment.mode == AttachMode::kTcx) {
    if (!attachment.link_pin.empty()) unlink(attachment.link_pin.c_str());
    // The link (and with it the attachment) goes with its last reference.
    if (attachment.link_fd >= 0) {
      const int err = bpf_link_detach(attachment.link_fd);
      close(attachment.link_fd);
      attachment.link_fd = -1;
      // ENOLINK / ENODEV: the interface is already gone.
      if (err != 0 && err != -ENOLINK && err != -ENODEV) {
        return LibbpfErrorToStatus(err, what);
      }
    }
    return absl::OkStatus();
  }
  LIBBPF_OPTS(
      bpf_tc_hook, hook, .ifindex = attachment.ifindex,
      .attach_point = attachment.direction == weir::v1::DIRECTION_INGRESS
                          ? BPF_TC_INGRESS
                          : BPF_TC_EGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = attachment.handle,
              .priority = attachment.priority);
  const int err = bpf_tc_detach(&hook, &opts);
  if (err != 0 && err != -ENOENT && err != -ENODEV) {
    return LibbpfErrorToStatus(err, what);
  }
  return absl::OkStatus();
}

void Attacher::Release(Attachment& attachment) {
  if (attachment.link_fd >= 0) close(attachment.link_fd);
  attachment.link_fd = -1;
}

absl::StatusOr<std::vector<std::string>> InterfacesThatAreUp() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return ErrnoStatus("listing interfaces");
  std::set<std::string> names;
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if ((it->ifa_flags & IFF_UP) && !(it->ifa_flags & IFF_LOOPBACK)) {
      names.insert(it->ifa_name);
    }
  }
  freeifaddrs(list);
  return std::vector<std::string>(names.begin(), names.end());
}

}  // namespace weir::collector
