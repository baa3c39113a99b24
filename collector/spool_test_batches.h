// Batches with known accounting for the spool's tests and its crash child,
// and the seqs of a list of batches, for the tests of what keeps or ships them.
#ifndef WEIR_COLLECTOR_SPOOL_TEST_BATCHES_H_
#define WEIR_COLLECTOR_SPOOL_TEST_BATCHES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "weir/v1/ingest.pb.h"

namespace weir::collector::testing {

// Batch (epoch, seq) of node "spool-test": `flows` flows of seq packets and
// seq * 100 bytes each, and seq packets (seq * 60 bytes) lost as non-IP, so
// seen = exported + lost.
inline weir::v1::FlowBatch TestBatch(uint64_t epoch, uint64_t seq,
                                     int flows = 3) {
  weir::v1::FlowBatch batch;
  batch.set_node("spool-test");
  batch.set_epoch(epoch);
  batch.set_seq(seq);
  batch.set_interval_start_unix_nano(seq * 1000000000ull);
  batch.set_interval_end_unix_nano((seq + 1) * 1000000000ull);
  uint64_t packets = 0;
  uint64_t bytes = 0;
  for (int i = 0; i < flows; ++i) {
    weir::v1::IngestFlow* flow = batch.add_flows();
    flow->set_ifindex(2);
    flow->set_direction(weir::v1::DIRECTION_INGRESS);
    flow->set_protocol(17);
    flow->set_src_addr(std::string("\xc0\x00\x02\x01", 4));  // 192.0.2.1
    flow->set_dst_addr(std::string("\xc6\x33\x64\x02", 4));  // 198.51.100.2
    flow->set_src_port(40000 + i);
    flow->set_dst_port(53);
    flow->set_packets(seq);
    flow->set_bytes(seq * 100);
    packets += seq;
    bytes += seq * 100;
  }
  weir::v1::Counters* counters = batch.mutable_counters();
  counters->set_packets_exported(packets);
  counters->set_bytes_exported(bytes);
  weir::v1::LossCount* loss = counters->add_losses();
  loss->set_reason(weir::v1::LOSS_REASON_NON_IP);
  loss->set_packets(seq);
  loss->set_bytes(seq * 60);
  counters->set_packets_seen(packets + seq);
  counters->set_bytes_seen(bytes + seq * 60);
  return batch;
}

// The seq of each batch, in order.
inline std::vector<uint64_t> Seqs(
    const std::vector<weir::v1::FlowBatch>& batches) {
  std::vector<uint64_t> seqs;
  seqs.reserve(batches.size());
  for (const auto& batch : batches) seqs.push_back(batch.seq());
  return seqs;
}

}  // namespace weir::collector::testing

#endif  // WEIR_COLLECTOR_SPOOL_TEST_BATCHES_H_
