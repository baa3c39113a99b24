#include "queryd/store/store_test_util.h"

#include <cstdlib>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"

namespace weir::store {

std::string ScratchDir(absl::string_view name) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(root != nullptr ? root : "/tmp", "/", name);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  std::filesystem::create_directories(dir, ignored);
  return dir;
}

weir::v1::FlowBatch MakeBatch(const BatchSpec& spec) {
  std::mt19937_64 random(spec.seed);
  auto below = [&](uint64_t n) { return random() % n; };

  weir::v1::FlowBatch batch;
  batch.set_node(spec.node);
  batch.set_epoch(spec.epoch);
  batch.set_seq(spec.seq);
  batch.set_interval_start_unix_nano(spec.interval_start_unix_nano);
  batch.set_interval_end_unix_nano(spec.interval_start_unix_nano +
                                   kNanosPerSecondForTests);
  batch.set_collector_version("test-1.0");
  weir::v1::Interface* eth0 = batch.add_interfaces();
  eth0->set_ifindex(2);
  eth0->set_name("eth0");
  weir::v1::Interface* veth = batch.add_interfaces();
  veth->set_ifindex(7);
  veth->set_name("veth1a2b");

  uint64_t packets = 0;
  uint64_t bytes = 0;
  for (int i = 0; i < spec.flows; ++i) {
    weir::v1::IngestFlow* flow = batch.add_flows();
    flow->set_ifindex(below(2) == 0 ? 2 : 7);
    flow->set_direction(below(2) == 0 ? weir::v1::DIRECTION_INGRESS
                                      : weir::v1::DIRECTION_EGRESS);
    const bool v6 = below(4) == 0;
    const uint64_t src = below(spec.address_pool);
    const uint64_t dst = below(spec.address_pool);
    if (v6) {
      std::string s(16, '\0'), d(16, '\0');
      s[0] = d[0] = 0x20;
      s[1] = d[1] = 0x01;
      s[2] = d[2] = 0x0d;
      s[3] = d[3] = static_cast<char>(0xb8);
      s[15] = static_cast<char>(src + 1);
      d[15] = static_cast<char>(dst + 100);
      flow->set_src_addr(s);
      flow->set_dst_addr(d);
    } else {
      flow->set_src_addr(std::string("\xc0\x00\x02", 3) +
                         static_cast<char>(src + 1));
      flow->set_dst_addr(std::string("\xc6\x33\x64", 3) +
                         static_cast<char>(dst + 1));
    }
    switch (below(3)) {
      case 0:
        flow->set_protocol(6);
        flow->set_src_port(32768 + below(1000));
        flow->set_dst_port(below(2) == 0 ? 443 : 80);
        flow->set_tcp_flags(0x18);
        break;
      case 1:
        flow->set_protocol(17);
        flow->set_src_port(40000 + below(1000));
        flow->set_dst_port(53);
        break;
      default:
        flow->set_protocol(v6 ? 58 : 1);
        flow->set_icmp_type(8);
        break;
    }
    flow->set_packets(1 + below(100));
    flow->set_bytes(flow->packets() * (64 + below(1400)));
    const uint64_t first =
        spec.interval_start_unix_nano + below(kNanosPerSecondForTests / 2);
    flow->set_first_seen_unix_nano(first);
    flow->set_last_seen_unix_nano(first + below(kNanosPerSecondForTests / 2));
    packets += flow->packets();
    bytes += flow->bytes();
  }

  weir::v1::Counters* counters = batch.mutable_counters();
  counters->set_packets_exported(packets);
  counters->set_bytes_exported(bytes);
  uint64_t lost_packets = 0;
  uint64_t lost_bytes = 0;
  const auto add_loss = [&](weir::v1::LossReason reason, uint64_t packets,
                            uint64_t bytes_per_packet) {
    if (packets == 0) return;
    weir::v1::LossCount* loss = counters->add_losses();
    loss->set_reason(reason);
    loss->set_packets(packets);
    loss->set_bytes(packets * bytes_per_packet);
    lost_packets += loss->packets();
    lost_bytes += loss->bytes();
  };
  add_loss(weir::v1::LOSS_REASON_MAP_FULL, spec.map_full_packets, 100);
  add_loss(weir::v1::LOSS_REASON_NON_IP, spec.non_ip_packets, 60);
  counters->set_packets_seen(packets + lost_packets);
  counters->set_bytes_seen(bytes + lost_bytes);
  return batch;
}

}  // namespace weir::store
